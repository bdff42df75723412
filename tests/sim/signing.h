// What a Digipost-style client computes, written out independently of both
// the adapter and the simulator, for tests that send requests by hand.
#ifndef UTPOST_TESTS_SIM_SIGNING_H_
#define UTPOST_TESTS_SIM_SIGNING_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cstdio>
#include <string>

#include "absl/strings/escaping.h"

namespace utpost::sim::testing {

// Base64 of the SHA-256 of `data` (the X-Content-SHA256 header).
inline std::string Base64Sha256(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(md), sizeof(md)));
}

// Base64 RSA PKCS#1 v1.5 SHA-256 signature of `text` with the PEM key in
// `key_file`.
inline std::string SignWith(const std::string& key_file,
                            const std::string& text) {
  std::FILE* file = std::fopen(key_file.c_str(), "rb");
  EVP_PKEY* key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = EVP_PKEY_get_size(key);
  std::string signature(length, '\0');
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()),
                 &length, reinterpret_cast<const unsigned char*>(text.data()),
                 text.size());
  signature.resize(length);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return absl::Base64Escape(signature);
}

}  // namespace utpost::sim::testing

#endif  // UTPOST_TESTS_SIM_SIGNING_H_
