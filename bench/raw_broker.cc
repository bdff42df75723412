// utpost-bench-broker: the "raw broker" ceiling. Persistent publishes with
// publisher confirms into a quorum queue, W messages per window, through
// queue::Publisher::PublishAll: the same thin rabbitmq-c publisher
// (queue/amqp_publisher.cc) that Utpost's outbox relay publishes work items
// with, so the difference to Utpost's figures is Utpost's own work.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/closed_loop.h"
#include "nlohmann/json.hpp"
#include "queue/amqp_broker.h"
#include "queue/queue.h"
#include "utpost/internal/v1/work_item.pb.h"

namespace utpost::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  queue::BrokerOptions broker;
  int64_t messages = 20000;
  int in_flight = 100;
  // 0: a serialized work item as Utpost publishes it.
  size_t size = 0;
  int64_t warmup_windows = 2;
  std::string prefix;
};

std::string WorkItemBody() {
  ::utpost::internal::v1::WorkItem item;
  item.set_letter_id("6f1c2a9e-3b7d-4c58-9e0a-2d4f8b1c7e35");
  item.set_stage("deliver.digital");
  item.set_attempt(0);
  return item.SerializeAsString();
}

int Run(Options o) {
  o.broker.max_in_flight = o.in_flight;
  o.broker.connection_name = "utpost-bench-broker";
  // A topology of its own: one work queue, no retry queues. Quorum and
  // durable like Utpost's; left behind, as Admin has no delete.
  queue::Topology topology;
  topology.prefix = o.prefix;
  topology.stages = {"sink"};
  topology.retry_delays_seconds = {};
  auto admin = queue::NewAmqpAdmin(o.broker);
  if (absl::Status s = admin->DeclareTopology(topology); !s.ok()) {
    std::cerr << "utpost-bench-broker: declaring the topology: " << s
              << std::endl;
    return 1;
  }

  const std::string body =
      o.size == 0 ? WorkItemBody() : std::string(o.size, 'x');
  std::vector<queue::OutgoingMessage> window(
      o.in_flight,
      queue::OutgoingMessage{topology.WorkExchange(), "sink", body});
  auto publisher = queue::NewAmqpPublisher(o.broker);

  std::cout << "utpost-bench-broker: " << o.messages << " persistent messages "
            << "of " << body.size() << " bytes, windows of " << o.in_flight
            << " confirmed, into quorum queue " << topology.StageQueue("sink")
            << " on " << o.broker.host << ":" << o.broker.port << std::endl;
  // The first windows open the connection and the channel.
  for (int64_t i = 0; i < o.warmup_windows; ++i) {
    if (absl::Status s = publisher->PublishAll(window); !s.ok()) {
      std::cerr << "utpost-bench-broker: warm-up: " << s << std::endl;
      return 1;
    }
  }

  std::vector<int64_t> window_us;
  int64_t published = 0;
  int64_t failed_windows = 0;
  std::string first_error;
  const Clock::time_point begin = Clock::now();
  while (published < o.messages) {
    const int64_t left = o.messages - published;
    if (left < static_cast<int64_t>(window.size())) window.resize(left);
    const Clock::time_point t0 = Clock::now();
    const absl::Status s = publisher->PublishAll(window);
    const Clock::time_point t1 = Clock::now();
    if (!s.ok()) {
      // Nothing of a failed window counts as published; try it again.
      if (failed_windows++ == 0) first_error = s.ToString();
      if (failed_windows > 10) break;
      continue;
    }
    published += static_cast<int64_t>(window.size());
    window_us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
  }
  const double seconds =
      std::chrono::duration<double>(Clock::now() - begin).count();
  const double rate =
      seconds > 0 ? static_cast<double>(published) / seconds : 0;
  const LatencySummary lat = Summarize(window_us);

  std::cout << std::fixed << std::setprecision(0) << "publish: " << published
            << " confirmed in " << std::setprecision(2) << seconds
            << " s: " << std::setprecision(0) << rate << " msgs/s" << std::endl;
  std::cout << std::setprecision(2) << "window (" << o.in_flight
            << " messages) until confirmed: p50 " << lat.p50_ms << " ms, p99 "
            << lat.p99_ms << " ms, max " << lat.max_ms << " ms" << std::endl;
  if (!first_error.empty()) {
    std::cout << failed_windows << " failed window(s); first: " << first_error
              << std::endl;
  }
  nlohmann::json out = {
      {"bench", "utpost-bench-broker"},
      {"messages", o.messages},
      {"message_bytes", body.size()},
      {"in_flight", o.in_flight},
      {"published", published},
      {"failed_windows", failed_windows},
      {"seconds", seconds},
      {"messages_per_second", rate},
      {"window_ms",
       {{"p50", lat.p50_ms}, {"p99", lat.p99_ms}, {"max", lat.max_ms}}},
  };
  if (!first_error.empty()) out["first_error"] = first_error;
  std::cout << out.dump() << std::endl;
  return published == o.messages ? 0 : 1;
}

}  // namespace
}  // namespace utpost::bench

int main(int argc, char** argv) {
  utpost::bench::Options o;
  o.prefix =
      absl::StrCat("bench-",
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count(),
                   "-", getpid());
  CLI::App app{
      "Raw broker ceiling: persistent publishes with confirms into a quorum "
      "queue."};
  app.add_option("--host", o.broker.host, "broker address")
      ->capture_default_str();
  app.add_option("--port", o.broker.port, "broker AMQP port")
      ->capture_default_str();
  app.add_option("--user", o.broker.user)->capture_default_str();
  app.add_option("--password", o.broker.password)->capture_default_str();
  app.add_option("--vhost", o.broker.vhost)->capture_default_str();
  app.add_option("-n,--messages", o.messages, "measured messages")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--size", o.size,
                 "bytes per message; 0 means a serialized work item, the "
                 "message Utpost publishes per letter and stage")
      ->capture_default_str();
  app.add_option("-w,--in-flight", o.in_flight,
                 "messages per window, all unconfirmed at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup-windows", o.warmup_windows,
                 "windows published before measuring")
      ->capture_default_str();
  app.add_option("--prefix", o.prefix,
                 "names of the throwaway exchange and queues; unique per run "
                 "by default");
  CLI11_PARSE(app, argc, argv);
  return utpost::bench::Run(o);
}
