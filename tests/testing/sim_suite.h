// A test suite against utpost-sim started in this process: one simulator
// per suite, an HTTPS client that trusts the dev CA, and the simulator's
// test-control calls. The simulator is reset before every test.
#ifndef UTPOST_TESTS_TESTING_SIM_SUITE_H_
#define UTPOST_TESTS_TESTING_SIM_SUITE_H_

#include <string>

#include "adapters/http/http_client.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sim/simulator.h"

namespace utpost::testing {

class SimulatorSuite : public ::testing::Test {
 protected:
  // What every suite starts from: any free port, the certs-dev server and
  // sender certificates, the persons of sim/data/persons.yaml.
  static sim::SimulatorOptions DefaultOptions();
  // Starts the simulator and the client; call from SetUpTestSuite.
  static void StartSuite(sim::SimulatorOptions options);
  static void TearDownTestSuite();
  void SetUp() override;

  static std::string BaseUrl();
  static adapters::HttpResponse Control(
      const std::string& method, const std::string& path,
      const std::string& body, const std::string& type = "application/json");
  static nlohmann::json Deliveries();
  // The next `count` requests to `endpoint` wait `delay_ms` and fail with
  // `status`.
  static void InjectFault(const std::string& endpoint, int status, int count,
                          int delay_ms = 0);

  static inline sim::Simulator* simulator_ = nullptr;
  static inline adapters::HttpClient* http_ = nullptr;
};

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_SIM_SUITE_H_
