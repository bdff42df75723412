// The RabbitMQ publisher, consumer and admin against a real private broker.
// One broker serves the whole suite; each test uses its own topology prefix.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue/amqp_broker.h"
#include "queue/queue.h"
#include "tests/testing/broker_process.h"

namespace utpost::queue {
namespace {

using ::testing::_;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::utpost::testing::BrokerProcess;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::testing::StatusIs;

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

std::vector<OutgoingMessage> Messages(const std::string& exchange,
                                      const std::string& key,
                                      const std::string& body_prefix,
                                      int count) {
  std::vector<OutgoingMessage> messages;
  for (int i = 0; i < count; ++i) {
    messages.push_back({exchange, key, body_prefix + std::to_string(i)});
  }
  return messages;
}

// Runs Consumer::Run on its own thread and records every delivery.
class ConsumerThread {
 public:
  using Policy = std::function<Disposition(const Delivery&)>;

  ConsumerThread(
      const BrokerOptions& options, std::vector<std::string> queues,
      Policy policy = [](const Delivery&) { return Disposition::kAck; })
      : consumer_(NewAmqpConsumer(options)), policy_(std::move(policy)) {
    thread_ = std::thread([this, queues = std::move(queues)] {
      absl::Status status = consumer_->Run(
          queues,
          [this](const Delivery& d) {
            Disposition disposition = policy_(d);
            std::lock_guard<std::mutex> lock(mu_);
            deliveries_.push_back(d);
            changed_.notify_all();
            return disposition;
          },
          &stop_);
      std::lock_guard<std::mutex> lock(mu_);
      status_ = status;
      finished_ = true;
      changed_.notify_all();
    });
  }

  ~ConsumerThread() { Stop().IgnoreError(); }

  // Stops the consumer and returns what Run returned.
  absl::Status Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

  // Waits until `done(deliveries)` holds or Run returned or `timeout` passed.
  bool WaitFor(const std::function<bool(const std::vector<Delivery>&)>& done,
               SteadyClock::duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [&] {
      return finished_ || done(deliveries_);
    }) && done(deliveries_);
  }

  bool WaitForCount(size_t count, SteadyClock::duration timeout) {
    return WaitFor(
        [count](const std::vector<Delivery>& d) { return d.size() >= count; },
        timeout);
  }

  std::vector<Delivery> deliveries() {
    std::lock_guard<std::mutex> lock(mu_);
    return deliveries_;
  }

 private:
  std::unique_ptr<Consumer> consumer_;
  Policy policy_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Delivery> deliveries_;
  absl::Status status_;
  bool finished_ = false;
  std::thread thread_;
};

class AmqpIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<BrokerProcess>> broker =
        BrokerProcess::Start();
    if (broker.ok()) {
      broker_ = broker->release();
    } else {
      start_error_ = new std::string(broker.status().ToString());
    }
  }

  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(broker_, nullptr) << "broker did not start: " << *start_error_;
  }

  static BrokerOptions Options() {
    BrokerOptions options;
    options.port = broker_->port();
    options.connection_name = "amqp_integration_test";
    options.reconnect_backoff_max = milliseconds(1000);
    options.confirm_timeout = seconds(10);
    return options;
  }

  // A topology of its own for each test, with a 1 s retry delay.
  static Topology TopologyNamed(const std::string& prefix) {
    Topology topology;
    topology.prefix = prefix;
    topology.retry_delays_seconds = {1};
    return topology;
  }

  static void Declare(const Topology& topology) {
    ASSERT_THAT(NewAmqpAdmin(Options())->DeclareTopology(topology), IsOk());
  }

  // Depth of `queue`, polled until it equals `expected` or 5 s passed.
  static int64_t DepthEventually(const Topology& topology,
                                 const std::string& queue, int64_t expected) {
    std::unique_ptr<Admin> admin = NewAmqpAdmin(Options());
    int64_t depth = -1;
    const auto deadline = SteadyClock::now() + seconds(5);
    do {
      absl::StatusOr<std::vector<QueueStats>> stats = admin->Stats(topology);
      if (stats.ok()) {
        for (const QueueStats& s : *stats) {
          if (s.queue == queue) depth = s.messages;
        }
      }
      if (depth == expected) break;
      std::this_thread::sleep_for(milliseconds(100));
    } while (SteadyClock::now() < deadline);
    return depth;
  }

  static BrokerProcess* broker_;
  static std::string* start_error_;
};

