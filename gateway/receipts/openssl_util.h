// Internal to gateway/receipts: owning pointers for OpenSSL objects and
// error text. Not part of the library's interface.
#ifndef UTPOST_GATEWAY_RECEIPTS_OPENSSL_UTIL_H_
#define UTPOST_GATEWAY_RECEIPTS_OPENSSL_UTIL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace utpost::receipts::internal {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BIGNUM, BN_free>>;
using EcdsaSigPtr =
    std::unique_ptr<ECDSA_SIG, OpenSslDeleter<ECDSA_SIG, ECDSA_SIG_free>>;
using EvpMdCtxPtr =
    std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EvpPkeyPtr =
    std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using X509StorePtr =
    std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX,
                    OpenSslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

// Drains the thread's OpenSSL error queue into one line ("" when empty), so
// that a failure reported by us does not linger into an unrelated call.
std::string TakeOpenSslErrors();

// True when `pkey` is an EC key on P-256 (prime256v1).
bool IsP256Key(EVP_PKEY* pkey);

// The DER encoding of `cert`.
absl::StatusOr<std::string> CertToDer(X509* cert);

// Raw r||s (32 bytes each, big-endian) <-> DER ECDSA-Sig-Value.
absl::StatusOr<std::string> DerSignatureToRaw(std::string_view der);
absl::StatusOr<std::string> RawSignatureToDer(std::string_view raw);

}  // namespace utpost::receipts::internal

#endif  // UTPOST_GATEWAY_RECEIPTS_OPENSSL_UTIL_H_
