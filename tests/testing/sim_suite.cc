#include "tests/testing/sim_suite.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/http/curl_http_client.h"
#include "common/status_matchers.h"
#include "sim/persons.h"

namespace utpost::testing {

sim::SimulatorOptions SimulatorSuite::DefaultOptions() {
  sim::SimulatorOptions options;
  options.port = 0;
  options.cert_file = "certs-dev/server.pem";
  options.key_file = "certs-dev/server.key";
  options.sender_cert_file = "certs-dev/sender.pem";
  auto persons = sim::LoadPersons("sim/data/persons.yaml");
  EXPECT_THAT(persons, IsOk());
  if (persons.ok()) options.persons = *std::move(persons);
  return options;
}

void SimulatorSuite::StartSuite(sim::SimulatorOptions options) {
  auto simulator = sim::StartSimulator(std::move(options));
  ASSERT_THAT(simulator, IsOk());
  simulator_ = simulator->release();
  adapters::CurlHttpClientOptions http;
  http.ca_file = "certs-dev/ca.pem";
  http.timeout_ms = 10000;
  auto client = adapters::NewCurlHttpClient(http);
  ASSERT_THAT(client, IsOk());
  http_ = client->release();
}

void SimulatorSuite::TearDownTestSuite() {
  delete http_;
  http_ = nullptr;
  delete simulator_;
  simulator_ = nullptr;
}

void SimulatorSuite::SetUp() {
  ASSERT_NE(simulator_, nullptr);
  ASSERT_EQ(Control("POST", "/sim/v1/reset", "").status, 204);
}

std::string SimulatorSuite::BaseUrl() {
  return absl::StrCat("https://127.0.0.1:", simulator_->port());
}

adapters::HttpResponse SimulatorSuite::Control(const std::string& method,
                                               const std::string& path,
                                               const std::string& body,
                                               const std::string& type) {
  adapters::HttpRequest request;
  request.method = method;
  request.url = BaseUrl() + path;
  request.body = body;
  if (!body.empty()) request.headers = {{"Content-Type", type}};
  absl::StatusOr<adapters::HttpResponse> response = http_->Do(request);
  EXPECT_THAT(response, IsOk());
  return response.ok() ? *response : adapters::HttpResponse{};
}

nlohmann::json SimulatorSuite::Deliveries() {
  return nlohmann::json::parse(Control("GET", "/sim/v1/deliveries", "").body);
}

void SimulatorSuite::InjectFault(const std::string& endpoint, int status,
                                 int count, int delay_ms) {
  nlohmann::json fault = {{"endpoint", endpoint},
                          {"status", status},
                          {"count", count},
                          {"delay_ms", delay_ms}};
  ASSERT_EQ(Control("POST", "/sim/v1/faults", fault.dump()).status, 204);
}

}  // namespace utpost::testing
