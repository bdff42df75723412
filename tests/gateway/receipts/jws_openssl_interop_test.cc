// Checks a receipt with the openssl command line only, as an auditor without
// Utpost would: the certificate from x5c against the CA, then the signature
// over "<header>.<payload>".
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace utpost::receipts {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;

void WriteFile(const std::string& path, const std::string& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(std::fwrite(data.data(), 1, data.size(), f), data.size());
  std::fclose(f);
}

// Runs `cmd` through the shell; returns its exit code and combined output.
int RunShell(const std::string& cmd, std::string* output) {
  output->clear();
  FILE* p = popen(absl::StrCat(cmd, " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) output->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// DER INTEGER of a big-endian unsigned number, written out by hand so that
// the check does not depend on the code under test.
std::string DerInteger(std::string bytes) {
  size_t i = 0;
  while (i + 1 < bytes.size() && bytes[i] == 0) ++i;
  bytes = bytes.substr(i);
  if (static_cast<unsigned char>(bytes[0]) & 0x80) bytes.insert(0, 1, '\0');
  return absl::StrCat(std::string(1, '\x02'),
                      std::string(1, static_cast<char>(bytes.size())), bytes);
}

std::string RawToDer(const std::string& raw) {
  std::string body =
      DerInteger(raw.substr(0, 32)) + DerInteger(raw.substr(32, 32));
  return absl::StrCat(std::string(1, '\x30'),
                      std::string(1, static_cast<char>(body.size())), body);
}

class JwsOpensslInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = absl::StrCat(::testing::TempDir(), "/jwsXXXXXX");
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    ASSERT_NE(mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
  }
  void TearDown() override {
    std::string out;
    RunShell(absl::StrCat("rm -rf '", dir_, "'"), &out);
  }
  std::string dir_;
};

TEST_F(JwsOpensslInteropTest, OpensslVerifiesCertificateAndSignature) {
  auto signer =
      NewJwsReceiptSigner({"certs-dev/receipts.key", "certs-dev/receipts.pem"});
  ASSERT_THAT(signer, IsOk());
  ReceiptContent c;
  c.letter_id = "5d1c1f0e-0000-4000-8000-000000000001";
  c.tenant = "958935420";
  c.sequence = 1;
  c.state = ::utpost::v1::Letter::RECEIVED;
  c.time_ms = 1795435200000;
  auto jws = (*signer)->Sign(c);
  ASSERT_THAT(jws, IsOk());
  std::vector<std::string> parts = absl::StrSplit(*jws, '.');
  ASSERT_EQ(parts.size(), 3u);

  // The leaf certificate, as PEM, from x5c.
  std::string header_json;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header_json));
  nlohmann::json header = nlohmann::json::parse(header_json);
  std::string b64 = header["x5c"][0].get<std::string>();
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    absl::StrAppend(&pem, b64.substr(i, 64), "\n");
  }
  absl::StrAppend(&pem, "-----END CERTIFICATE-----\n");
  const std::string leaf = dir_ + "/leaf.pem";
  WriteFile(leaf, pem);

  std::string out;
  ASSERT_EQ(RunShell(absl::StrCat("openssl verify -CAfile certs-dev/ca.pem '",
                                  leaf, "'"),
                     &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("OK"));

  const std::string pub = dir_ + "/pub.pem";
  ASSERT_EQ(RunShell(absl::StrCat("openssl x509 -in '", leaf,
                                  "' -pubkey -noout > '", pub, "'"),
                     &out),
            0)
      << out;

  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[2], &raw));
  ASSERT_EQ(raw.size(), 64u);
  const std::string sig = dir_ + "/sig.der";
  WriteFile(sig, RawToDer(raw));
  const std::string input = dir_ + "/input";
  WriteFile(input, absl::StrCat(parts[0], ".", parts[1]));
  const std::string verify =
      absl::StrCat("openssl dgst -sha256 -verify '", pub, "' -signature '", sig,
                   "' '", input, "'");
  ASSERT_EQ(RunShell(verify, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("Verified OK"));

  // The same check fails for a changed payload.
  WriteFile(input, absl::StrCat(parts[0], ".", parts[1], "x"));
  EXPECT_NE(RunShell(verify, &out), 0) << out;
}

}  // namespace
}  // namespace utpost::receipts