BrokerProcess* AmqpIntegrationTest::broker_ = nullptr;
std::string* AmqpIntegrationTest::start_error_ = nullptr;

TEST_F(AmqpIntegrationTest, DeclareTopologyTwiceIsFine) {
  const Topology topology = TopologyNamed("declare");
  std::unique_ptr<Admin> admin = NewAmqpAdmin(Options());
  EXPECT_THAT(admin->DeclareTopology(topology), IsOk());
  EXPECT_THAT(admin->DeclareTopology(topology), IsOk());
  // A second admin (a second process in production) agrees too.
  EXPECT_THAT(NewAmqpAdmin(Options())->DeclareTopology(topology), IsOk());

  absl::StatusOr<std::vector<QueueStats>> stats = admin->Stats(topology);
  ASSERT_THAT(stats, IsOk());
  std::vector<std::string> names;
  for (const QueueStats& s : *stats) names.push_back(s.queue);
  EXPECT_THAT(names, ElementsAre("declare.route", "declare.deliver.digital",
                                 "declare.deliver.print", "declare.bulk.route",
                                 "declare.bulk.deliver.digital",
                                 "declare.bulk.deliver.print",
                                 "declare.retry.1s", "declare.parked"));
}

TEST_F(AmqpIntegrationTest, ThousandMessagesAreConsumedExactlyOnce) {
  const Topology topology = TopologyNamed("bulk");
  Declare(topology);
  // A window smaller than the batch: publishing waits for confirms midway.
  BrokerOptions options = Options();
  options.max_in_flight = 64;
  ASSERT_THAT(NewAmqpPublisher(options)->PublishAll(
                  Messages(topology.WorkExchange(), "route", "letter-", 1000)),
              IsOk());

  ConsumerThread consumer(Options(), {topology.StageQueue("route")});
  ASSERT_TRUE(consumer.WaitForCount(1000, seconds(30)));
  // Anything delivered twice would show up shortly after.
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_THAT(consumer.Stop(), IsOk());

  std::vector<Delivery> deliveries = consumer.deliveries();
  ASSERT_EQ(deliveries.size(), 1000u);
  std::set<std::string> bodies;
  for (const Delivery& d : deliveries) {
    EXPECT_EQ(d.queue, "bulk.route");
    EXPECT_EQ(d.routing_key, "route");
    EXPECT_FALSE(d.redelivered);
    bodies.insert(d.body);
  }
  EXPECT_EQ(bodies.size(), 1000u);
  EXPECT_EQ(bodies.count("letter-0"), 1u);
  EXPECT_EQ(bodies.count("letter-999"), 1u);
  // All acked: nothing went back to the queue when the consumer closed.
  EXPECT_EQ(DepthEventually(topology, "bulk.route", 0), 0);
}

TEST_F(AmqpIntegrationTest, RequeuedMessageIsRedelivered) {
  const Topology topology = TopologyNamed("requeue");
  Declare(topology);
  ASSERT_THAT(NewAmqpPublisher(Options())->PublishAll(
                  {{topology.WorkExchange(), "route", "store-was-down"}}),
              IsOk());

  int calls = 0;
  ConsumerThread consumer(
      Options(), {topology.StageQueue("route")}, [&calls](const Delivery&) {
        return ++calls == 1 ? Disposition::kRequeue : Disposition::kAck;
      });
  ASSERT_TRUE(consumer.WaitForCount(2, seconds(10)));
  EXPECT_THAT(consumer.Stop(), IsOk());

  std::vector<Delivery> deliveries = consumer.deliveries();
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[0].body, "store-was-down");
  EXPECT_FALSE(deliveries[0].redelivered);
  EXPECT_EQ(deliveries[1].body, "store-was-down");
  EXPECT_TRUE(deliveries[1].redelivered);
  EXPECT_EQ(DepthEventually(topology, "requeue.route", 0), 0);
}

