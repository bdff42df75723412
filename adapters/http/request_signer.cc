#include "adapters/http/request_signer.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "adapters/http/digest.h"
#include "common/status_macros.h"

namespace utpost::adapters {
namespace {

// Already in sorted order; the canonical string depends on it.
constexpr std::array<const char*, 4> kSignedHeaders = {
    "content-md5", "date", "x-content-sha256", "x-digipost-userid"};

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  ERR_clear_error();
  return buffer;
}

}  // namespace

std::string CanonicalRequestString(std::string_view method,
                                   std::string_view path,
                                   const HttpHeaders& headers,
                                   std::string_view query) {
  std::string out = absl::StrCat(
      absl::string_view(method.data(), method.size()), "\n",
      absl::AsciiStrToLower(absl::string_view(path.data(), path.size())), "\n");
  for (const char* name : kSignedHeaders) {
    if (std::optional<std::string> value = FindHeader(headers, name)) {
      absl::StrAppend(&out, name, ": ", *value, "\n");
    }
  }
  absl::StrAppend(
      &out,
      absl::AsciiStrToLower(absl::string_view(query.data(), query.size())),
      "\n");
  return out;
}

std::string FormatHttpDate(int64_t unix_millis) {
  static constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu",
                                          "Fri", "Sat", "Sun"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};
  // Names spelt out here, not through strftime, so that the process locale
  // cannot change them.
  absl::CivilSecond t = absl::ToCivilSecond(absl::FromUnixMillis(unix_millis),
                                            absl::UTCTimeZone());
  int weekday = static_cast<int>(absl::GetWeekday(t));  // Monday is 0.
  return absl::StrFormat("%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[weekday],
                         t.day(), kMonths[t.month() - 1], t.year(), t.hour(),
                         t.minute(), t.second());
}

absl::Status SplitUrl(std::string_view url, std::string* path,
                      std::string* query) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an absolute URL: \"", std::string(url), "\""));
  }
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('#'));
  size_t path_start = rest.find_first_of("/?");
  std::string_view target =
      path_start == std::string_view::npos ? "" : rest.substr(path_start);
  size_t question = target.find('?');
  std::string_view p = target.substr(0, question);
  *path = p.empty() ? "/" : std::string(p);
  *query = question == std::string_view::npos
               ? ""
               : std::string(target.substr(question + 1));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RequestSigner>> RequestSigner::FromKeyFile(
    const std::string& key_file, std::string user_id, const Clock* clock) {
  std::FILE* file = std::fopen(key_file.c_str(), "rb");
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("signing_key_file: cannot read \"", key_file, "\""));
  }
  EVP_PKEY* key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("signing_key_file: \"", key_file,
                     "\" holds no unencrypted private key: ", OpenSslError()));
  }
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError(
        absl::StrCat("signing_key_file: \"", key_file, "\" is not an RSA key"));
  }
  if (user_id.empty()) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError("sender_id: must be set");
  }
  return std::unique_ptr<RequestSigner>(
      new RequestSigner(key, std::move(user_id), clock));
}

RequestSigner::RequestSigner(evp_pkey_st* key, std::string user_id,
                             const Clock* clock)
    : key_(key), user_id_(std::move(user_id)), clock_(clock) {}

RequestSigner::~RequestSigner() { EVP_PKEY_free(key_); }

absl::Status RequestSigner::Sign(HttpRequest* request) const {
  std::string path;
  std::string query;
  RETURN_IF_ERROR(SplitUrl(request->url, &path, &query));
  SetHeader(&request->headers, "X-Digipost-UserId", user_id_);
  SetHeader(&request->headers, "Date", FormatHttpDate(clock_->NowMillis()));
  if (request->body.empty()) {
    // The digest header is absent without a body, not the hash of "".
    HttpHeaders& h = request->headers;
    h.erase(std::remove_if(h.begin(), h.end(),
                           [](const auto& header) {
                             return absl::EqualsIgnoreCase(header.first,
                                                           "X-Content-SHA256");
                           }),
            h.end());
  } else {
    SetHeader(&request->headers, "X-Content-SHA256",
              absl::Base64Escape(Sha256(request->body)));
  }
  std::string canonical =
      CanonicalRequestString(request->method, path, request->headers, query);

  // A context per call: EVP_PKEY may be shared between threads, a
  // digest context may not.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              &EVP_MD_CTX_free);
  size_t length = static_cast<size_t>(EVP_PKEY_get_size(key_));
  std::string signature(length, '\0');
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_) !=
          1 ||
      EVP_DigestSign(
          ctx.get(), reinterpret_cast<unsigned char*>(signature.data()),
          &length, reinterpret_cast<const unsigned char*>(canonical.data()),
          canonical.size()) != 1) {
    return absl::InternalError(absl::StrCat("signing: ", OpenSslError()));
  }
  signature.resize(length);
  SetHeader(&request->headers, "X-Digipost-Signature",
            absl::Base64Escape(signature));
  return absl::OkStatus();
}

}  // namespace utpost::adapters
