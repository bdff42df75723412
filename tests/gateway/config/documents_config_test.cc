// The `documents` section: the document policy and the inspection sandbox.
#include <string>

#include "common/status_matchers.h"
#include "gateway/config/config_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::config {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::StatusIs;

constexpr char kMinimal[] = R"(
server: {cert_file: s.pem, key_file: s.key, client_ca_file: ca.pem}
receipts: {key_file: r.key, cert_chain_file: r.pem}
providers:
  registry_url: https://127.0.0.1:1
  digipost: {url: "https://127.0.0.1:1", sender_id: "1", signing_key_file: k.pem}
  print: {url: "https://127.0.0.1:1"}
tenants:
  - organisation_number: "964338531"
    name: Bergen
    return_address: {name: Bergen kommune, address_lines: [Postboks 7700], postal_code: "5020", city: Bergen}
)";

TEST(DocumentsConfigTest, FillsDefaults) {
  auto c = ParseConfig(kMinimal, "/etc/utpost");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& d = c->documents();
  EXPECT_EQ(d.max_pages(), 1000);
  EXPECT_EQ(d.max_page_tree_depth(), 32);
  EXPECT_EQ(d.max_decoded_bytes(), int64_t{256} << 20);
  EXPECT_EQ(d.inspector_workers(), 2);
  EXPECT_EQ(d.inspector_queue(), 32);
  EXPECT_EQ(d.inspection_timeout_seconds(), 10);
  EXPECT_EQ(d.inspector_memory_bytes(), int64_t{512} << 20);
  EXPECT_EQ(d.inspector_cpu_seconds(), 5);
  EXPECT_EQ(d.inspector_letters_per_worker(), 64);
  EXPECT_EQ(d.inspector_path(), "");
}

TEST(DocumentsConfigTest, ResolvesTheInspectorPath) {
  auto c = ParseConfig(std::string(kMinimal) +
                           "documents: {inspector_path: bin/utpost-inspect}\n",
                       "/etc/utpost");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->documents().inspector_path(), "/etc/utpost/bin/utpost-inspect");
}

TEST(DocumentsConfigTest, NamesTheBadSetting) {
  for (const char* bad : {
           "documents: {max_pages: -1}",
           "documents: {max_page_tree_depth: 5000}",
           "documents: {max_decoded_bytes: 1000}",
           "documents: {inspector_workers: 100}",
           "documents: {inspector_queue: -2}",
           "documents: {inspection_timeout_seconds: 1000}",
           "documents: {inspector_cpu_seconds: -1}",
           "documents: {inspector_letters_per_worker: -1}",
           "documents: {inspector_letters_per_worker: 20000}",
       }) {
    const std::string setting =
        std::string(bad).substr(12, std::string(bad).find(':', 12) - 12);
    EXPECT_THAT(ParseConfig(std::string(kMinimal) + bad + "\n", "/"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("documents." + setting)))
        << bad;
  }
  // The worker must hold a whole letter.
  EXPECT_THAT(ParseConfig(std::string(kMinimal) +
                              "limits: {max_letter_bytes: 500000000}\n",
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents.inspector_memory_bytes")));
}

}  // namespace
}  // namespace utpost::config
