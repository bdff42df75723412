// The RabbitMQ publisher, consumer and admin against a private three-node
// cluster, with a node stopped while they work: the publisher republishes
// what was unconfirmed on another node, the consumer consumes on another
// node, and nothing confirmed is lost. One cluster serves the whole suite;
// each test uses its own topology prefix and brings back what it stopped.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "queue/amqp_broker.h"
#include "queue/queue.h"
#include "tests/testing/broker_process.h"

namespace utpost::queue {
namespace {

using ::testing::SizeIs;
using ::testing::UnorderedElementsAreArray;
using ::utpost::testing::BrokerCluster;
using ::utpost::testing::IsOk;

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr int kNodes = 3;

std::vector<OutgoingMessage> Messages(const std::string& exchange,
                                      const std::string& key,
                                      const std::string& body_prefix, int first,
                                      int count) {
  std::vector<OutgoingMessage> messages;
  for (int i = first; i < first + count; ++i) {
    messages.push_back({exchange, key, body_prefix + std::to_string(i)});
  }
  return messages;
}

// Runs Consumer::Run on its own thread and records the distinct bodies.
// With `hold_at`, the handler stops (inside the call, its delivery not yet
// acked) once that many distinct bodies arrived, until Release().
class ConsumerThread {
 public:
  ConsumerThread(const BrokerOptions& options, std::vector<std::string> queues,
                 size_t hold_at = 0)
      : consumer_(NewAmqpConsumer(options)), hold_at_(hold_at) {
    thread_ = std::thread([this, queues = std::move(queues)] {
      absl::Status status = consumer_->Run(
          queues,
          [this](const Delivery& d) {
            std::unique_lock<std::mutex> lock(mu_);
            ++deliveries_;
            bodies_.insert(d.body);
            changed_.notify_all();
            if (hold_at_ > 0 && bodies_.size() >= hold_at_) {
              held_ = true;
              changed_.notify_all();
              changed_.wait(lock, [this] { return released_; });
            }
            return Disposition::kAck;
          },
          &stop_);
      std::lock_guard<std::mutex> lock(mu_);
      status_ = status;
      finished_ = true;
      changed_.notify_all();
    });
  }

  ~ConsumerThread() { Stop().IgnoreError(); }

