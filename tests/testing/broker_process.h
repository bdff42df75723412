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

// A private RabbitMQ cluster of N nodes on loopback, run through
// scripts/rabbitmq-cluster.sh: distinct node names and ports, one shared
// epmd and Erlang cookie, one temporary directory, stopped by pid.
//
//   absl::StatusOr<std::unique_ptr<BrokerCluster>> cluster =
//       BrokerCluster::Start(3);
//   options.nodes = (*cluster)->Nodes();   // {"127.0.0.1:P1", ...}
//   (*cluster)->StopNode(0);                // and StartNode(0) later
//
// Starting three nodes takes about 20 s on two cores (the first node, then
// the other two together, joining it). Not thread-safe: call it from one
// thread (clients on other threads may keep running).
class BrokerCluster {
 public:
  // Picks free loopback ports (AMQP base .. base + n - 1, epmd base + 10000,
  // distribution each AMQP port + 20000, all below the ephemeral range),
  // makes a temporary directory and returns once every node runs and sees
  // all n as running members. Tries once more with other ports should it
  // fail. The script is found as BrokerProcess finds its own.
  static absl::StatusOr<std::unique_ptr<BrokerCluster>> Start(int nodes = 3);

  // Stops every node and epmd and removes the directory (kept when the
  // environment variable UTPOST_KEEP_BROKER_DIR is set).
  ~BrokerCluster();
  BrokerCluster(const BrokerCluster&) = delete;
  BrokerCluster& operator=(const BrokerCluster&) = delete;

  int size() const { return count_; }
  // The AMQP port of node `i` (0-based) on 127.0.0.1.
  int port(int i) const { return base_port_ + i; }
  // "127.0.0.1:port" of node `i`, and of every node in order.
  std::string Node(int i) const;
  std::vector<std::string> Nodes() const;
  // The Erlang node name of node `i`, as rabbitmqctl and the management
  // tools show it ("utpost-5701@localhost").
  std::string NodeName(int i) const;
  const std::string& dir() const { return dir_; }

  // Stops node `i` (its data stays). Stopping a stopped node is OK.
  absl::Status StopNode(int i);
  // Kills node `i` (SIGKILL: no connection is closed politely, nothing
  // handed over); its data stays.
  absl::Status KillNode(int i);
  // Starts node `i` again; returns once it runs and sees every running
  // node as a member.
  absl::Status StartNode(int i);
  // rabbitmqctl on node `i`; its standard output into `*output` if given.
  absl::Status Ctl(int i, const std::vector<std::string>& args,
                   std::string* output = nullptr);

 private:
  BrokerCluster(std::string script, std::string dir, int base_port, int count)
      : script_(std::move(script)),
        dir_(std::move(dir)),
        base_port_(base_port),
        count_(count),
        running_(count, false) {}

  absl::Status RunScript(const std::vector<std::string>& args,
                         std::string* output = nullptr);

  const std::string script_;
  const std::string dir_;
  const int base_port_;
  const int count_;
  std::vector<bool> running_;
  bool started_ = false;
};

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_BROKER_PROCESS_H_
