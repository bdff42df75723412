// The cryptography of the DPI channel (PROTOCOLS.md, "Digital mailbox via
// DPI"): RS256 JWS with an x5c header for business messages and receipts,
// and CMS EnvelopedData (RSA-OAEP SHA-256 key transport, AES-256-CBC
// content) for the document package.
#ifndef UTPOST_ADAPTERS_DPI_DPI_CRYPTO_H_
#define UTPOST_ADAPTERS_DPI_DPI_CRYPTO_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY.

namespace utpost::adapters {

// The sender's business certificate: an RSA key and its certificate chain.
// Thread-safe; immutable after construction.
class DpiSigner final {
 public:
  // `key_file`: unencrypted RSA private key (PEM). `chain_file`: the
  // certificate of that key followed by intermediates (PEM), leaf first.
  // `root_file` (may be empty): the trusted root(s) the chain leads to
  // (PEM), added after the chain in the package signature, which must
  // carry every certificate up to and including the root
  // (dokumentpakke_sikkerhet.md, krav 6.2.1). INVALID_ARGUMENT naming the
  // file when one cannot be read, the key is not RSA, or the leaf does not
  // belong to the key.
  static absl::StatusOr<std::unique_ptr<DpiSigner>> FromFiles(
      const std::string& key_file, const std::string& chain_file,
      const std::string& root_file = "");

  DpiSigner(const DpiSigner&) = delete;
  DpiSigner& operator=(const DpiSigner&) = delete;
  ~DpiSigner();

  // RSA PKCS#1 v1.5 signature with SHA-256 of `data` (raw bytes).
  absl::StatusOr<std::string> Sign(std::string_view data) const;

  // Compact JWS: header {"alg":"RS256","x5c":[chain, base64 DER]}, payload
  // `payload` as is, each part base64url without padding.
  absl::StatusOr<std::string> SignJws(std::string_view payload) const;

  // DER certificates of `chain_file`, leaf first (the JWS x5c).
  const std::vector<std::string>& chain_der() const { return chain_der_; }
  // The same followed by the root(s) not already in it (the package
  // signature's ds:X509Data).
  const std::vector<std::string>& package_chain_der() const {
    return package_chain_der_;
  }

 private:
  DpiSigner(evp_pkey_st* key, std::vector<std::string> chain_der,
            std::vector<std::string> package_chain_der);

  evp_pkey_st* const key_;  // Owned.
  const std::vector<std::string> chain_der_;
  const std::vector<std::string> package_chain_der_;
};

// Verifies the provider's signed receipts. Thread-safe.
class DpiReceiptVerifier final {
 public:
  // `ca_file`: CA certificates (PEM) the x5c chain must lead to.
  // `provider_cert_file`: the provider's receipt-signing certificate (PEM);
  // when set, the x5c leaf must be exactly this certificate. At least one
  // is required; with only the certificate, a leaf equal to it is trusted
  // without a chain. INVALID_ARGUMENT naming the file when unreadable.
  static absl::StatusOr<std::unique_ptr<DpiReceiptVerifier>> FromFiles(
      const std::string& ca_file, const std::string& provider_cert_file);

  DpiReceiptVerifier(const DpiReceiptVerifier&) = delete;
  DpiReceiptVerifier& operator=(const DpiReceiptVerifier&) = delete;
  ~DpiReceiptVerifier();

  // Checks a compact JWS: "alg" RS256 and no "crit"; x5c chain (leaf
  // first) valid now and trusted as above; the signature under the leaf's
  // key; the payload a JSON object, which is returned. UNAUTHENTICATED
  // for a signature or chain that does not verify; INVALID_ARGUMENT for a
  // malformed JWS.
  absl::StatusOr<nlohmann::json> Verify(std::string_view jws) const;

 private:
  struct Trust;
  explicit DpiReceiptVerifier(std::unique_ptr<Trust> trust);
  const std::unique_ptr<Trust> trust_;
};

// CMS EnvelopedData (DER) around `content` for the holder of the RSA
// certificate `recipient_cert_der`: a fresh AES-256-CBC key, transported
// with RSAES-OAEP (SHA-256, MGF1 with SHA-256). INVALID_ARGUMENT when the
// certificate cannot be parsed or holds no RSA key.
absl::StatusOr<std::string> EncryptCms(std::string_view content,
                                       std::string_view recipient_cert_der);

// A certificate given as PEM, as base64 of DER, or as DER, in DER.
// INVALID_ARGUMENT when it is none of these.
absl::StatusOr<std::string> CertificateToDer(std::string_view text);

// base64url without padding, as JWS uses it.
std::string Base64UrlEncode(std::string_view data);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_DPI_DPI_CRYPTO_H_