  // Waits until the handler holds (see hold_at); false after `timeout`.
  bool WaitHeld(SteadyClock::duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [this] { return held_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    changed_.notify_all();
  }

  // Stops the consumer and returns what Run returned.
  absl::Status Stop() {
    Release();
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

  // Waits until `count` distinct bodies arrived, Run returned, or `timeout`.
  bool WaitForDistinct(size_t count, SteadyClock::duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [&] {
      return finished_ || bodies_.size() >= count;
    }) && bodies_.size() >= count;
  }

  std::set<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  size_t deliveries() {
    std::lock_guard<std::mutex> lock(mu_);
    return deliveries_;
  }

 private:
  std::unique_ptr<Consumer> consumer_;
  const size_t hold_at_;
  bool held_ = false;
  bool released_ = false;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable changed_;
  std::set<std::string> bodies_;
  size_t deliveries_ = 0;
  absl::Status status_;
  bool finished_ = false;
  std::thread thread_;
};

class AmqpClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto started = SteadyClock::now();
    absl::StatusOr<std::unique_ptr<BrokerCluster>> cluster =
        BrokerCluster::Start(kNodes);
    start_seconds_ =
        std::chrono::duration<double>(SteadyClock::now() - started).count();
    if (cluster.ok()) {
      cluster_ = cluster->release();
    } else {
      start_error_ = new std::string(cluster.status().ToString());
    }
  }

  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr) << "cluster did not start: " << *start_error_;
    RecordProperty("cluster_start_seconds", std::to_string(start_seconds_));
  }

  // Every node, or only `only` when it is 0..kNodes-1.
  static BrokerOptions Options(const std::string& name, int only = -1) {
    BrokerOptions options;
    if (only >= 0) {
      options.nodes = {cluster_->Node(only)};
    } else {
      options.nodes = cluster_->Nodes();
    }
    options.connection_name = name;
    options.reconnect_backoff_max = milliseconds(1000);
    options.confirm_timeout = seconds(20);
    options.failover_timeout = seconds(60);
    options.max_in_flight = 100;
    return options;
  }

  static Topology TopologyNamed(const std::string& prefix) {
    Topology topology;
    topology.prefix = prefix;
    topology.retry_delays_seconds = {1};
    return topology;
  }

  // The connection_name a client sent, from rabbitmqctl's client_properties
  // ([key, type, value] triples); empty if none.
  static std::string ConnectionName(const nlohmann::json& properties) {
    if (!properties.is_array()) return "";
    for (const auto& p : properties) {
      if (p.is_array() && p.size() == 3 && p[0] == "connection_name" &&
          p[2].is_string()) {
        return p[2].get<std::string>();
      }
    }
    return "";
  }

  // The node (0-based) that the connection named `name` (as
  // BrokerOptions::connection_name) is connected to, asked of node `ask`;
  // -1 if there is none within 10 s. The name says the node; the port the
  // broker shows must be the same.
  static int NodeOfConnection(const std::string& name, int ask) {
    const auto deadline = SteadyClock::now() + seconds(10);
    do {
      std::string out;
      if (cluster_
              ->Ctl(ask,
                    {"list_connections", "-q", "client_properties", "port",
                     "--formatter", "json"},
                    &out)
              .ok()) {
        nlohmann::json rows = nlohmann::json::parse(out, nullptr, false);
        if (rows.is_array()) {
          for (const auto& row : rows) {
            const std::string shown = ConnectionName(
                row.value("client_properties", nlohmann::json()));
            const std::string prefix = name + " @ 127.0.0.1:";
            int port = 0;
            if (absl::StartsWith(shown, prefix) &&
                absl::SimpleAtoi(shown.substr(prefix.size()), &port) &&
                row.value("port", 0) == port) {
              for (int i = 0; i < kNodes; ++i) {
                if (cluster_->port(i) == port) return i;
              }
            }
          }
        }
      }
      std::this_thread::sleep_for(milliseconds(200));
    } while (SteadyClock::now() < deadline);
    return -1;
  }

  // The queues whose names start with `prefix`, as rabbitmqctl list_queues
  // on node `ask` shows them (name, type, leader, members).
  static nlohmann::json QueuesOf(const std::string& prefix, int ask) {
    std::string out;
    nlohmann::json result = nlohmann::json::array();
    if (!cluster_
             ->Ctl(ask,
                   {"list_queues", "-q", "name", "type", "leader", "members",
                    "--formatter", "json"},
                   &out)
             .ok()) {
      return result;
    }
    nlohmann::json rows = nlohmann::json::parse(out, nullptr, false);
    if (!rows.is_array()) return result;
    for (const auto& row : rows) {
      if (absl::StartsWith(row.value("name", ""), prefix + ".")) {
        result.push_back(row);
      }
    }
    return result;
  }

  static std::string LeaderOf(const std::string& queue, int ask) {
    std::string out;
    if (!cluster_
             ->Ctl(
                 ask,
                 {"list_queues", "-q", "name", "leader", "--formatter", "json"},
                 &out)
             .ok()) {
      return "";
    }
    nlohmann::json rows = nlohmann::json::parse(out, nullptr, false);
    if (!rows.is_array()) return "";
    for (const auto& row : rows) {
      if (row.value("name", "") == queue) return row.value("leader", "");
    }
    return "";
  }

  // Publishes batches through a publisher while its own node, which also
  // leads the queue, is stopped (or killed, `kill`) in the middle; then checks
  // that every message arrives. Topology names start with `prefix`.
  static void PublishThroughANodeLoss(const std::string& prefix, bool kill) {
    const auto started = SteadyClock::now();
    // Find the publisher's node first, with a message to a topology of its
    // own, then put the leaders of the test's queues on that node: stopping
    // it both breaks the publisher's connection and moves the leaders.
    const Topology probe = TopologyNamed(prefix + "probe");
    ASSERT_THAT(
        NewAmqpAdmin(Options(prefix + "-admin"))->DeclareTopology(probe),
        IsOk());
    std::unique_ptr<Publisher> publisher =
        NewAmqpPublisher(Options(prefix + "-publisher"));
    ASSERT_THAT(publisher->PublishAll({{probe.WorkExchange(), "route", "p"}}),
                IsOk());
    const int victim = NodeOfConnection(prefix + "-publisher", 0);
    ASSERT_GE(victim, 0);

    const Topology topology = TopologyNamed(prefix);
    ASSERT_THAT(NewAmqpAdmin(Options(prefix + "-admin", victim))
                    ->DeclareTopology(topology),
                IsOk());
    const std::string queue = topology.StageQueue("route");
    ASSERT_EQ(LeaderOf(queue, victim), cluster_->NodeName(victim));

    // Batches of 50 until the stop is over and at least 2,000 were sent; the
    // stop starts once 500 are confirmed, so it falls in the middle of one.
    constexpr int kBatch = 50;
    constexpr int kAtLeast = 2000;
    std::atomic<bool> stop_started{false};
    std::atomic<bool> stop_done{false};
    absl::Status stop_status;
    std::thread stopper;
    // A failed assertion returns early: the stop is waited for all the same.
    struct Joiner {
      std::thread& thread;
      ~Joiner() {
        if (thread.joinable()) thread.join();
      }
    } joiner{stopper};
    int published = 0;
    int failed_calls = 0;
    absl::Status last_failure;
    int calls = 0;
    while (published < kAtLeast || !stop_done) {
      if (published >= 500 && !stop_started) {
        stop_started = true;
        stopper = std::thread([&] {
          stop_status =
              kill ? cluster_->KillNode(victim) : cluster_->StopNode(victim);
          stop_done = true;
        });
      }
      std::vector<OutgoingMessage> batch = Messages(
          topology.WorkExchange(), "route", prefix + "-", published, kBatch);
      // PublishAll fails over inside the call; a call that still fails is
      // repeated, as the relay would.
      ++calls;
      absl::Status status = publisher->PublishAll(batch);
      if (!status.ok()) {
        ++failed_calls;
        last_failure = status;
        ASSERT_LT(failed_calls, 20) << "the publisher does not recover";
        std::this_thread::sleep_for(milliseconds(200));
        continue;
      }
      published += kBatch;
      ASSERT_LT(SteadyClock::now() - started, seconds(120));
      // Enough sent: no need to pile up more while the node stops.
      if (published >= kAtLeast) std::this_thread::sleep_for(milliseconds(50));
    }
    if (stopper.joinable()) stopper.join();
    ASSERT_THAT(stop_status, IsOk());
    // Each call failed over by itself.
    EXPECT_EQ(failed_calls, 0) << last_failure;

    // The publisher now works on another node, and the queue has a leader on
    // one of those that run.
    const int now_on = NodeOfConnection(prefix + "-publisher", Other(victim));
    EXPECT_GE(now_on, 0);
    EXPECT_NE(now_on, victim);
    const std::string leader = LeaderOf(queue, Other(victim));
    EXPECT_NE(leader, cluster_->NodeName(victim));
    EXPECT_FALSE(leader.empty());

    // A consumer on a node that ran throughout gets every message at least
    // once.
    ConsumerThread consumer(Options(prefix + "-consumer", Other(victim)),
                            {queue});
    const bool all = consumer.WaitForDistinct(published, seconds(90));
    EXPECT_THAT(consumer.Stop(), IsOk());
    std::set<std::string> expected;
    for (int i = 0; i < published; ++i) {
      expected.insert(prefix + "-" + std::to_string(i));
    }
    const std::set<std::string> bodies = consumer.bodies();
    std::vector<std::string> missing;
    std::set_difference(expected.begin(), expected.end(), bodies.begin(),
                        bodies.end(), std::back_inserter(missing));
    EXPECT_TRUE(all) << missing.size() << " of " << published << " missing";
    EXPECT_TRUE(missing.empty()) << "first missing: " << missing.front();
    EXPECT_EQ(bodies.size(), static_cast<size_t>(published));
    RecordProperty("published", published);
    RecordProperty("deliveries", static_cast<int>(consumer.deliveries()));
    RecordProperty("duplicates",
                   static_cast<int>(consumer.deliveries() - bodies.size()));
    std::printf("published %d in %d calls, %zu delivered (%zu duplicates)\n",
                published, calls, consumer.deliveries(),
                consumer.deliveries() - bodies.size());

    ASSERT_THAT(cluster_->StartNode(victim), IsOk());
  }

  // Another node than `node`.
  static int Other(int node) { return (node + 1) % kNodes; }

  static BrokerCluster* cluster_;
  static std::string* start_error_;
  static double start_seconds_;
};

