#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/instrumented_channel.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gateway/observability/gateway_metrics.h"
#include "gateway/observability/health.h"
#include "gateway/observability/metrics_http.h"
#include "gateway/observability/receipt_metrics.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace utpost::observability {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::utpost::testing::IsOk;
using ::utpost::v1::Letter;

constexpr char kTenant[] = "964338531";

// ---- provider metrics ---------------------------------------------------

class ScriptedChannel final : public adapters::Channel {
 public:
  explicit ScriptedChannel(absl::Status next) : next_(std::move(next)) {}
  std::string name() const override { return "print"; }
  absl::StatusOr<adapters::SendResult> Send(
      const adapters::OutgoingLetter&) override {
    if (!next_.ok()) return next_;
    return adapters::SendResult{};
  }

 private:
  absl::Status next_;
};

TEST(ProviderMetricsTest, ClassifiesErrorsAsTheDispatcherDoes) {
  EXPECT_EQ(ErrorClass(absl::OkStatus()), "ok");
  EXPECT_EQ(ErrorClass(absl::UnavailableError("x")), "transient");
  EXPECT_EQ(ErrorClass(absl::DeadlineExceededError("x")), "transient");
  EXPECT_EQ(ErrorClass(absl::InvalidArgumentError("x")), "refusal");
  EXPECT_EQ(ErrorClass(absl::PermissionDeniedError("x")), "setup");
}

TEST(ProviderMetricsTest, InstrumentedChannelCountsEachSend) {
  GatewayMetrics m;
  ProviderMetrics observer(&m);
  adapters::InstrumentedChannel ok(
      std::make_unique<ScriptedChannel>(absl::OkStatus()),
      std::vector<adapters::ChannelObserver*>{&observer});
  adapters::InstrumentedChannel down(
      std::make_unique<ScriptedChannel>(absl::UnavailableError("503")),
      std::vector<adapters::ChannelObserver*>{&observer});
  EXPECT_THAT(ok.Send({}).status(), IsOk());
  EXPECT_TRUE(absl::IsUnavailable(down.Send({}).status()));
  EXPECT_TRUE(absl::IsUnavailable(down.Send({}).status()));
  EXPECT_EQ(ok.name(), "print");
  EXPECT_EQ(m.provider_requests->WithLabels({"print", "ok"})->value(), 1);
  EXPECT_EQ(m.provider_requests->WithLabels({"print", "transient"})->value(),
            2);
  EXPECT_EQ(m.provider_errors->WithLabels({"print", "transient"})->value(), 2);
  EXPECT_EQ(m.provider_latency->WithLabels({"print"})->snapshot().count, 3u);
}

TEST(GrpcCodeNameTest, Names) {
  EXPECT_EQ(GrpcCodeName(0), "OK");
  EXPECT_EQ(GrpcCodeName(3), "INVALID_ARGUMENT");
  EXPECT_EQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcCodeName(99), "UNKNOWN");
}

// ---- /metrics over HTTP -----------------------------------------------------

TEST(MetricsHttpServerTest, ServesTheRegistryAndNothingElse) {
  metrics::Registry r;
  r.AddGauge("utpost_test_value", "A test value.")->Get()->Set(42);
  int scrapes = 0;
  auto server =
      MetricsHttpServer::Start("127.0.0.1:0", &r, [&scrapes] { ++scrapes; });
  ASSERT_THAT(server, IsOk());
  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"),
            metrics::Registry::kContentType);
  EXPECT_THAT(res->body, HasSubstr("utpost_test_value 42\n"));
  EXPECT_EQ(scrapes, 1);
  auto other = client.Get("/other");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
}

TEST(MetricsHttpServerTest, RefusesABadAddress) {
  metrics::Registry r;
  EXPECT_TRUE(absl::IsInvalidArgument(
      MetricsHttpServer::Start("no-port", &r).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      MetricsHttpServer::Start("256.1.1.1:1", &r).status()));
}

// ---- metrics fed by the store ----------------------------------------------

class StoreMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = absl::StrCat(::testing::TempDir(), "/obsXXXXXX");
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    ASSERT_NE(mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
    auto signer = receipts::NewJwsReceiptSigner(
        {"certs-dev/receipts.key", "certs-dev/receipts.pem"});
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
    store::SqliteStoreOptions o;
    o.path = dir_ + "/utpost.db";
    o.signer = signer_.get();
    o.clock = &clock_;
    auto s = store::OpenSqliteStore(o);
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
  }

  void TearDown() override {
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove((dir_ + "/utpost.db" + suffix).c_str());
    }
    rmdir(dir_.c_str());
  }

  void Create(const std::string& id) {
    store::NewLetter l;
    l.id = id;
    l.tenant = kTenant;
    l.client_reference = id;
    l.request_digest = id;
    l.spec.mutable_recipient()->set_person("01817010055");
    l.documents.push_back({"a.pdf", "application/pdf", "%PDF-1.7", ""});
    l.first_work.exchange = "utpost.work";
    l.first_work.routing_key = "route";
    l.first_work.body = id;
    l.first_work.state_when_sent = Letter::QUEUED;
    std::vector<store::NewLetter> v;
    v.push_back(std::move(l));
    auto r = store_->CreateLetters(std::move(v));
    ASSERT_THAT(r, IsOk());
    ASSERT_THAT((*r)[0], IsOk());
  }

  void Move(const std::string& id, Letter::State from, Letter::State to,
            const std::string& channel = "") {
    store::Transition t;
    t.from = {from};
    t.to = to;
    t.channel = channel;
    ASSERT_THAT(store_->ApplyTransition(id, t), IsOk());
  }

  // Now, to the second: the development receipt certificate may be young.
  FakeClock clock_{RealClock()->NowMillis() / 1000 * 1000};
  std::string dir_;
  std::unique_ptr<receipts::ReceiptSigner> signer_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(StoreMetricsTest, OutboxLagCountsUnsentRowsAndTheOldest) {
  auto lag = store_->GetOutboxLag();
  ASSERT_THAT(lag, IsOk());
  EXPECT_EQ(lag->pending, 0);
  EXPECT_EQ(lag->oldest_pending_ms, 0);
  const int64_t first = clock_.NowMillis();
  Create("a");
  clock_.Advance(5000);
  Create("b");
  lag = store_->GetOutboxLag();
  ASSERT_THAT(lag, IsOk());
  EXPECT_EQ(lag->pending, 2);
  EXPECT_EQ(lag->oldest_pending_ms, first);
}

TEST_F(StoreMetricsTest, TransitionsAndDeliveryLatencyFromReceipts) {
  // Written before counting starts: in the store's totals, which every
  // process (a restarted one too) starts from.
  Create("before");
  Move("before", Letter::RECEIVED, Letter::QUEUED);
  GatewayMetrics m;
  ReceiptMetrics rm(store_.get(), &m, /*start_thread=*/false);
  rm.PollOnce();
  auto count = [&](const char* channel, const char* state) {
    return m.transitions->WithLabels({kTenant, channel, state})->value();
  };
  EXPECT_EQ(count("none", "RECEIVED"), 1);
  EXPECT_EQ(count("none", "QUEUED"), 1);
  GatewayMetrics other;
  ReceiptMetrics other_process(store_.get(), &other, /*start_thread=*/false);
  Create("d");
  clock_.Advance(1500);
  Move("d", Letter::RECEIVED, Letter::QUEUED);
  Move("d", Letter::QUEUED, Letter::ROUTED, "print");
  Move("d", Letter::ROUTED, Letter::SENT_PRINT);
  rm.PollOnce();
  EXPECT_EQ(count("none", "RECEIVED"), 2);
  EXPECT_EQ(count("none", "QUEUED"), 2);
  EXPECT_EQ(count("print", "ROUTED"), 1);
  EXPECT_EQ(count("print", "SENT_PRINT"), 1);
  auto latency = m.delivery_latency->WithLabels({"print"})->snapshot();
  EXPECT_EQ(latency.count, 1u);
  EXPECT_DOUBLE_EQ(latency.sum, 1.5);
  // Polling again counts nothing twice.
  rm.PollOnce();
  EXPECT_EQ(count("print", "SENT_PRINT"), 1);
  // A process that starts counting later shows the same totals.
  other_process.PollOnce();
  for (const char* state : {"RECEIVED", "QUEUED"}) {
    EXPECT_EQ(other.transitions->WithLabels({kTenant, "none", state})->value(),
              2)
        << state;
  }
  EXPECT_EQ(
      other.transitions->WithLabels({kTenant, "print", "SENT_PRINT"})->value(),
      1);
  std::string text = m.registry.Serialize();
  EXPECT_THAT(text, Not(HasSubstr("01817010055")));
  EXPECT_THAT(text, Not(HasSubstr("\"d\"")));
}

// ---- probes
// ------------------------------------------------------------------

class FakeAdmin final : public queue::Admin {
 public:
  explicit FakeAdmin(bool* up) : up_(up) {}
  absl::Status DeclareTopology(const queue::Topology&) override {
    return *up_ ? absl::OkStatus() : absl::UnavailableError("down");
  }
  absl::StatusOr<std::vector<queue::QueueStats>> Stats(
      const queue::Topology&) override {
    if (!*up_) return absl::UnavailableError("down");
    return std::vector<queue::QueueStats>{{"utpost.route", 7, 2}};
  }
  absl::StatusOr<int64_t> Prune(const std::string&,
                                const std::function<bool(const std::string&)>&,
                                int64_t) override {
    return 0;
  }

 private:
  bool* const up_;
};

