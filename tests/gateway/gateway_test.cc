#include "gateway/gateway.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/status_matchers.h"
#include "gateway/config/config_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_store.h"

namespace utpost::gateway {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

// Nothing listens on port 1: the broker and the providers are down, which
// start-up and shutdown must both take in their stride.
constexpr char kConfig[] = R"(
role: ROLE
server:
  listen: 127.0.0.1:LISTEN
  cert_file: certs-dev/server.pem
  key_file: certs-dev/server.key
  client_ca_file: certs-dev/ca.pem
store:
  sqlite_path: STORE
broker: {port: 1}
tenants:
  - organisation_number: "964338531"
    name: Bergen kommune
    return_address: {name: Bergen kommune, address_lines: [Postboks 7700], postal_code: "5020", city: Bergen}
receipts:
  key_file: RECEIPT_KEY
  cert_chain_file: certs-dev/receipts.pem
providers:
  ca_file: certs-dev/ca.pem
  registry_url: https://127.0.0.1:1
  digipost: {url: "https://127.0.0.1:1", sender_id: "100001", signing_key_file: certs-dev/sender.key, certificate_ca_file: certs-dev/ca.pem}
  print: {url: "https://127.0.0.1:1"}
documents: {inspector_path: INSPECTOR}
observability:
  health_listen: 127.0.0.1:0
  metrics_listen: 127.0.0.1:0
  shutdown_grace_seconds: 60
)";

class GatewayTest : public ::testing::Test {
 protected:
  config::v1::Config ConfigFor(
      const std::string& role, const std::string& listen_port = "0",
      const std::string& receipt_key = "certs-dev/receipts.key") {
    const std::string yaml =
        absl::StrReplaceAll(kConfig, {{"ROLE", role},
                                      {"LISTEN", listen_port},
                                      {"STORE", files_.path()},
                                      {"RECEIPT_KEY", receipt_key},
                                      {"INSPECTOR", UTPOST_INSPECT_BINARY}});
    auto c = config::ParseConfig(yaml, std::filesystem::current_path());
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *c : config::v1::Config();
  }

  testing::TempStoreFiles files_{"gateway"};
};

// The whole teardown of a started gateway, timed. The grace is 60 s, so
// the watchdog cannot end the test process first.
absl::Duration TimeTeardown(std::unique_ptr<Gateway> g) {
  const absl::Time start = absl::Now();
  g.reset();
  return absl::Now() - start;
}

TEST_F(GatewayTest, EveryRoleStartsWithoutBrokerAndStopsPromptly) {
  for (const std::string role : {"worker", "api", "all"}) {
    SCOPED_TRACE(role);
    auto g = Gateway::Start(ConfigFor(role));
    ASSERT_THAT(g, IsOk());
    absl::SleepFor(absl::Milliseconds(300));  // Let the threads get going.
    const absl::Duration took = TimeTeardown(std::move(*g));
    RecordProperty(role + "_teardown_ms", absl::ToInt64Milliseconds(took));
    EXPECT_LT(took, absl::Seconds(10));
  }
}

TEST_F(GatewayTest, ShutdownEndsWait) {
  auto g = Gateway::Start(ConfigFor("worker"));
  ASSERT_THAT(g, IsOk());
  Gateway* gateway = g->get();
  std::thread stopper([gateway] {
    absl::SleepFor(absl::Milliseconds(100));
    gateway->Shutdown();
  });
  gateway->Wait();
  stopper.join();
  gateway->Shutdown();  // Idempotent.
  gateway->Wait();      // Returns at once now.
}

TEST_F(GatewayTest, UnreadableReceiptKeyIsNamed) {
  EXPECT_THAT(
      Gateway::Start(ConfigFor("all", "0", "certs-dev/no-such.key")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("receipts")));
}

TEST_F(GatewayTest, PortInUseIsNamedAndTheHalfBuiltGatewayGoes) {
  // A port that is taken for as long as the test runs.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = absl::StrCat(ntohs(addr.sin_port));

  const absl::Time start = absl::Now();
  EXPECT_THAT(
      Gateway::Start(ConfigFor("all", port)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("server.listen")));
  // The relay, the tree heads and the rest already started are gone again.
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  close(fd);
}

}  // namespace
}  // namespace utpost::gateway
