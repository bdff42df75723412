#include "sim/signature_check.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace utpost::sim {
namespace {

std::string BodyDigest(absl::string_view body) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), md);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(md), sizeof(md)));
}

// The server's reading of the canonical string: gather the signed headers
// that are present, sort them by name, then frame them.
std::string Canonical(const SignedRequest& r) {
  absl::string_view target(r.target.data(), r.target.size());
  size_t question = target.find('?');
  absl::string_view path = target.substr(0, question);
  absl::string_view query = question == absl::string_view::npos
                                ? absl::string_view()
                                : target.substr(question + 1);
  std::vector<std::pair<std::string, std::string>> signed_headers;
  auto add = [&](std::string name, const std::optional<std::string>& value) {
    if (value.has_value()) signed_headers.emplace_back(std::move(name), *value);
  };
  add("x-digipost-userid", r.user_id);
  add("x-content-sha256", r.content_sha256);
  add("date", r.date);
  add("content-md5", r.content_md5);
  std::sort(signed_headers.begin(), signed_headers.end());
  std::string out;
  out += std::string(r.method);
  out += '\n';
  out += absl::AsciiStrToLower(path);
  out += '\n';
  for (const auto& [name, value] : signed_headers) {
    out += name + ": " + value + "\n";
  }
  out += absl::AsciiStrToLower(query);
  out += '\n';
  return out;
}

}  // namespace

std::optional<int64_t> ParseHttpDate(std::string_view date_in) {
  absl::string_view date(date_in.data(), date_in.size());
  static constexpr absl::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                                  "May", "Jun", "Jul", "Aug",
                                                  "Sep", "Oct", "Nov", "Dec"};
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  std::vector<absl::string_view> words =
      absl::StrSplit(date, ' ', absl::SkipEmpty());
  if (words.size() != 6 || words[5] != "GMT" || words[0].size() != 4 ||
      words[0].back() != ',') {
    return std::nullopt;
  }
  int day, year, hour, minute, second;
  std::vector<absl::string_view> clock = absl::StrSplit(words[4], ':');
  if (!absl::SimpleAtoi(words[1], &day) || !absl::SimpleAtoi(words[3], &year) ||
      clock.size() != 3 || !absl::SimpleAtoi(clock[0], &hour) ||
      !absl::SimpleAtoi(clock[1], &minute) ||
      !absl::SimpleAtoi(clock[2], &second)) {
    return std::nullopt;
  }
  auto month = std::find(std::begin(kMonths), std::end(kMonths), words[2]);
  if (month == std::end(kMonths)) return std::nullopt;
  absl::CivilSecond civil(year, month - std::begin(kMonths) + 1, day, hour,
                          minute, second);
  // CivilSecond normalises 31 Feb into March; a date that moved was wrong.
  if (civil.day() != day || civil.hour() != hour || civil.second() != second) {
    return std::nullopt;
  }
  return absl::ToUnixMillis(absl::FromCivil(civil, absl::UTCTimeZone()));
}

absl::StatusOr<std::unique_ptr<SignatureChecker>>
SignatureChecker::FromCertFile(const std::string& cert_file) {
  std::FILE* file = std::fopen(cert_file.c_str(), "rb");
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("sender certificate: cannot read \"", cert_file, "\""));
  }
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sender certificate: \"", cert_file, "\" holds no PEM certificate"));
  }
  EVP_PKEY* key = X509_get_pubkey(cert);  // A new reference.
  X509_free(cert);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sender certificate: \"", cert_file, "\" has no usable public key"));
  }
  return std::unique_ptr<SignatureChecker>(new SignatureChecker(key));
}

SignatureChecker::~SignatureChecker() { EVP_PKEY_free(key_); }