BrokerCluster* AmqpClusterTest::cluster_ = nullptr;
std::string* AmqpClusterTest::start_error_ = nullptr;
double AmqpClusterTest::start_seconds_ = 0;

TEST_F(AmqpClusterTest, TopologyIsQuorumQueuesOnEveryNode) {
  const Topology topology = TopologyNamed("cq");
  ASSERT_THAT(NewAmqpAdmin(Options("cq-admin", 0))->DeclareTopology(topology),
              IsOk());
  // Declared again through another node: the arguments are the same.
  ASSERT_THAT(NewAmqpAdmin(Options("cq-admin", 2))->DeclareTopology(topology),
              IsOk());

  std::vector<std::string> all_nodes;
  for (int i = 0; i < kNodes; ++i) all_nodes.push_back(cluster_->NodeName(i));
  const nlohmann::json queues = QueuesOf("cq", 1);
  // Three stages in each of the two lanes, one retry delay, parked.
  ASSERT_THAT(queues, SizeIs(8)) << queues.dump();
  for (const auto& q : queues) {
    SCOPED_TRACE(q.dump());
    EXPECT_EQ(q.value("type", ""), "quorum");
    std::vector<std::string> members;
    for (const auto& m : q["members"]) members.push_back(m.get<std::string>());
    EXPECT_THAT(members, UnorderedElementsAreArray(all_nodes));
  }
}

