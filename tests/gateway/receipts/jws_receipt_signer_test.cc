#include "gateway/receipts/jws_receipt_signer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gateway/receipts/jws_verify.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace utpost::receipts {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

constexpr char kKey[] = "certs-dev/receipts.key";
constexpr char kCert[] = "certs-dev/receipts.pem";
constexpr char kCa[] = "certs-dev/ca.pem";

ReceiptContent SampleContent() {
  ReceiptContent c;
  c.letter_id = "0b9f7c1e-2a41-4c53-9d3e-5f1a2b3c4d5e";
  c.tenant = "964338531";
  c.sequence = 2;
  c.state = ::utpost::v1::Letter::DELIVERED;
  c.channel = "digital";
  c.reason = "";
  c.time_ms = 1795435200123;  // 2026-11-23T12:00:00.123Z
  c.previous_sha256_hex = std::string(64, 'a');
  return c;
}

std::unique_ptr<ReceiptSigner> DevSigner() {
  auto signer = NewJwsReceiptSigner({kKey, kCert});
  EXPECT_THAT(signer, IsOk());
  return signer.ok() ? std::move(*signer) : nullptr;
}

std::vector<std::string> Parts(const std::string& jws) {
  return absl::StrSplit(jws, '.');
}

std::string Decode(const std::string& part) {
  std::string out;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(part, &out)) << part;
  return out;
}

std::string ReadFile(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

TEST(JwsReceiptSignerTest, PayloadHasTheDocumentedFieldsInOrder) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  auto jws = signer->Sign(SampleContent());
  ASSERT_THAT(jws, IsOk());
  std::vector<std::string> parts = Parts(*jws);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(
      Decode(parts[1]),
      absl::StrCat(R"({"letter_id":"0b9f7c1e-2a41-4c53-9d3e-5f1a2b3c4d5e",)",
                   R"("tenant":"964338531","seq":2,"state":"DELIVERED",)",
                   R"("channel":"digital",)",
                   R"("time":"2026-11-23T12:00:00.123Z","reason":"",)",
                   R"("prev":")", std::string(64, 'a'), R"(",)",
                   R"("evidence":"ContentConsignment","provider":"",)",
                   R"("documents":[],"provider_receipt":""})"));
  EXPECT_EQ(Decode(parts[1]), ReceiptPayloadJson(SampleContent()));
}

TEST(JwsReceiptSignerTest, HeaderCarriesAlgorithmAndLeafCertificate) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  auto jws = signer->Sign(SampleContent());
  ASSERT_THAT(jws, IsOk());
  nlohmann::json header = nlohmann::json::parse(Decode(Parts(*jws)[0]));
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["typ"], "utpost-receipt+jws");
  ASSERT_TRUE(header["x5c"].is_array());
  ASSERT_EQ(header["x5c"].size(), 1u);
  // The x5c entry is the DER of the PEM file's certificate.
  std::string pem = ReadFile(kCert);
  std::string b64;
  for (absl::string_view line : absl::StrSplit(pem, '\n')) {
    if (!line.empty() && line[0] != '-') absl::StrAppend(&b64, line);
  }
  EXPECT_EQ(header["x5c"][0], b64);
}

TEST(JwsReceiptSignerTest, StatementsCarryTheirTypAndPayloadVerbatim) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  auto receipt = signer->Sign(SampleContent());
  ASSERT_THAT(receipt, IsOk());
  const std::string payload =
      R"({"statement":"utpost-export-trailer","lines":3,)"
      R"("time":"2026-11-23T13:00:00.000Z"})";
  auto jws = signer->SignStatement("utpost-export-trailer+jws", payload);
  ASSERT_THAT(jws, IsOk());
  nlohmann::json header = nlohmann::json::parse(Decode(Parts(*jws)[0]));
  nlohmann::json receipt_header =
      nlohmann::json::parse(Decode(Parts(*receipt)[0]));
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["typ"], "utpost-export-trailer+jws");
  EXPECT_EQ(header["x5c"], receipt_header["x5c"]);
  EXPECT_EQ(Decode(Parts(*jws)[1]), payload);
  auto verified = VerifyReceiptJws(*jws, kCa);
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ((*verified)["lines"], 3);
}

