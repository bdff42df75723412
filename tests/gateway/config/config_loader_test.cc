#include "gateway/config/config_loader.h"

#include <cstdlib>
#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::config {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
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

TEST(ConfigLoaderTest, FillsDefaultsAndResolvesPaths) {
  auto c = ParseConfig(kMinimal, "/etc/utpost");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->role(), "all");
  EXPECT_EQ(c->server().listen(), "127.0.0.1:7443");
  EXPECT_EQ(c->server().cert_file(), "/etc/utpost/s.pem");
  EXPECT_EQ(c->store().sqlite_path(), "/etc/utpost/utpost.db");
  EXPECT_EQ(c->broker().port(), 5672);
  EXPECT_EQ(c->broker().prefix(), "utpost");
  EXPECT_EQ(c->limits().max_documents(), 10);
  EXPECT_EQ(c->retry().max_attempts(), 6);
  EXPECT_THAT(c->retry().delays_seconds(),
              ::testing::ElementsAre(20, 60, 180, 540, 1620, 3600));
  EXPECT_EQ(c->dispatch().dpi_providers(0), "922020175");
  EXPECT_EQ(c->tenants(0).organisation_number(), "964338531");
}

// Kubernetes gives the broker's credentials as environment variables from a
// Secret (the RabbitMQ operator's default user); they win over the file.
TEST(ConfigLoaderTest, BrokerCredentialsFromTheEnvironmentWin) {
  setenv("UTPOST_BROKER_USER", "default_user_x", 1);
  setenv("UTPOST_BROKER_PASSWORD", "s3cret", 1);
  auto c = ParseConfig(
      std::string(kMinimal) + "broker: {user: u, password: p}\n", "/");
  unsetenv("UTPOST_BROKER_USER");
  unsetenv("UTPOST_BROKER_PASSWORD");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->broker().user(), "default_user_x");
  EXPECT_EQ(c->broker().password(), "s3cret");
  auto plain = ParseConfig(kMinimal, "/");
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->broker().user(), "guest");
}

// kMinimal with its print line replaced by `print`.
std::string WithPrint(const std::string& print) {
  std::string yaml = kMinimal;
  const std::string line = "  print: {url: \"https://127.0.0.1:1\"}";
  yaml.replace(yaml.find(line), line.size(), "  print: " + print);
  return yaml;
}

TEST(ConfigLoaderTest, PrintHasDefaults) {
  auto c = ParseConfig(kMinimal, "/etc/utpost");
  ASSERT_THAT(c, IsOk());
  const auto& print = c->providers().print();
  EXPECT_EQ(print.max_sheets(), 14);
  EXPECT_FALSE(print.cover_page());
  EXPECT_EQ(print.cover_page_font(),
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
  EXPECT_EQ(print.batch_max_letters(), 100);
  EXPECT_EQ(print.batch_max_wait_ms(), 20);
  EXPECT_EQ(print.batch_max_jobs_in_flight(), 4);
  EXPECT_EQ(print.batch_max_bytes(), 32 << 20);
}

TEST(ConfigLoaderTest, PrintSettingsAreChecked) {
  auto c = ParseConfig(
      WithPrint("{url: \"https://p\", max_sheets: 8, cover_page: true, "
                "batch_max_letters: 10, batch_max_wait_ms: 5}"),
      "/");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->providers().print().max_sheets(), 8);
  EXPECT_TRUE(c->providers().print().cover_page());
  EXPECT_EQ(c->providers().print().batch_max_letters(), 10);
  EXPECT_EQ(c->providers().print().batch_max_wait_ms(), 5);
  EXPECT_THAT(
      ParseConfig(WithPrint("{url: \"https://p\", max_sheets: -1}"), "/"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("providers.print.max_sheets")));
  EXPECT_THAT(ParseConfig(WithPrint("{url: \"https://p\", cover_page: true, "
                                    "cover_page_font: /none/x.ttf}"),
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("providers.print.cover_page_font")));
  EXPECT_THAT(
      ParseConfig(WithPrint("{url: \"https://p\", batch_max_letters: -3}"),
                  "/"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("providers.print.batch_max_letters")));
}

