#include "gateway/receipts/jws_receipt_signer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "gateway/receipts/openssl_util.h"
#include "nlohmann/json.hpp"

namespace utpost::receipts {
namespace {

using internal::BioPtr;
using internal::EvpMdCtxPtr;
using internal::EvpPkeyPtr;
using internal::TakeOpenSslErrors;
using internal::X509Ptr;

// Refuses encrypted keys instead of letting OpenSSL prompt on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

absl::StatusOr<EvpPkeyPtr> LoadKey(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "receipt key_file ", path, ": cannot open: ", TakeOpenSslErrors()));
  }
  EvpPkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "receipt key_file ", path,
        ": no unencrypted PEM private key: ", TakeOpenSslErrors()));
  }
  if (!internal::IsP256Key(key.get())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "receipt key_file ", path, ": not an EC P-256 key (ES256 needs one)"));
  }
  return key;
}

absl::StatusOr<std::vector<X509Ptr>> LoadChain(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipt cert_chain_file ", path,
                     ": cannot open: ", TakeOpenSslErrors()));
  }
  std::vector<X509Ptr> chain;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    chain.emplace_back(cert);
  }
  // The loop ends on "no start line" at the end of the file; that is not an
  // error once at least one certificate was read.
  std::string errors = TakeOpenSslErrors();
  if (chain.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "receipt cert_chain_file ", path, ": no PEM certificate: ", errors));
  }
  return chain;
}

class JwsReceiptSigner final : public ReceiptSigner {
 public:
  JwsReceiptSigner(EvpPkeyPtr key, std::string header_b64)
      : key_(std::move(key)), header_b64_(std::move(header_b64)) {}

  absl::StatusOr<std::string> Sign(const ReceiptContent& c) override {
    std::string jws = absl::StrCat(
        header_b64_, ".", absl::WebSafeBase64Escape(ReceiptPayloadJson(c)));
    // A context per call: the key is only read, so concurrent calls share it
    // safely while each has its own digest state.
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(),
                                             nullptr, key_.get()) != 1) {
      return absl::InternalError(
          absl::StrCat("ES256 sign init: ", TakeOpenSslErrors()));
    }
    const auto* data = reinterpret_cast<const unsigned char*>(jws.data());
    size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, data, jws.size()) != 1) {
      return absl::InternalError(
          absl::StrCat("ES256 sign: ", TakeOpenSslErrors()));
    }
    std::string der(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()),
                       &len, data, jws.size()) != 1) {
      return absl::InternalError(
          absl::StrCat("ES256 sign: ", TakeOpenSslErrors()));
    }
    der.resize(len);
    ASSIGN_OR_RETURN(std::string raw, internal::DerSignatureToRaw(der));
    absl::StrAppend(&jws, ".", absl::WebSafeBase64Escape(raw));
    return jws;
  }

 private:
  const EvpPkeyPtr key_;
  // base64url of the protected header; the same for every receipt.
  const std::string header_b64_;
};

}  // namespace

std::string ReceiptPayloadJson(const ReceiptContent& c) {
  // ordered_json keeps insertion order, which is the documented key order.
  nlohmann::ordered_json j;
  j["letter_id"] = c.letter_id;
  j["tenant"] = c.tenant;
  j["seq"] = c.sequence;
  j["state"] = ::utpost::v1::Letter::State_Name(c.state);
  j["channel"] = c.channel;
  j["time"] = FormatRfc3339(c.time_ms);
  j["reason"] = c.reason;
  j["prev"] = c.previous_sha256_hex;
  // A provider's reason text may hold invalid UTF-8; replace it rather than
  // throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::unique_ptr<ReceiptSigner>> NewJwsReceiptSigner(
    const JwsSignerOptions& options) {
  if (options.key_file.empty()) {
    return absl::InvalidArgumentError("receipt key_file is required");
  }
  if (options.cert_chain_file.empty()) {
    return absl::InvalidArgumentError("receipt cert_chain_file is required");
  }
  ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadKey(options.key_file));
  ASSIGN_OR_RETURN(std::vector<X509Ptr> chain,
                   LoadChain(options.cert_chain_file));
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    TakeOpenSslErrors();
    return absl::InvalidArgumentError(absl::StrCat(
        "receipt key_file ", options.key_file,
        " does not match the first certificate of cert_chain_file ",
        options.cert_chain_file));
  }

  nlohmann::ordered_json header;
  header["alg"] = "ES256";
  header["typ"] = "utpost-receipt+jws";
  nlohmann::ordered_json x5c = nlohmann::ordered_json::array();
  for (const X509Ptr& cert : chain) {
    ASSIGN_OR_RETURN(std::string der, internal::CertToDer(cert.get()));
    x5c.push_back(absl::Base64Escape(der));
  }
  header["x5c"] = std::move(x5c);
  return std::make_unique<JwsReceiptSigner>(
      std::move(key), absl::WebSafeBase64Escape(header.dump()));
}

}  // namespace utpost::receipts