TEST(JwsReceiptSignerTest, SignatureIsRawRAndS) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  for (int i = 0; i < 20; ++i) {
    ReceiptContent c = SampleContent();
    c.sequence = i + 1;
    auto jws = signer->Sign(c);
    ASSERT_THAT(jws, IsOk());
    std::string sig = Parts(*jws)[2];
    EXPECT_EQ(sig.find('='), std::string::npos);
    EXPECT_EQ(Decode(sig).size(), 64u);
  }
}

// A receipt stamped now: the development certificate may be minutes old.
ReceiptContent ContentNow() {
  ReceiptContent c = SampleContent();
  c.time_ms = RealClock()->NowMillis();
  return c;
}

TEST(JwsReceiptSignerTest, VerifiesAgainstTheDevelopmentCa) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  ReceiptContent c = ContentNow();
  auto jws = signer->Sign(c);
  ASSERT_THAT(jws, IsOk());
  auto payload = VerifyReceiptJws(*jws, kCa);
  ASSERT_THAT(payload, IsOk());
  EXPECT_EQ((*payload)["letter_id"], "0b9f7c1e-2a41-4c53-9d3e-5f1a2b3c4d5e");
  EXPECT_EQ((*payload)["seq"], 2);
  EXPECT_EQ((*payload)["state"], "DELIVERED");
  EXPECT_EQ((*payload)["time"], FormatRfc3339(c.time_ms));
}

TEST(JwsReceiptSignerTest, ReceiptDatedBeforeTheCertificateIsNotTrusted) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  ReceiptContent c = SampleContent();
  c.time_ms = 1577836800000;  // 2020-01-01, before the dev PKI existed.
  auto jws = signer->Sign(c);
  ASSERT_THAT(jws, IsOk());
  EXPECT_THAT(
      VerifyReceiptJws(*jws, kCa),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not yet valid")));
}

TEST(JwsReceiptSignerTest, ChangedPayloadFailsVerification) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  auto jws = signer->Sign(ContentNow());
  ASSERT_THAT(jws, IsOk());
  std::vector<std::string> parts = Parts(*jws);
  std::string payload = Decode(parts[1]);
  payload[payload.find("DELIVERED")] = 'X';
  std::string forged = absl::StrCat(
      parts[0], ".", absl::WebSafeBase64Escape(payload), ".", parts[2]);
  EXPECT_THAT(
      VerifyReceiptJws(forged, kCa),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
}

TEST(JwsReceiptSignerTest, ChangedSignatureFailsVerification) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  auto jws = signer->Sign(ContentNow());
  ASSERT_THAT(jws, IsOk());
  std::vector<std::string> parts = Parts(*jws);
  std::string sig = Decode(parts[2]);
  sig[10] ^= 0x01;
  std::string forged = absl::StrCat(parts[0], ".", parts[1], ".",
                                    absl::WebSafeBase64Escape(sig));
  EXPECT_THAT(VerifyReceiptJws(forged, kCa),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("")));
}

TEST(JwsReceiptSignerTest, NonCanonicalEncodingIsRejected) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  auto jws = signer->Sign(ContentNow());
  ASSERT_THAT(jws, IsOk());
  EXPECT_THAT(VerifyReceiptJws(*jws + "==", kCa),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("")));
  EXPECT_THAT(VerifyReceiptJws(*jws + ".x", kCa),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("")));
}

TEST(JwsReceiptSignerTest, AnotherCaIsNotTrusted) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  auto jws = signer->Sign(ContentNow());
  ASSERT_THAT(jws, IsOk());
  EXPECT_THAT(VerifyReceiptJws(*jws, "certs-dev/other-ca.pem"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("certificate chain")));
}

TEST(JwsReceiptSignerTest, OneVerifierChecksManyReceiptsConcurrently) {
  auto signer = DevSigner();
  ASSERT_NE(signer, nullptr);
  auto verifier = NewReceiptJwsVerifier(kCa);
  ASSERT_THAT(verifier, IsOk());
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        ReceiptContent c = ContentNow();
        c.sequence = t * 1000 + i;
        auto jws = signer->Sign(c);
        if (!jws.ok()) {
          ++failures[t];
          continue;
        }
        auto payload = (*verifier)->Verify(*jws);
        if (!payload.ok() || (*payload)["seq"] != c.sequence) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(failures, ::testing::Each(0));
}

TEST(JwsReceiptSignerTest, RsaKeyIsRefused) {
  EXPECT_THAT(NewJwsReceiptSigner({"certs-dev/tenant-964338531.key", kCert}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("P-256")));
}

