#include "gateway/receipts/jws_verify.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <ctime>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "gateway/receipts/openssl_util.h"

namespace utpost::receipts {
namespace {

using internal::EvpMdCtxPtr;
using internal::TakeOpenSslErrors;
using internal::X509Ptr;
using internal::X509StoreCtxPtr;
using internal::X509StorePtr;

struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};

// Decodes base64url and insists on the one canonical spelling (no padding,
// no whitespace, zero trailing bits), so that a JWS has exactly one textual
// form and its SHA-256 identifies it.
absl::StatusOr<std::string> DecodePart(absl::string_view part,
                                       absl::string_view what) {
  std::string out;
  if (!absl::WebSafeBase64Unescape(part, &out) ||
      absl::WebSafeBase64Escape(out) != part) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipt JWS: ", what, " is not canonical base64url"));
  }
  return out;
}

absl::StatusOr<nlohmann::json> ParseObject(const std::string& text,
                                           absl::string_view what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipt JWS: ", what, " is not a JSON object"));
  }
  return j;
}

absl::StatusOr<std::vector<X509Ptr>> ParseX5c(const nlohmann::json& header) {
  auto it = header.find("x5c");
  if (it == header.end() || !it->is_array() || it->empty()) {
    return absl::InvalidArgumentError(
        "receipt JWS: header has no x5c certificate chain");
  }
  std::vector<X509Ptr> chain;
  for (const nlohmann::json& entry : *it) {
    std::string der;
    if (!entry.is_string() ||
        !absl::Base64Unescape(entry.get<std::string>(), &der)) {
      return absl::InvalidArgumentError(
          "receipt JWS: x5c entry is not base64 text");
    }
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (cert == nullptr ||
        p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
      TakeOpenSslErrors();
      return absl::InvalidArgumentError(
          "receipt JWS: x5c entry is not a DER certificate");
    }
    chain.push_back(std::move(cert));
  }
  return chain;
}

absl::Status VerifySignature(EVP_PKEY* key, std::string_view signing_input,
                             std::string_view raw_signature) {
  ASSIGN_OR_RETURN(std::string der, internal::RawSignatureToDer(raw_signature));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(),
                                             nullptr, key) != 1) {
    return absl::InternalError(
        absl::StrCat("ES256 verify init: ", TakeOpenSslErrors()));
  }
  int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(der.data()), der.size(),
      reinterpret_cast<const unsigned char*>(signing_input.data()),
      signing_input.size());
  TakeOpenSslErrors();
  if (rc != 1) {
    return absl::UnauthenticatedError("receipt JWS: signature does not verify");
  }
  return absl::OkStatus();
}

class Verifier final : public ReceiptJwsVerifier {
 public:
  explicit Verifier(X509StorePtr store) : store_(std::move(store)) {}

  absl::StatusOr<nlohmann::json> Verify(std::string_view jws) const override {
    // Debian's abseil has its own string_view type.
    const absl::string_view text(jws.data(), jws.size());
    std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
    if (parts.size() != 3) {
      return absl::InvalidArgumentError(
          "receipt JWS: not compact serialisation (want three parts)");
    }
    ASSIGN_OR_RETURN(std::string header_text, DecodePart(parts[0], "header"));
    ASSIGN_OR_RETURN(std::string payload_text, DecodePart(parts[1], "payload"));
    ASSIGN_OR_RETURN(std::string signature, DecodePart(parts[2], "signature"));
    ASSIGN_OR_RETURN(nlohmann::json header, ParseObject(header_text, "header"));
    auto alg = header.find("alg");
    if (alg == header.end() || *alg != "ES256") {
      return absl::InvalidArgumentError("receipt JWS: header alg is not ES256");
    }
    // RFC 7515 section 4.1.11: extensions we do not understand must fail.
    if (header.contains("crit")) {
      return absl::InvalidArgumentError(
          "receipt JWS: header has unsupported crit extensions");
    }
    ASSIGN_OR_RETURN(std::vector<X509Ptr> chain, ParseX5c(header));
    EVP_PKEY* leaf_key = X509_get0_pubkey(chain.front().get());
    if (!internal::IsP256Key(leaf_key)) {
      TakeOpenSslErrors();
      return absl::InvalidArgumentError(
          "receipt JWS: x5c leaf has no EC P-256 key");
    }
    std::string_view signing_input =
        jws.substr(0, parts[0].size() + 1 + parts[1].size());
    RETURN_IF_ERROR(VerifySignature(leaf_key, signing_input, signature));
    ASSIGN_OR_RETURN(nlohmann::json payload,
                     ParseObject(payload_text, "payload"));
    RETURN_IF_ERROR(VerifyChain(chain, payload));
    return payload;
  }

 private:
  absl::Status VerifyChain(const std::vector<X509Ptr>& chain,
                           const nlohmann::json& payload) const {
    std::unique_ptr<STACK_OF(X509), X509StackDeleter> untrusted(
        sk_X509_new_null());
    if (untrusted == nullptr) return absl::ResourceExhaustedError("no memory");
    for (size_t i = 1; i < chain.size(); ++i) {
      // The stack borrows the certificates; `chain` owns them.
      if (sk_X509_push(untrusted.get(), chain[i].get()) <= 0) {
        return absl::ResourceExhaustedError("no memory");
      }
    }
    X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (ctx == nullptr ||
        X509_STORE_CTX_init(ctx.get(), store_.get(), chain.front().get(),
                            untrusted.get()) != 1) {
      return absl::InternalError(
          absl::StrCat("certificate check init: ", TakeOpenSslErrors()));
    }
    auto time = payload.find("time");
    if (time != payload.end() && time->is_string()) {
      absl::Time t;
      std::string err;
      if (!absl::ParseTime(absl::RFC3339_full, time->get<std::string>(), &t,
                           &err)) {
        return absl::InvalidArgumentError(
            absl::StrCat("receipt JWS: payload time: ", err));
      }
      X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                                 absl::ToTimeT(t));
    }
    int rc = X509_verify_cert(ctx.get());
    TakeOpenSslErrors();
    if (rc != 1) {
      return absl::UnauthenticatedError(absl::StrCat(
          "receipt JWS: certificate chain not trusted: ",
          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
    }
    return absl::OkStatus();
  }

  // Read-only after construction; OpenSSL locks its internal caches.
  const X509StorePtr store_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ReceiptJwsVerifier>> NewReceiptJwsVerifier(
    const std::string& ca_pem_file) {
  X509StorePtr store(X509_STORE_new());
  if (store == nullptr) return absl::ResourceExhaustedError("no memory");
  if (X509_STORE_load_file(store.get(), ca_pem_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA file ", ca_pem_file,
                     ": cannot load certificates: ", TakeOpenSslErrors()));
  }
  return std::make_unique<Verifier>(std::move(store));
}

absl::StatusOr<nlohmann::json> VerifyReceiptJws(
    std::string_view jws, const std::string& ca_pem_file) {
  ASSIGN_OR_RETURN(std::unique_ptr<ReceiptJwsVerifier> verifier,
                   NewReceiptJwsVerifier(ca_pem_file));
  return verifier->Verify(jws);
}

}  // namespace utpost::receipts
