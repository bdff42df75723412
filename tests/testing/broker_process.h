// A private RabbitMQ node for integration tests, run through
// scripts/rabbitmq.sh: loopback only, its own data directory, stopped by pid.
//
//   absl::StatusOr<std::unique_ptr<BrokerProcess>> broker =
//       BrokerProcess::Start();
//   options.port = (*broker)->port();
//
// Starting takes about 10 s, so start one per test suite. Not thread-safe:
// call it from one thread (clients on other threads may keep running).
#ifndef UTPOST_TESTS_TESTING_BROKER_PROCESS_H_
#define UTPOST_TESTS_TESTING_BROKER_PROCESS_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace utpost::testing {

class BrokerProcess {
 public:
  // Picks a free loopback port in [5700, 12700] (its +10000 and +20000
  // neighbours, used by epmd and Erlang distribution, free too: all below
  // the ephemeral range), makes a temporary directory and returns once the
  // node accepts connections. Should the node fail to start, tries once
  // more with another port and directory. The script is found as
  // scripts/rabbitmq.sh under the working directory (tests run from the repo
  // root), else under the source tree the test was built from.
  static absl::StatusOr<std::unique_ptr<BrokerProcess>> Start();

  // Stops the node and removes its directory (kept when the environment
  // variable UTPOST_KEEP_BROKER_DIR is set, for post-mortems).
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // The AMQP port on 127.0.0.1.
  int port() const { return port_; }
  // The node's directory (data, logs).
  const std::string& dir() const { return dir_; }

  // Stops the node. Its data stays, so Restart() brings back durable queues
  // and persistent messages. Stopping a stopped node is OK.
  absl::Status Stop();
  // Stops the node if running, then starts it again on the same port and
  // directory.
  absl::Status Restart();

 private:
  BrokerProcess(std::string script, std::string dir, int port)
      : script_(std::move(script)), dir_(std::move(dir)), port_(port) {}

  absl::Status StartNode();
  absl::Status RunScript(const std::vector<std::string>& args);

  const std::string script_;
  const std::string dir_;
  const int port_;
  bool running_ = false;
};

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_BROKER_PROCESS_H_