TEST(JwsReceiptSignerTest, KeyNotMatchingTheCertificateIsRefused) {
  // A fresh P-256 key: the right kind, but not the certificate's.
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  std::string path =
      absl::StrCat(::testing::TempDir(), "/other-", getpid(), ".key");
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr),
            1);
  std::fclose(f);
  EVP_PKEY_free(key);
  EXPECT_THAT(NewJwsReceiptSigner({path, kCert}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not match")));
  std::remove(path.c_str());
}

TEST(JwsReceiptSignerTest, MissingFilesAreNamed) {
  EXPECT_THAT(NewJwsReceiptSigner({"certs-dev/nope.key", kCert}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("certs-dev/nope.key")));
  EXPECT_THAT(NewJwsReceiptSigner({kKey, "certs-dev/nope.pem"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("certs-dev/nope.pem")));
  EXPECT_THAT(NewJwsReceiptSigner({kKey, ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cert_chain_file")));
}

TEST(JwsReceiptSignerTest,
     RotationSignsWithTheNewestDueKeyAndOldReceiptsStillVerify) {
  // After make-certs.sh made the certificates: receipts are checked against
  // their certificate's validity at their own time.
  const int64_t switch_ms = RealClock()->NowMillis() / 1000 * 1000 + 5000;
  FakeClock clock(switch_ms - 1000);
  JwsSignerOptions old_key{kKey, kCert, 0};
  JwsSignerOptions new_key{"certs-dev/receipts-2.key",
                           "certs-dev/receipts-2.pem", switch_ms};
  // Given newest first: the order of the list does not matter.
  auto signer = NewRotatingReceiptSigner({new_key, old_key}, &clock);
  ASSERT_THAT(signer, IsOk());

  ReceiptContent c = SampleContent();
  c.time_ms = clock.NowMillis();
  auto before = (*signer)->Sign(c);
  ASSERT_THAT(before, IsOk());
  auto certs = (*signer)->SigningCertificates();
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_TRUE(certs[0].active);
  EXPECT_FALSE(certs[1].active);
  EXPECT_THAT(certs[1].subject, HasSubstr("Utpost receipt signer 2"));
  EXPECT_GT(certs[1].not_after_ms, certs[1].not_before_ms);

  clock.Advance(2000);
  c.time_ms = clock.NowMillis();
  auto after = (*signer)->Sign(c);
  ASSERT_THAT(after, IsOk());
  certs = (*signer)->SigningCertificates();
  EXPECT_FALSE(certs[0].active);
  EXPECT_TRUE(certs[1].active);

  auto h_before = nlohmann::json::parse(Decode(Parts(*before)[0]));
  auto h_after = nlohmann::json::parse(Decode(Parts(*after)[0]));
  EXPECT_NE(h_before["x5c"][0], h_after["x5c"][0]);
  std::string b64;
  for (absl::string_view line :
       absl::StrSplit(ReadFile("certs-dev/receipts-2.pem"), '\n')) {
    if (!line.empty() && line[0] != '-') absl::StrAppend(&b64, line);
  }
  EXPECT_EQ(h_after["x5c"][0], b64);
  // Both verify against the CA alone, each by its own x5c.
  EXPECT_THAT(VerifyReceiptJws(*before, kCa), IsOk());
  EXPECT_THAT(VerifyReceiptJws(*after, kCa), IsOk());

  TreeHeadContent head{5, std::string(32, '\x01'), clock.NowMillis()};
  auto sth = (*signer)->SignTreeHead(head);
  ASSERT_THAT(sth, IsOk());
  auto payload = VerifyReceiptJws(*sth, kCa);
  ASSERT_THAT(payload, IsOk());
  EXPECT_EQ((*payload)["tree_size"], 5);
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "01";
  EXPECT_EQ((*payload)["root_hash"], hex);
  EXPECT_EQ(nlohmann::json::parse(Decode(Parts(*sth)[0]))["typ"],
            "utpost-tree-head+jws");
}

TEST(JwsReceiptSignerTest, RotationNeedsAKey) {
  EXPECT_THAT(NewRotatingReceiptSigner({}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no signing key")));
  EXPECT_THAT(NewRotatingReceiptSigner(
                  {{kKey, kCert, 0}, {"certs-dev/nope.key", kCert, 5}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key 1")));
}

}  // namespace
}  // namespace utpost::receipts
