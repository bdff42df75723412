#include "adapters/dpi/dpi_crypto.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "adapters/json_fields.h"
#include "common/status_macros.h"

namespace utpost::adapters {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using StorePtr =
    std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX,
                    Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using MdCtxPtr =
    std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo,
                               Deleter<CMS_ContentInfo, CMS_ContentInfo_free>>;
struct StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using StackPtr = std::unique_ptr<STACK_OF(X509), StackDeleter>;

// Drains OpenSSL's error queue into one line, so that it does not linger
// into an unrelated call.
std::string TakeErrors() {
  std::string out;
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

absl::StatusOr<std::vector<X509Ptr>> ReadPemCertificates(
    const std::string& file, absl::string_view option) {
  BioPtr bio(BIO_new_file(file.c_str(), "rb"));
  if (bio == nullptr) {
    TakeErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": cannot read \"", file, "\""));
  }
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  TakeErrors();  // The end of the file reads as an error.
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": no PEM certificate in \"", file, "\""));
  }
  return certs;
}

std::string ToDer(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) {
    TakeErrors();
    return std::string();
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

X509Ptr FromDer(absl::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr ||
      p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    TakeErrors();
    return nullptr;
  }
  return cert;
}

bool IsRsa(EVP_PKEY* key) { return EVP_PKEY_base_id(key) == EVP_PKEY_RSA; }

// Decodes base64url without padding and insists on that one spelling.
bool DecodeBase64Url(absl::string_view part, std::string* out) {
  return absl::WebSafeBase64Unescape(part, out) &&
         absl::WebSafeBase64Escape(*out) == part;
}

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  return absl::WebSafeBase64Escape(absl::string_view(data.data(), data.size()));
}

// ---- DpiSigner ------------------------------------------------------------

DpiSigner::DpiSigner(evp_pkey_st* key, std::vector<std::string> chain_der,
                     std::vector<std::string> package_chain_der)
    : key_(key),
      chain_der_(std::move(chain_der)),
      package_chain_der_(std::move(package_chain_der)) {}

DpiSigner::~DpiSigner() { EVP_PKEY_free(key_); }

absl::StatusOr<std::unique_ptr<DpiSigner>> DpiSigner::FromFiles(
    const std::string& key_file, const std::string& chain_file,
    const std::string& root_file) {
  BioPtr bio(BIO_new_file(key_file.c_str(), "rb"));
  PkeyPtr key(bio == nullptr ? nullptr
                             : PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                                       nullptr, nullptr));
  if (key == nullptr || !IsRsa(key.get())) {
    TakeErrors();
    return absl::InvalidArgumentError(absl::StrCat(
        "dpi.signing_key_file: \"", key_file, "\" is not an RSA key (PEM)"));
  }
  ASSIGN_OR_RETURN(std::vector<X509Ptr> chain,
                   ReadPemCertificates(chain_file, "dpi.certificate_file"));
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    TakeErrors();
    return absl::InvalidArgumentError(
        absl::StrCat("dpi.certificate_file: the first certificate of \"",
                     chain_file, "\" does not belong to the signing key"));
  }
  std::vector<std::string> der;
  for (const X509Ptr& cert : chain) der.push_back(ToDer(cert.get()));
  std::vector<std::string> package_der = der;
  if (!root_file.empty()) {
    ASSIGN_OR_RETURN(
        std::vector<X509Ptr> roots,
        ReadPemCertificates(root_file, "dpi.certificate_root_file"));
    for (const X509Ptr& root : roots) {
      std::string root_der = ToDer(root.get());
      if (std::find(package_der.begin(), package_der.end(), root_der) ==
          package_der.end()) {
        package_der.push_back(std::move(root_der));
      }
    }
  }
  return std::unique_ptr<DpiSigner>(
      new DpiSigner(key.release(), std::move(der), std::move(package_der)));
}

absl::StatusOr<std::string> DpiSigner::Sign(std::string_view data) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_) !=
          1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return absl::InternalError(absl::StrCat("RS256 sign: ", TakeErrors()));
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(&signature[0]),
                     &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return absl::InternalError(absl::StrCat("RS256 sign: ", TakeErrors()));
  }
  signature.resize(len);
  return signature;
}