TEST_F(AmqpClusterTest, PublisherFailsOverMidBatchAndLosesNothing) {
  PublishThroughANodeLoss("cp", /*kill=*/false);
}

TEST_F(AmqpClusterTest, PublisherSurvivesAKilledNode) {
  PublishThroughANodeLoss("ck", /*kill=*/true);
}

TEST_F(AmqpClusterTest, ConsumerFailsOverToAnotherNode) {
  const Topology topology = TopologyNamed("cc");
  ASSERT_THAT(NewAmqpAdmin(Options("cc-admin"))->DeclareTopology(topology),
              IsOk());
  const std::string queue = topology.StageQueue("route");
  constexpr int kBefore = 1000;
  constexpr int kAfter = 500;
  ASSERT_THAT(NewAmqpPublisher(Options("cc-publisher"))
                  ->PublishAll(Messages(topology.WorkExchange(), "route", "cc-",
                                        0, kBefore)),
              IsOk());

  // The consumer stops in its handler after 100 messages, holding the
  // prefetched rest unacknowledged, while its node stops; then goes on.
  ConsumerThread consumer(Options("cc-consumer"), {queue}, /*hold_at=*/100);
  const int victim = NodeOfConnection("cc-consumer", 0);
  ASSERT_GE(victim, 0);
  ASSERT_TRUE(consumer.WaitHeld(seconds(30)));
  ASSERT_THAT(cluster_->StopNode(victim), IsOk());
  EXPECT_EQ(consumer.bodies().size(), 100u);
  consumer.Release();

  // More work while the node is down, through a node that runs.
  ASSERT_THAT(NewAmqpPublisher(Options("cc-publisher", Other(victim)))
                  ->PublishAll(Messages(topology.WorkExchange(), "route", "cc-",
                                        kBefore, kAfter)),
              IsOk());
  const bool all = consumer.WaitForDistinct(kBefore + kAfter, seconds(90));
  const int now_on = NodeOfConnection("cc-consumer", Other(victim));
  EXPECT_THAT(consumer.Stop(), IsOk());
  EXPECT_TRUE(all) << consumer.bodies().size() << " of " << kBefore + kAfter;
  EXPECT_EQ(consumer.bodies().size(), static_cast<size_t>(kBefore + kAfter));
  EXPECT_GE(now_on, 0);
  EXPECT_NE(now_on, victim);

  // Stats from an admin whose first choice may be the stopped node.
  absl::StatusOr<std::vector<QueueStats>> stats =
      NewAmqpAdmin(Options("cc-admin"))->Stats(topology);
  EXPECT_THAT(stats.status(), IsOk());

  ASSERT_THAT(cluster_->StartNode(victim), IsOk());
}

TEST_F(AmqpClusterTest, ClientsSpreadOverTheNodes) {
  const Topology topology = TopologyNamed("cs");
  ASSERT_THAT(NewAmqpAdmin(Options("cs-admin"))->DeclareTopology(topology),
              IsOk());
  std::vector<std::unique_ptr<Publisher>> publishers;
  std::set<int> nodes;
  for (int i = 0; i < kNodes; ++i) {
    const std::string name = absl::StrCat("cs-publisher-", i);
    publishers.push_back(NewAmqpPublisher(Options(name)));
    ASSERT_THAT(publishers.back()->PublishAll(
                    {{topology.WorkExchange(), "route", name}}),
                IsOk());
    nodes.insert(NodeOfConnection(name, 0));
  }
  // Made one after another, three clients use the three nodes.
  EXPECT_EQ(nodes, (std::set<int>{0, 1, 2}));
}

}  // namespace
}  // namespace utpost::queue