TEST_F(StoreMetricsTest, ProbeFollowsTheBrokerAndShutdown) {
  bool broker_up = true;
  GatewayMetrics m;
  ProbeOptions o;
  o.start_thread = false;
  Create("a");
  Probe probe(store_.get(), std::make_unique<FakeAdmin>(&broker_up), nullptr,
              &m, o);
  probe.RunOnce();
  EXPECT_TRUE(probe.store_up());
  EXPECT_TRUE(probe.broker_up());
  EXPECT_EQ(m.ready->value(), 1);
  EXPECT_EQ(m.queue_messages->WithLabels({"utpost.route"})->value(), 7);
  EXPECT_EQ(m.queue_consumers->WithLabels({"utpost.route"})->value(), 2);
  EXPECT_EQ(m.outbox_pending->value(), 1);
  EXPECT_EQ(m.letters->WithLabels({"RECEIVED"})->value(), 1);
  EXPECT_EQ(m.letters->WithLabels({"PARKED"})->value(), 0);

  broker_up = false;
  probe.RunOnce();
  EXPECT_FALSE(probe.broker_up());
  EXPECT_EQ(m.ready->value(), 0);
  EXPECT_EQ(m.dependency_up->WithLabels({"broker"})->value(), 0);
  EXPECT_EQ(m.dependency_up->WithLabels({"store"})->value(), 1);

  broker_up = true;
  probe.RunOnce();
  EXPECT_EQ(m.ready->value(), 1);
  probe.BeginShutdown();
  probe.RunOnce();
  EXPECT_EQ(m.ready->value(), 0);
}

TEST_F(StoreMetricsTest, ProbeReportsEveryDeliveryChannelAndItsPause) {
  bool broker_up = true;
  GatewayMetrics m;
  ProbeOptions o;
  o.start_thread = false;
  o.topology.stages = {"route", "deliver.digital", "deliver.altinn",
                       "deliver.print"};
  Probe probe(store_.get(), std::make_unique<FakeAdmin>(&broker_up), nullptr,
              &m, o);
  ASSERT_THAT(store_->SetChannelPaused("print", true, "ops"), IsOk());
  probe.RunOnce();
  EXPECT_EQ(m.channel_paused->WithLabels({"print"})->value(), 1);
  EXPECT_EQ(m.channel_paused->WithLabels({"digital"})->value(), 0);
  const std::string text = m.registry.Serialize();
  EXPECT_THAT(text, HasSubstr("utpost_channel_paused{channel=\"print\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("utpost_channel_paused{channel=\"altinn\"} 0\n"));
  // Stages are not channels.
  EXPECT_THAT(text, Not(HasSubstr("utpost_channel_paused{channel=\"route\"")));

  ASSERT_THAT(store_->SetChannelPaused("print", false, "ops"), IsOk());
  probe.RunOnce();
  EXPECT_EQ(m.channel_paused->WithLabels({"print"})->value(), 0);
}

TEST_F(StoreMetricsTest, ProbeReportsTheReceiptLogAndItsNewestHead) {
  bool broker_up = true;
  GatewayMetrics m;
  ProbeOptions o;
  o.start_thread = false;
  o.tree_head_interval_seconds = 300;
  Probe probe(store_.get(), std::make_unique<FakeAdmin>(&broker_up), nullptr,
              &m, o);
  EXPECT_EQ(m.receipt_log_tree_head_interval->Get()->value(), 300);
  Create("a");
  Move("a", Letter::RECEIVED, Letter::QUEUED);
  probe.RunOnce();
  EXPECT_EQ(m.receipt_log_size->value(), 2);
  EXPECT_EQ(m.receipt_log_tree_head_size->value(), 0);
  // No head yet: no age series (an age of 0 would look fresh).
  EXPECT_THAT(m.registry.Serialize(),
              Not(HasSubstr("\nutpost_receipt_log_tree_head_age_seconds ")));

  // A head signed two minutes ago, then the log grows past it.
  const int64_t now = clock_.NowMillis();
  clock_.Set(now - 120000);
  ASSERT_THAT(store_->IssueTreeHead(), IsOk());
  clock_.Set(now);
  Move("a", Letter::QUEUED, Letter::ROUTED, "digital");
  probe.RunOnce();
  EXPECT_EQ(m.receipt_log_size->value(), 3);
  EXPECT_EQ(m.receipt_log_tree_head_size->value(), 2);
  const double age = m.receipt_log_tree_head_age->Get()->value();
  EXPECT_GE(age, 120);
  EXPECT_LT(age, 180);
}

TEST(GatewayMetricsTest, BuildInfoNamesTheVersion) {
  GatewayMetrics m;
  EXPECT_STRNE(BuildVersion(), "");
  EXPECT_THAT(m.registry.Serialize(),
              HasSubstr(absl::StrCat("utpost_build_info{version=\"",
                                     BuildVersion(), "\",grpc_version=\"",
                                     grpc::Version(), "\"} 1\n")));
}

}  // namespace
}  // namespace utpost::observability