TEST_F(AmqpIntegrationTest, RetriedMessageReturnsToItsStageAfterTheDelay) {
  const Topology topology = TopologyNamed("retry");
  Declare(topology);
  ConsumerThread consumer(Options(), {topology.StageQueue("deliver.digital")});

  const auto published = SteadyClock::now();
  ASSERT_THAT(
      NewAmqpPublisher(Options())->PublishAll(
          {{topology.RetryExchange(1), "deliver.digital", "try-again"}}),
      IsOk());
  ASSERT_TRUE(consumer.WaitForCount(1, seconds(15)));
  const auto elapsed = SteadyClock::now() - published;
  EXPECT_THAT(consumer.Stop(), IsOk());

  EXPECT_GE(elapsed, milliseconds(900));
  std::vector<Delivery> deliveries = consumer.deliveries();
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].queue, "retry.deliver.digital");
  EXPECT_EQ(deliveries[0].routing_key, "deliver.digital");
  EXPECT_EQ(deliveries[0].body, "try-again");
  EXPECT_EQ(DepthEventually(topology, "retry.retry.1s", 0), 0);
}

TEST_F(AmqpIntegrationTest, BulkLettersTravelTheirOwnLaneAndRetryInIt) {
  const Topology topology = TopologyNamed("lanes");
  Declare(topology);
  const std::string stage = "deliver.digital";
  ASSERT_EQ(Topology::RoutingKey(stage, true), "bulk.deliver.digital");
  ASSERT_EQ(Topology::RoutingKey(stage, false), stage);
  ASSERT_THAT(NewAmqpPublisher(Options())->PublishAll(
                  {{topology.WorkExchange(), Topology::RoutingKey(stage, true),
                    "bulk-1"},
                   {topology.WorkExchange(), stage, "single-1"},
                   {topology.RetryExchange(1),
                    Topology::RoutingKey(stage, true), "bulk-retried"}}),
              IsOk());
  EXPECT_EQ(DepthEventually(topology, "lanes.deliver.digital", 1), 1);
  // The retried one comes back after its delay, to the lane it left.
  EXPECT_EQ(DepthEventually(topology, "lanes.bulk.deliver.digital", 2), 2);

  ConsumerThread single(Options(), {topology.StageQueue(stage)});
  ConsumerThread bulk(Options(), {topology.BulkStageQueue(stage)});
  ASSERT_TRUE(single.WaitForCount(1, seconds(10)));
  ASSERT_TRUE(bulk.WaitForCount(2, seconds(10)));
  EXPECT_THAT(single.Stop(), IsOk());
  EXPECT_THAT(bulk.Stop(), IsOk());
  std::vector<std::string> bodies;
  for (const Delivery& d : bulk.deliveries()) {
    EXPECT_EQ(d.queue, "lanes.bulk.deliver.digital");
    bodies.push_back(d.body);
  }
  EXPECT_THAT(bodies, UnorderedElementsAre("bulk-1", "bulk-retried"));
  ASSERT_EQ(single.deliveries().size(), 1u);
  EXPECT_EQ(single.deliveries()[0].body, "single-1");
}

TEST_F(AmqpIntegrationTest, StatsShowsQueueDepths) {
  const Topology topology = TopologyNamed("stats");
  Declare(topology);
  std::vector<OutgoingMessage> messages =
      Messages(topology.WorkExchange(), "route", "r", 5);
  for (OutgoingMessage& m :
       Messages(topology.WorkExchange(), "deliver.print", "p", 3)) {
    messages.push_back(std::move(m));
  }
  for (OutgoingMessage& m :
       Messages(topology.WorkExchange(), Topology::kParkedRoutingKey, "x", 2)) {
    messages.push_back(std::move(m));
  }
  ASSERT_THAT(NewAmqpPublisher(Options())->PublishAll(messages), IsOk());

  EXPECT_EQ(DepthEventually(topology, "stats.route", 5), 5);
  EXPECT_EQ(DepthEventually(topology, "stats.deliver.print", 3), 3);
  EXPECT_EQ(DepthEventually(topology, "stats.parked", 2), 2);
  absl::StatusOr<std::vector<QueueStats>> stats =
      NewAmqpAdmin(Options())->Stats(topology);
  ASSERT_THAT(stats, IsOk());
  for (const QueueStats& s : *stats) {
    EXPECT_EQ(s.consumers, 0) << s.queue;
    if (s.queue == "stats.deliver.digital" || s.queue == "stats.retry.1s") {
      EXPECT_EQ(s.messages, 0) << s.queue;
    }
  }
}