absl::StatusOr<std::string> DpiSigner::SignJws(std::string_view payload) const {
  nlohmann::json x5c = nlohmann::json::array();
  for (const std::string& der : chain_der_)
    x5c.push_back(absl::Base64Escape(der));
  nlohmann::json header = {{"alg", "RS256"}, {"x5c", x5c}};
  std::string input = absl::StrCat(Base64UrlEncode(header.dump()), ".",
                                   Base64UrlEncode(payload));
  ASSIGN_OR_RETURN(std::string signature, Sign(input));
  return absl::StrCat(input, ".", Base64UrlEncode(signature));
}

// ---- DpiReceiptVerifier ---------------------------------------------------

struct DpiReceiptVerifier::Trust {
  StorePtr store;      // Null without a CA file.
  std::string pinned;  // DER; empty without a provider certificate.
};

DpiReceiptVerifier::DpiReceiptVerifier(std::unique_ptr<Trust> trust)
    : trust_(std::move(trust)) {}

DpiReceiptVerifier::~DpiReceiptVerifier() = default;

absl::StatusOr<std::unique_ptr<DpiReceiptVerifier>>
DpiReceiptVerifier::FromFiles(const std::string& ca_file,
                              const std::string& provider_cert_file) {
  if (ca_file.empty() && provider_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "dpi: set provider_certificate_file or provider_ca_file to verify "
        "the provider's receipts");
  }
  auto trust = std::make_unique<Trust>();
  if (!ca_file.empty()) {
    ASSIGN_OR_RETURN(std::vector<X509Ptr> cas,
                     ReadPemCertificates(ca_file, "dpi.provider_ca_file"));
    trust->store.reset(X509_STORE_new());
    for (const X509Ptr& ca : cas)
      X509_STORE_add_cert(trust->store.get(), ca.get());
  }
  if (!provider_cert_file.empty()) {
    ASSIGN_OR_RETURN(std::vector<X509Ptr> certs,
                     ReadPemCertificates(provider_cert_file,
                                         "dpi.provider_certificate_file"));
    trust->pinned = ToDer(certs.front().get());
  }
  return std::unique_ptr<DpiReceiptVerifier>(
      new DpiReceiptVerifier(std::move(trust)));
}

absl::StatusOr<nlohmann::json> DpiReceiptVerifier::Verify(
    std::string_view jws_view) const {
  absl::string_view jws(jws_view.data(), jws_view.size());
  std::vector<absl::string_view> parts = absl::StrSplit(jws, '.');
  std::string header_text, payload_text, signature;
  if (parts.size() != 3 || !DecodeBase64Url(parts[0], &header_text) ||
      !DecodeBase64Url(parts[1], &payload_text) ||
      !DecodeBase64Url(parts[2], &signature)) {
    return absl::InvalidArgumentError(
        "JWS: not three base64url parts without padding");
  }
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, false);
  if (!header.is_object()) {
    return absl::InvalidArgumentError("JWS: header is not a JSON object");
  }
  if (StringField(header, "alg") != "RS256") {
    return absl::InvalidArgumentError("JWS: \"alg\" is not RS256");
  }
  if (header.contains("crit")) {
    return absl::InvalidArgumentError("JWS: \"crit\" is not supported");
  }
  auto x5c = header.find("x5c");
  if (x5c == header.end() || !x5c->is_array() || x5c->empty()) {
    return absl::InvalidArgumentError("JWS: header has no x5c chain");
  }
  std::vector<X509Ptr> chain;
  std::string leaf_der;
  for (const nlohmann::json& entry : *x5c) {
    std::string der;
    X509Ptr cert;
    if (entry.is_string() &&
        absl::Base64Unescape(entry.get<std::string>(), &der)) {
      cert = FromDer(der);
    }
    if (cert == nullptr) {
      return absl::InvalidArgumentError(
          "JWS: x5c entry is not a base64 DER certificate");
    }
    if (chain.empty()) leaf_der = der;
    chain.push_back(std::move(cert));
  }
  EVP_PKEY* leaf_key = X509_get0_pubkey(chain.front().get());
  if (leaf_key == nullptr || !IsRsa(leaf_key)) {
    TakeErrors();
    return absl::UnauthenticatedError("JWS: the x5c leaf holds no RSA key");
  }
  std::string input = absl::StrCat(parts[0], ".", parts[1]);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                           leaf_key) != 1 ||
      EVP_DigestVerify(ctx.get(),
                       reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(),
                       reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1) {
    TakeErrors();
    return absl::UnauthenticatedError("JWS: the signature does not verify");
  }
  if (!trust_->pinned.empty() && leaf_der != trust_->pinned) {
    return absl::UnauthenticatedError(
        "JWS: signed by a certificate other than the provider's");
  }
  if (trust_->store != nullptr) {
    StackPtr untrusted(sk_X509_new_null());
    for (size_t i = 1; i < chain.size(); ++i) {
      sk_X509_push(untrusted.get(), chain[i].get());
    }
    StoreCtxPtr store_ctx(X509_STORE_CTX_new());
    if (store_ctx == nullptr ||
        X509_STORE_CTX_init(store_ctx.get(), trust_->store.get(),
                            chain.front().get(), untrusted.get()) != 1) {
      TakeErrors();
      return absl::InternalError("JWS: cannot set up chain verification");
    }
    if (X509_verify_cert(store_ctx.get()) != 1) {
      std::string why = X509_verify_cert_error_string(
          X509_STORE_CTX_get_error(store_ctx.get()));
      TakeErrors();
      return absl::UnauthenticatedError(
          absl::StrCat("JWS: x5c chain is not trusted: ", why));
    }
  }
  nlohmann::json payload = nlohmann::json::parse(payload_text, nullptr, false);
  if (!payload.is_object()) {
    return absl::InvalidArgumentError("JWS: payload is not a JSON object");
  }
  return payload;
}

