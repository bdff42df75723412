#include "gateway/receipts/openssl_util.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace utpost::receipts::internal {
namespace {

constexpr int kP256CoordinateBytes = 32;

}  // namespace

std::string TakeOpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

bool IsP256Key(EVP_PKEY* pkey) {
  if (pkey == nullptr || !EVP_PKEY_is_a(pkey, "EC")) return false;
  char group[64];
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                     sizeof(group), &len) != 1) {
    TakeOpenSslErrors();
    return false;
  }
  return std::strcmp(group, SN_X9_62_prime256v1) == 0;
}

absl::StatusOr<std::string> CertToDer(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) {
    return absl::InternalError(
        absl::StrCat("cannot encode certificate: ", TakeOpenSslErrors()));
  }
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509(cert, &p) != len) {
    return absl::InternalError(
        absl::StrCat("cannot encode certificate: ", TakeOpenSslErrors()));
  }
  return der;
}

absl::StatusOr<std::string> DerSignatureToRaw(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (sig == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot decode ECDSA signature: ", TakeOpenSslErrors()));
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kP256CoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  // BN_bn2binpad left-pads with zeros; it fails only if the number does not
  // fit, which a P-256 signature always does.
  if (BN_bn2binpad(r, out, kP256CoordinateBytes) != kP256CoordinateBytes ||
      BN_bn2binpad(s, out + kP256CoordinateBytes, kP256CoordinateBytes) !=
          kP256CoordinateBytes) {
    return absl::InternalError("ECDSA signature does not fit P-256");
  }
  return raw;
}

absl::StatusOr<std::string> RawSignatureToDer(std::string_view raw) {
  if (raw.size() != 2 * kP256CoordinateBytes) {
    return absl::InvalidArgumentError(absl::StrCat("ES256 signature is ",
                                                   raw.size(), " bytes, want ",
                                                   2 * kP256CoordinateBytes));
  }
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(in, kP256CoordinateBytes, nullptr));
  BignumPtr s(
      BN_bin2bn(in + kP256CoordinateBytes, kP256CoordinateBytes, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot build ECDSA signature: ", TakeOpenSslErrors()));
  }
  // ECDSA_SIG_set0 took ownership of both numbers.
  r.release();
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) {
    return absl::InternalError(
        absl::StrCat("cannot encode ECDSA signature: ", TakeOpenSslErrors()));
  }
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_ECDSA_SIG(sig.get(), &p);
  return der;
}

}  // namespace utpost::receipts::internal