TEST(ConfigLoaderTest, RetryDelaysFollowTheBackoffUnlessListed) {
  auto c = ParseConfig(std::string(kMinimal) +
                           "retry: {initial_delay_seconds: 1, multiplier: 2, "
                           "max_delay_seconds: 10}\n",
                       "/");
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT(c->retry().delays_seconds(),
              ::testing::ElementsAre(1, 2, 4, 8, 10));
  EXPECT_EQ(c->dispatch().stuck_after_seconds(), 600);
  c = ParseConfig(std::string(kMinimal) +
                      "retry: {delays_seconds: [5, 7], multiplier: 2}\n",
                  "/");
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT(c->retry().delays_seconds(), ::testing::ElementsAre(5, 7));
  c = ParseConfig(std::string(kMinimal) +
                      "retry: {initial_delay_seconds: 100, "
                      "max_delay_seconds: 10}\n",
                  "/");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("retry.max_delay_seconds")));
}

TEST(ConfigLoaderTest, TenantLimitsAreReadAndChecked) {
  auto c = ParseConfig(std::string(kMinimal) +
                           "    limits: {letters_per_day: 50000}\n"
                           "tenant_limits: {letters_per_second: 20.5, "
                           "burst: 100}\n",
                       "/");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->tenant_limits().letters_per_second(), 20.5);
  EXPECT_EQ(c->tenant_limits().burst(), 100);
  EXPECT_EQ(c->tenants(0).limits().letters_per_day(), 50000);
  EXPECT_EQ(c->tenants(0).limits().letters_per_second(), 0);

  const struct {
    const char* yaml;
    const char* named;
  } bad[] = {
      {"tenant_limits: {letters_per_second: -1}\n",
       "tenant_limits.letters_per_second"},
      {"tenant_limits: {letters_per_second: .nan}\n",
       "tenant_limits.letters_per_second"},
      {"tenant_limits: {letters_per_second: 100001}\n",
       "tenant_limits.letters_per_second"},
      {"tenant_limits: {burst: -2}\n", "tenant_limits.burst"},
      {"    limits: {letters_per_day: -5}\n",
       "tenants[0].limits.letters_per_day"},
      {"    limits: {letters_per_day: 1000000001}\n",
       "tenants[0].limits.letters_per_day"},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.yaml);
    EXPECT_THAT(
        ParseConfig(std::string(kMinimal) + b.yaml, "/"),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(b.named)));
  }
}

TEST(ConfigLoaderTest, UnknownSettingIsNamed) {
  auto c = ParseConfig(std::string(kMinimal) + "brokr: {port: 1}\n", "/");
  EXPECT_THAT(c,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("brokr")));
}

TEST(ConfigLoaderTest, BadValueIsNamed) {
  auto c = ParseConfig(std::string(kMinimal) + "broker: {port: 70000}\n", "/");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("broker.port")));
  c = ParseConfig(std::string(kMinimal) + "role: everything\n", "/");
  EXPECT_THAT(c,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("role")));
}

TEST(ConfigLoaderTest, BrokerNodesAreHostAndPort) {
  auto c = ParseConfig(std::string(kMinimal) +
                           "broker: {nodes: [\"rabbit-1:5672\", "
                           "\"10.0.0.7:5673\", \"[::1]:5674\"]}\n",
                       "/");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->broker().nodes_size(), 3);
  EXPECT_EQ(c->broker().nodes(2), "[::1]:5674");
  for (const char* bad :
       {"rabbit-1", "rabbit-1:", ":5672", "rabbit-1:0", "rabbit-1:65536",
        "::1:5672", "rab bit:5672", "rabbit-1:5672x"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseConfig(std::string(kMinimal) +
                                "broker: {nodes: [\"a:1\", \"" + bad + "\"]}\n",
                            "/"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("broker.nodes[1]")));
  }
}

TEST(ConfigLoaderTest, MissingRequiredSettingIsNamed) {
  auto c = ParseConfig("server: {cert_file: a, key_file: b}\n", "/");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("server.client_ca_file")));
}

TEST(ConfigLoaderTest, TenantNeedsNineDigits) {
  auto c = ParseConfig(std::string(kMinimal) + "operators: [op]\n" +
                           "tenants: [{organisation_number: \"12345\"}]\n",
                       "/");
  // A duplicate key is a YAML error or the later value wins; either way the
  // bad number must not be accepted silently.
  EXPECT_FALSE(c.ok());
}

