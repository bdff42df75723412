// Configuration of the receipt log (#4): signing keys over time, tree head
// interval, retention.
#include "common/status_matchers.h"
#include "gateway/config/config_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::config {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

constexpr char kBase[] = R"(
server: {cert_file: s.pem, key_file: s.key, client_ca_file: ca.pem}
providers:
  registry_url: https://127.0.0.1:1
  digipost: {url: "https://127.0.0.1:1", sender_id: "1", signing_key_file: k.pem}
  print: {url: "https://127.0.0.1:1"}
)";

TEST(ReceiptLogConfigTest, DefaultsKeepDocumentsAndSignHeadsEveryFiveMinutes) {
  auto c =
      ParseConfig(std::string(kBase) +
                      "receipts: {key_file: r.key, cert_chain_file: r.pem}\n",
                  "/etc/utpost");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->receipt_log().tree_head_interval_seconds(), 300);
  EXPECT_EQ(c->retention().documents_days(), 0);
  EXPECT_EQ(c->retention().sweep_interval_seconds(), 3600);
}

TEST(ReceiptLogConfigTest, RotationKeysAreResolvedAndTheirTimesChecked) {
  auto c = ParseConfig(std::string(kBase) + R"(
receipts:
  keys:
    - {key_file: r1.key, cert_chain_file: r1.pem}
    - {key_file: r2.key, cert_chain_file: r2.pem, not_before: "2027-01-01T00:00:00Z"}
receipt_log: {tree_head_interval_seconds: 10}
retention: {documents_days: 90}
)",
                       "/etc/utpost");
  ASSERT_THAT(c, IsOk());
  ASSERT_EQ(c->receipts().keys_size(), 2);
  EXPECT_EQ(c->receipts().keys(1).key_file(), "/etc/utpost/r2.key");
  EXPECT_EQ(c->receipts().keys(1).cert_chain_file(), "/etc/utpost/r2.pem");
  EXPECT_EQ(c->receipt_log().tree_head_interval_seconds(), 10);
  EXPECT_EQ(c->retention().documents_days(), 90);

  auto bad = ParseConfig(std::string(kBase) + R"(
receipts:
  keys: [{key_file: r.key, cert_chain_file: r.pem, not_before: "next year"}]
)",
                         "/");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument,
                            HasSubstr("receipts.keys[0].not_before")));
  bad = ParseConfig(
      std::string(kBase) + "receipts: {keys: [{key_file: r.key}]}\n", "/");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument,
                            HasSubstr("receipts.keys[0].cert_chain_file")));
  bad = ParseConfig(std::string(kBase) +
                        "receipts: {key_file: r.key, cert_chain_file: r.pem}\n"
                        "retention: {documents_days: -1}\n",
                    "/");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument,
                            HasSubstr("retention.documents_days")));
}

TEST(ReceiptLogConfigTest, SomeKeyIsRequired) {
  auto c = ParseConfig(kBase, "/");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("receipts.key_file")));
}

}  // namespace
}  // namespace utpost::config