// ---- CMS ------------------------------------------------------------------

absl::StatusOr<std::string> EncryptCms(std::string_view content,
                                       std::string_view recipient_cert_der) {
  X509Ptr cert = FromDer(
      absl::string_view(recipient_cert_der.data(), recipient_cert_der.size()));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        "mailbox certificate is not a DER certificate");
  }
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr || !IsRsa(key)) {
    TakeErrors();
    return absl::InvalidArgumentError("mailbox certificate holds no RSA key");
  }
  BioPtr in(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  // Partial: the recipient is added by hand so that its key transport can
  // be switched to OAEP before the content is encrypted.
  CmsPtr cms(CMS_encrypt(nullptr, nullptr, EVP_aes_256_cbc(),
                         CMS_BINARY | CMS_PARTIAL));
  if (in == nullptr || cms == nullptr) {
    return absl::InternalError(absl::StrCat("CMS: ", TakeErrors()));
  }
  CMS_RecipientInfo* ri =
      CMS_add1_recipient_cert(cms.get(), cert.get(), CMS_KEY_PARAM);
  EVP_PKEY_CTX* pctx =
      ri == nullptr ? nullptr : CMS_RecipientInfo_get0_pkey_ctx(ri);
  if (pctx == nullptr ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
    return absl::InternalError(
        absl::StrCat("CMS: cannot set RSA-OAEP: ", TakeErrors()));
  }
  if (CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY) != 1) {
    return absl::InternalError(absl::StrCat("CMS: ", TakeErrors()));
  }
  BioPtr out(BIO_new(BIO_s_mem()));
  if (out == nullptr || i2d_CMS_bio(out.get(), cms.get()) != 1) {
    return absl::InternalError(absl::StrCat("CMS: ", TakeErrors()));
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<std::string> CertificateToDer(std::string_view text_view) {
  absl::string_view text(text_view.data(), text_view.size());
  absl::string_view stripped = absl::StripAsciiWhitespace(text);
  X509Ptr cert;
  if (absl::StartsWith(stripped, "-----BEGIN")) {
    BioPtr bio(
        BIO_new_mem_buf(stripped.data(), static_cast<int>(stripped.size())));
    cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  } else if (!text.empty() && text.front() == 0x30) {
    cert = FromDer(text);
  } else {
    std::string der;
    if (absl::Base64Unescape(stripped, &der)) cert = FromDer(der);
  }
  if (cert == nullptr) {
    TakeErrors();
    return absl::InvalidArgumentError(
        "certificate is neither PEM, base64 DER nor DER");
  }
  return ToDer(cert.get());
}

}  // namespace utpost::adapters