TEST(ConfigLoaderTest, TenantNeedsAReturnAddress) {
  auto c = ParseConfig(R"(
server: {cert_file: s.pem, key_file: s.key, client_ca_file: ca.pem}
receipts: {key_file: r.key, cert_chain_file: r.pem}
role: api
tenants: [{organisation_number: "964338531", name: Bergen}]
)",
                       "/");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("tenants[0].return_address")));
}

TEST(ConfigLoaderTest, LogLevelAndLimitsAreChecked) {
  EXPECT_THAT(
      ParseConfig(std::string(kMinimal) + "log_level: verbose\n", "/"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("log_level")));
  EXPECT_THAT(ParseConfig(std::string(kMinimal) + "limits: {max_letter_bytes: "
                                                  "5000000000}\n",
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("limits.max_letter_bytes")));
  EXPECT_THAT(
      ParseConfig(std::string(kMinimal) + "broker: {prefetch: 70000}\n", "/"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("broker.prefetch")));
}

TEST(ConfigLoaderTest, ObservabilityDefaultsAndChecks) {
  auto c = ParseConfig(kMinimal, "/");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->observability().metrics_listen(), "");
  EXPECT_EQ(c->observability().health_listen(), "");
  EXPECT_EQ(c->observability().log_format(), "json");
  EXPECT_EQ(c->observability().shutdown_grace_seconds(), 20);
  EXPECT_EQ(c->observability().server_read_timeout_ms(), 2000);
  EXPECT_EQ(c->observability().server_write_timeout_ms(), 2000);
  EXPECT_EQ(c->observability().metrics_max_connections(), 64);
  EXPECT_EQ(c->observability().health_max_concurrent_streams(), 16);
  EXPECT_EQ(c->observability().health_max_connection_idle_seconds(), 60);
  EXPECT_THAT(ParseConfig(std::string(kMinimal) +
                              "observability: {server_read_timeout_ms: 5}\n",
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("observability.server_read_timeout_ms")));
  EXPECT_THAT(ParseConfig(std::string(kMinimal) +
                              "observability: {metrics_max_connections: -1}\n",
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("observability.metrics_max_connections")));
  EXPECT_THAT(
      ParseConfig(std::string(kMinimal) + "observability: {log_format: xml}\n",
                  "/"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("observability.log_format")));
  EXPECT_THAT(ParseConfig(std::string(kMinimal) +
                              "observability: {metrics_listen: \"9464\"}\n",
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("observability.metrics_listen")));
  EXPECT_THAT(ParseConfig(std::string(kMinimal) +
                              "observability: {shutdown_grace_seconds: -1}\n",
                          "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("observability.shutdown_grace_seconds")));
}

TEST(ConfigLoaderTest, MissingFileIsNotFound) {
  EXPECT_THAT(LoadConfigFile("/nonexistent/utpostd.yaml"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nonexistent")));
}

TEST(ConfigLoaderTest, PricingIsOptionalAndDefaultsToNok) {
  auto c = ParseConfig(kMinimal, "/etc/utpost");
  ASSERT_THAT(c, IsOk());
  EXPECT_FALSE(c->has_pricing());
  c = ParseConfig(std::string(kMinimal) +
                      "pricing: {print_per_sheet: 40, postage_b: 2100}\n",
                  "/etc/utpost");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->pricing().currency(), "NOK");
  EXPECT_EQ(c->pricing().print_per_sheet(), 40);
  EXPECT_EQ(c->pricing().postage_b(), 2100);
  EXPECT_EQ(c->pricing().digital_per_letter(), 0);
}

TEST(ConfigLoaderTest, PricesMustNotBeNegative) {
  for (const char* field :
       {"digital_per_letter", "dpi_per_letter", "altinn_per_letter",
        "print_per_letter", "print_per_sheet", "postage_b", "postage_a"}) {
    auto c =
        ParseConfig(std::string(kMinimal) + "pricing: {" + field + ": -1}\n",
                    "/etc/utpost");
    EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument,
                            HasSubstr(std::string("pricing.") + field)))
        << field;
  }
  auto c = ParseConfig(std::string(kMinimal) + "pricing: {currency: nok}\n",
                       "/etc/utpost");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("pricing.currency")));
}

}  // namespace
}  // namespace utpost::config