TEST_F(AmqpIntegrationTest, RunBatchesPreparesWhatArrivedTogether) {
  const Topology topology = TopologyNamed("batches");
  Declare(topology);
  constexpr int kMessages = 50;
  ASSERT_THAT(NewAmqpPublisher(Options())->PublishAll(
                  Messages(topology.WorkExchange(), "route", "b", kMessages)),
              IsOk());
  ASSERT_EQ(DepthEventually(topology, "batches.route", kMessages), kMessages);
  std::mutex mu;
  std::vector<size_t> batches;
  std::vector<std::string> handled;
  std::atomic<bool> stop{false};
  std::unique_ptr<Consumer> consumer = NewAmqpConsumer(Options());
  std::thread thread([&] {
    EXPECT_THAT(consumer->RunBatches(
                    {"batches.route"},
                    [&](const std::vector<Delivery>& batch) {
                      std::lock_guard<std::mutex> lock(mu);
                      batches.push_back(batch.size());
                    },
                    8,
                    [&](const Delivery& d) {
                      std::lock_guard<std::mutex> lock(mu);
                      handled.push_back(d.body);
                      return Disposition::kAck;
                    },
                    &stop),
                IsOk());
  });
  const auto deadline = SteadyClock::now() + seconds(30);
  while (SteadyClock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (handled.size() >= kMessages) break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  // Anything delivered twice would show up shortly after (and the broker
  // settles the last acks before the consumer closes).
  std::this_thread::sleep_for(milliseconds(500));
  stop = true;
  thread.join();
  ASSERT_EQ(handled.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(handled[i], "b" + std::to_string(i));
  }
  size_t total = 0;
  size_t largest = 0;
  for (size_t b : batches) {
    EXPECT_LE(b, 8u);
    total += b;
    largest = std::max(largest, b);
  }
  EXPECT_EQ(total, static_cast<size_t>(kMessages));
  // Prefetched messages arrive together.
  EXPECT_GT(largest, 1u);
  EXPECT_EQ(DepthEventually(topology, "batches.route", 0), 0);
  EXPECT_THAT(
      consumer->RunBatches(
          {"batches.route"}, nullptr, 0,
          [](const Delivery&) { return Disposition::kAck; }, &stop),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_batch")));
}

TEST_F(AmqpIntegrationTest, PruneRemovesChosenMessagesAndKeepsTheOrder) {
  const Topology topology = TopologyNamed("prune");
  Declare(topology);
  ASSERT_THAT(
      NewAmqpPublisher(Options())->PublishAll(Messages(
          topology.WorkExchange(), Topology::kParkedRoutingKey, "m", 6)),
      IsOk());
  ASSERT_EQ(DepthEventually(topology, "prune.parked", 6), 6);
  std::unique_ptr<Admin> admin = NewAmqpAdmin(Options());
  std::vector<std::string> seen;
  auto odd = [&](const std::string& body) {
    seen.push_back(body);
    return (body.back() - '0') % 2 == 1;
  };
  EXPECT_THAT(admin->Prune("prune.parked", odd, 100), IsOkAndHolds(3));
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ(DepthEventually(topology, "prune.parked", 3), 3);

  // At most max_messages looked at; the rest are not touched.
  seen.clear();
  auto all = [&](const std::string& body) {
    seen.push_back(body);
    return true;
  };
  EXPECT_THAT(admin->Prune("prune.parked", all, 1), IsOkAndHolds(1));
  EXPECT_EQ(DepthEventually(topology, "prune.parked", 2), 2);

  // The kept ones stay, in their order.
  seen.clear();
  auto none = [&](const std::string& body) {
    seen.push_back(body);
    return false;
  };
  EXPECT_THAT(admin->Prune("prune.parked", none, 100), IsOkAndHolds(0));
  EXPECT_THAT(admin->Prune("prune.parked", none, 100), IsOkAndHolds(0));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].back(), '2');
  EXPECT_EQ(seen[1].back(), '4');
  EXPECT_EQ(seen[2].back(), '2');
  EXPECT_EQ(seen[3].back(), '4');
  EXPECT_THAT(admin->Prune("prune.no-such-queue", none, 100),
              StatusIs(absl::StatusCode::kNotFound, _));
  // The admin is usable after an error.
  EXPECT_THAT(admin->Prune("prune.parked", all, 100), IsOkAndHolds(2));
}