absl::Status SignatureChecker::Check(const SignedRequest& request,
                                     int64_t now_millis,
                                     int64_t max_skew_ms) const {
  if (!request.user_id.has_value() || request.user_id->empty()) {
    return absl::PermissionDeniedError("X-Digipost-UserId is missing");
  }
  if (!request.date.has_value()) {
    return absl::PermissionDeniedError("Date is missing");
  }
  std::optional<int64_t> date = ParseHttpDate(*request.date);
  if (!date.has_value()) {
    return absl::PermissionDeniedError(
        absl::StrCat("Date is not an RFC 1123 GMT date: ", *request.date));
  }
  if (std::llabs(*date - now_millis) > max_skew_ms) {
    return absl::PermissionDeniedError(
        absl::StrCat("Date is more than ", max_skew_ms / 1000,
                     " s off the server's clock: ", *request.date));
  }
  if (request.body.empty()) {
    if (request.content_sha256.has_value()) {
      return absl::PermissionDeniedError(
          "X-Content-SHA256 is present without a body");
    }
  } else if (!request.content_sha256.has_value()) {
    return absl::PermissionDeniedError("X-Content-SHA256 is missing");
  } else if (*request.content_sha256 !=
             BodyDigest({request.body.data(), request.body.size()})) {
    return absl::PermissionDeniedError(
        "X-Content-SHA256 does not match the body");
  }
  if (!request.signature.has_value()) {
    return absl::PermissionDeniedError("X-Digipost-Signature is missing");
  }
  std::string signature;
  if (!absl::Base64Unescape(*request.signature, &signature)) {
    return absl::PermissionDeniedError("X-Digipost-Signature is not base64");
  }
  std::string canonical = Canonical(request);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool valid =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
      EVP_DigestVerify(ctx,
                       reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(),
                       reinterpret_cast<const unsigned char*>(canonical.data()),
                       canonical.size()) == 1;
  EVP_MD_CTX_free(ctx);
  // A failed verification leaves errors on this thread's OpenSSL queue,
  // where the next TLS read on the same thread would find them.
  ERR_clear_error();
  if (!valid) {
    return absl::PermissionDeniedError(
        "X-Digipost-Signature does not verify with the sender certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ResponseSigner>> ResponseSigner::FromFiles(
    const std::string& cert_file, const std::string& key_file) {
  std::ifstream cert_in(cert_file, std::ios::binary);
  std::stringstream cert_text;
  cert_text << cert_in.rdbuf();
  if (!cert_in || cert_text.str().find("-----BEGIN CERTIFICATE-----") ==
                      std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "digipost certificate: \"", cert_file, "\" holds no PEM certificate"));
  }
  std::FILE* file = std::fopen(key_file.c_str(), "rb");
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("digipost key: cannot read \"", key_file, "\""));
  }
  EVP_PKEY* key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (key == nullptr || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError(absl::StrCat(
        "digipost key: \"", key_file, "\" holds no RSA private key"));
  }
  return std::unique_ptr<ResponseSigner>(
      new ResponseSigner(key, cert_text.str()));
}

ResponseSigner::~ResponseSigner() { EVP_PKEY_free(key_); }

std::string ResponseSigner::Canonical(int status, std::string_view path,
                                      const ResponseSignature& headers) {
  std::vector<std::pair<std::string, std::string>> signed_headers;
  signed_headers.emplace_back("date", headers.date);
  if (!headers.content_sha256.empty()) {
    signed_headers.emplace_back("x-content-sha256", headers.content_sha256);
  }
  std::sort(signed_headers.begin(), signed_headers.end());
  std::string out = std::to_string(status);
  out += '\n';
  out += absl::AsciiStrToLower(absl::string_view(path.data(), path.size()));
  out += '\n';
  for (const auto& [name, value] : signed_headers) {
    out += name + ": " + value + "\n";
  }
  return out;
}

ResponseSignature ResponseSigner::Sign(int status, std::string_view path,
                                       std::string_view body,
                                       int64_t now_millis) const {
  ResponseSignature out;
  out.date =
      absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT",
                       absl::FromUnixMillis(now_millis), absl::UTCTimeZone());
  if (!body.empty()) {
    out.content_sha256 =
        BodyDigest(absl::string_view(body.data(), body.size()));
  }
  const std::string text = Canonical(status, path, out);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = static_cast<size_t>(EVP_PKEY_get_size(key_));
  std::string signature(length, '\0');
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_) != 1 ||
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()),
                     &length,
                     reinterpret_cast<const unsigned char*>(text.data()),
                     text.size()) != 1) {
    length = 0;  // An unsigned answer: the client must refuse it.
  }
  EVP_MD_CTX_free(ctx);
  signature.resize(length);
  out.signature = length == 0 ? "" : absl::Base64Escape(signature);
  return out;
}

}  // namespace utpost::sim