TEST_F(AmqpIntegrationTest, UnroutableMessageIsUnavailableNotDropped) {
  const Topology topology = TopologyNamed("unroutable");
  Declare(topology);
  std::unique_ptr<Publisher> publisher = NewAmqpPublisher(Options());
  EXPECT_THAT(
      publisher->PublishAll({{topology.WorkExchange(), "no.such.stage", "a"}}),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("unroutable")));
  EXPECT_THAT(publisher->PublishAll({{"no.such.exchange", "route", "b"}}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("404")));
  // The same publisher recovers by itself on the next call.
  EXPECT_THAT(publisher->PublishAll({{topology.WorkExchange(), "route", "c"}}),
              IsOk());
  EXPECT_EQ(DepthEventually(topology, "unroutable.route", 1), 1);
}

TEST_F(AmqpIntegrationTest, MissingQueueIsNotFound) {
  EXPECT_THAT(NewAmqpAdmin(Options())->Stats(TopologyNamed("undeclared")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("undeclared")));
  // A consumer does not retry forever on a queue that does not exist.
  std::atomic<bool> stop{false};
  EXPECT_THAT(
      NewAmqpConsumer(Options())->Run(
          {"no.such.queue"}, [](const Delivery&) { return Disposition::kAck; },
          &stop),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("no.such.queue")));
}

TEST_F(AmqpIntegrationTest, ConfirmedMessagesSurviveABrokerRestart) {
  const Topology topology = TopologyNamed("restart");
  Declare(topology);
  ConsumerThread consumer(Options(), {topology.StageQueue("route")});
  std::unique_ptr<Publisher> publisher = NewAmqpPublisher(Options());

  std::set<std::string> confirmed;
  int batch = 0;
  auto publish_batch = [&]() {
    std::vector<OutgoingMessage> messages =
        Messages(topology.WorkExchange(), "route",
                 "b" + std::to_string(batch++) + "-", 200);
    absl::Status status = publisher->PublishAll(messages);
    EXPECT_THAT(status, AnyOf(IsOk(), StatusIs(absl::StatusCode::kUnavailable,
                                               ::testing::_)));
    if (status.ok()) {
      for (const OutgoingMessage& m : messages) confirmed.insert(m.body);
    }
    return status.ok();
  };

  for (int i = 0; i < 5; ++i) ASSERT_TRUE(publish_batch());

  std::atomic<bool> restarted{false};
  absl::Status restart_status;
  std::thread restarter([&] {
    restart_status = broker_->Restart();
    restarted = true;
  });
  // Batches keep coming through the restart, a few a second: enough to
  // catch the broker going and coming, and few enough that the consumer's
  // catching up afterwards does not depend on how loaded the machine is
  // (at full speed this published ~90,000 messages).
  int failed = 0;
  while (!restarted) {
    if (!publish_batch()) {
      ++failed;
      std::this_thread::sleep_for(milliseconds(100));
    } else {
      std::this_thread::sleep_for(milliseconds(200));
    }
  }
  restarter.join();
  ASSERT_THAT(restart_status, IsOk());

  // The broker is back: the publisher reconnects on its next calls.
  int ok_after = 0;
  const auto deadline = SteadyClock::now() + seconds(20);
  while (ok_after < 3 && SteadyClock::now() < deadline) {
    if (publish_batch()) {
      ++ok_after;
    } else {
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  ASSERT_EQ(ok_after, 3);

  // The consumer reconnected by itself and got everything confirmed, before
  // and after the restart; duplicates are allowed (at-least-once). A loaded
  // machine may take a while to bring the restarted node's queues back.
  const bool all_seen = consumer.WaitFor(
      [&confirmed](const std::vector<Delivery>& deliveries) {
        std::set<std::string> seen;
        for (const Delivery& d : deliveries) seen.insert(d.body);
        return std::includes(seen.begin(), seen.end(), confirmed.begin(),
                             confirmed.end());
      },
      seconds(90));
  EXPECT_THAT(consumer.Stop(), IsOk());
  RecordProperty("batches_failed_during_restart", failed);
  EXPECT_TRUE(all_seen) << confirmed.size() << " confirmed, "
                        << consumer.deliveries().size() << " delivered, "
                        << failed << " batches failed";
}

}  // namespace
}  // namespace utpost::queue
