// Operations (OpsService without gRPC) over a real SQLite store: re-drive,
// pause and resume, cancel across tenants, listing and status.
#include "gateway/api/operations.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_store.h"
#include "utpost/internal/v1/work_item.pb.h"

namespace utpost::api {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Letter;
using State = ::utpost::v1::Letter::State;

const int64_t kStart = RealClock()->NowMillis() / 1000 * 1000;
constexpr char kTenantA[] = "964338531";
constexpr char kTenantB[] = "958935420";
// Letter ids must be UUIDs for the API.
constexpr char kL1[] = "00000000-0000-4000-8000-000000000001";
constexpr char kL2[] = "00000000-0000-4000-8000-000000000002";
constexpr char kL3[] = "00000000-0000-4000-8000-000000000003";

class OperationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    files_ = std::make_unique<::utpost::testing::TempStoreFiles>("ops");
    ASSERT_FALSE(files_->dir().empty());
    dir_ = files_->dir();
    path_ = files_->path();
    auto signer = receipts::NewJwsReceiptSigner(
        {"certs-dev/receipts.key", "certs-dev/receipts.pem"});
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
    store::SqliteStoreOptions o;
    o.path = path_;
    o.signer = signer_.get();
    o.clock = &clock_;
    auto s = store::OpenSqliteStore(o);
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
    OperationsOptions options;
    options.clock = &clock_;
    options.certificates = {{"server.cert_file", "certs-dev/server.pem"},
                            {"providers.ca_file", dir_ + "/missing.pem"}};
    options.on_change = [this] { ++changes_; };
    options.tenant_names = {{kTenantA, "Eksempel kommune"}};
    ops_ = std::make_unique<Operations>(store_.get(), nullptr, options);
  }

  void TearDown() override {
    ops_.reset();
    store_.reset();
    files_.reset();
  }

  void Create(const std::string& id, const std::string& tenant) {
    store::NewLetter l;
    l.id = id;
    l.tenant = tenant;
    l.client_reference = "ref-" + id;
    l.request_digest = Sha256Hex(id);
    l.spec.set_client_reference(l.client_reference);
    l.spec.mutable_recipient()->set_person("01017012345");
    l.first_work.exchange = "utpost.work";
    l.first_work.routing_key = "route";
    l.first_work.body = "route";
    l.first_work.state_when_sent = Letter::QUEUED;
    std::vector<store::NewLetter> v;
    v.push_back(std::move(l));
    auto r = store_->CreateLetters(std::move(v));
    ASSERT_THAT(r, IsOk());
    ASSERT_THAT((*r)[0], IsOk());
    auto pending = store_->PendingOutbox(100);
    ASSERT_THAT(pending, IsOk());
    std::vector<int64_t> ids;
    for (const auto& m : *pending) ids.push_back(m.id);
    ASSERT_THAT(store_->MarkOutboxSent(ids), IsOk());  // -> QUEUED
  }

  void Move(const std::string& id, State from, State to,
            const std::string& channel = "", const std::string& reason = "") {
    store::Transition t;
    t.from = {from};
    t.to = to;
    t.channel = channel;
    t.reason = reason;
    ASSERT_THAT(store_->ApplyTransition(id, t), IsOk());
  }

  // A letter parked while delivering on `channel`, or while routing.
  void Parked(const std::string& id, const std::string& tenant,
              const std::string& channel, const std::string& reason) {
    Create(id, tenant);
    if (channel.empty()) {
      Move(id, Letter::QUEUED, Letter::PARKED, "", reason);
    } else {
      Move(id, Letter::QUEUED, Letter::ROUTED, channel);
      Move(id, Letter::ROUTED, Letter::PARKED, "", reason);
    }
  }

  // The unpublished work items, as (routing key, stage, attempt).
  std::vector<std::string> PendingWork() {
    std::vector<std::string> out;
    auto pending = store_->PendingOutbox(100);
    EXPECT_THAT(pending, IsOk());
    if (!pending.ok()) return out;
    for (const auto& m : *pending) {
      internal::v1::WorkItem item;
      EXPECT_TRUE(item.ParseFromString(m.body));
      out.push_back(absl::StrCat(m.letter_id, " ", m.exchange, " ",
                                 m.routing_key, " ", item.stage(), " ",
                                 item.attempt()));
    }
    return out;
  }

  std::unique_ptr<::utpost::testing::TempStoreFiles> files_;
  std::string dir_;
  std::string path_;
  FakeClock clock_{kStart};
  std::unique_ptr<receipts::ReceiptSigner> signer_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Operations> ops_;
  int changes_ = 0;
};

TEST_F(OperationsTest, RedriveOneSendsALetterBackToItsStageWithAReceipt) {
  Parked(kL1, kTenantA, "print", "deliver.print failed 6 times; last: 503");
  v1::RedriveLettersRequest request;
  request.set_name(absl::StrCat("letters/", kL1));
  auto done = ops_->Redrive(request, "operator");
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->redriven(), 1);
  EXPECT_THAT(done->letter_ids(), ElementsAre(kL1));
  EXPECT_EQ(changes_, 1);

  auto letter = store_->GetLetter(kL1, "");
  ASSERT_THAT(letter, IsOk());
  EXPECT_EQ(letter->state, Letter::ROUTED);
  EXPECT_EQ(letter->channel, "print");
  auto receipts = store_->GetReceipts(kL1, "");
  ASSERT_THAT(receipts, IsOk());
  EXPECT_EQ(receipts->back().state, Letter::ROUTED);
  EXPECT_EQ(receipts->back().reason, "redriven by operator operator");
  EXPECT_THAT(PendingWork(),
              ElementsAre(absl::StrCat(kL1,
                                       " utpost.work deliver.print "
                                       "deliver.print 0")));

  // Not parked any more.
  EXPECT_THAT(
      ops_->Redrive(request, "operator"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("ROUTED")));
  request.set_name("00000000-0000-4000-8000-0000000000ff");
  EXPECT_THAT(ops_->Redrive(request, "operator"),
              StatusIs(absl::StatusCode::kNotFound, _));
  request.set_name("nonsense");
  EXPECT_THAT(ops_->Redrive(request, "operator"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
}

TEST_F(OperationsTest, ALetterParkedWhileRoutingIsRoutedAgain) {
  Parked(kL1, kTenantA, "", "route failed 6 times; last: registry: 503");
  v1::RedriveLettersRequest request;
  request.set_all(true);
  auto done = ops_->Redrive(request, "operator");
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->redriven(), 1);
  auto letter = store_->GetLetter(kL1, "");
  ASSERT_THAT(letter, IsOk());
  EXPECT_EQ(letter->state, Letter::QUEUED);
  EXPECT_THAT(PendingWork(),
              ElementsAre(absl::StrCat(kL1, " utpost.work route route 0")));
}

TEST_F(OperationsTest, RedriveByFilterTakesOnlyMatchingParkedLetters) {
  Parked(kL1, kTenantA, "print", "deliver.print failed; last: 503");
  Parked(kL2, kTenantB, "print", "deliver.print failed; last: 403");
  Parked(kL3, kTenantA, "digital", "deliver.digital failed; last: 503");
  v1::RedriveLettersRequest request;
  request.mutable_filter()->set_channel("print");
  request.mutable_filter()->set_reason_contains("503");
  auto done = ops_->Redrive(request, "operator");
  ASSERT_THAT(done, IsOk());
  EXPECT_THAT(done->letter_ids(), ElementsAre(kL1));

  request.mutable_filter()->Clear();
  request.mutable_filter()->set_tenant(kTenantA);
  done = ops_->Redrive(request, "operator");
  ASSERT_THAT(done, IsOk());
  EXPECT_THAT(done->letter_ids(), ElementsAre(kL3));

  request.set_all(true);
  done = ops_->Redrive(request, "operator");
  ASSERT_THAT(done, IsOk());
  EXPECT_THAT(done->letter_ids(), ElementsAre(kL2));
  done = ops_->Redrive(request, "operator");
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->redriven(), 0);
}

TEST_F(OperationsTest, RedriveRefusesAnEmptyOrUnknownTarget) {
  v1::RedriveLettersRequest request;
  EXPECT_THAT(
      ops_->Redrive(request, "op"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("target")));
  request.mutable_filter();
  EXPECT_THAT(
      ops_->Redrive(request, "op"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filter")));
  request.mutable_filter()->set_channel("fax");
  EXPECT_THAT(ops_->Redrive(request, "op"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("filter.channel")));
  request.set_all(false);
  EXPECT_THAT(ops_->Redrive(request, "op"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("all")));
}

TEST_F(OperationsTest, PauseAndResumeAreStoredAndShownInStatus) {
  EXPECT_THAT(ops_->SetPaused("fax", true, "op"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("channel: unknown channel \"fax\"")));
  auto paused = ops_->SetPaused("print", true, "alice");
  ASSERT_THAT(paused, IsOk());
  EXPECT_TRUE(paused->paused());
  EXPECT_EQ(paused->paused_by(), "alice");
  auto status = ops_->GetStatus();
  ASSERT_THAT(status, IsOk());
  ASSERT_THAT(status->paused_channels(), SizeIs(1));
  EXPECT_EQ(status->paused_channels(0).channel(), "print");

  auto resumed = ops_->SetPaused("print", false, "alice");
  ASSERT_THAT(resumed, IsOk());
  EXPECT_FALSE(resumed->paused());
  status = ops_->GetStatus();
  ASSERT_THAT(status, IsOk());
  EXPECT_THAT(status->paused_channels(), SizeIs(0));
}

TEST_F(OperationsTest, OperatorCancelsAnyTenantsLetterBeforeHandOff) {
  Create(kL1, kTenantB);
  auto cancelled = ops_->Cancel(kL1, "operator");
  ASSERT_THAT(cancelled, IsOk());
  EXPECT_EQ(cancelled->tenant(), kTenantB);
  EXPECT_EQ(cancelled->letter().state(), Letter::CANCELLED);
  EXPECT_EQ(cancelled->letter().timeline().rbegin()->reason(),
            "cancelled by operator operator");
  EXPECT_THAT(
      ops_->Cancel(kL1, "operator"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CANCELLED")));

  Create(kL2, kTenantA);
  Move(kL2, Letter::QUEUED, Letter::ROUTED, "print");
  ASSERT_THAT(store_->ClaimHandOff(kL2, "print"), IsOk());
  EXPECT_THAT(ops_->Cancel(kL2, "operator"),
              StatusIs(absl::StatusCode::kFailedPrecondition, _));
  EXPECT_THAT(ops_->Cancel("00000000-0000-4000-8000-0000000000ff", "op"),
              StatusIs(absl::StatusCode::kNotFound, _));
}

TEST_F(OperationsTest, GetLetterShowsTimelineAndFailedAttempts) {
  Create(kL1, kTenantA);
  Move(kL1, Letter::QUEUED, Letter::ROUTED, "print");
  store::OutboxMessage retry;
  retry.exchange = "utpost.retry.1s";
  retry.routing_key = "deliver.print";
  ASSERT_THAT(
      store_->ScheduleRetry(kL1, {Letter::ROUTED}, 1, "print: 503", retry),
      IsOk());
  Move(kL1, Letter::ROUTED, Letter::PARKED, "", "parked: print: 503");
  auto got = ops_->GetLetter(absl::StrCat("letters/", kL1));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->tenant(), kTenantA);
  EXPECT_EQ(got->letter().recipient().person(), "010170*****");
  ASSERT_THAT(got->letter().timeline(), SizeIs(4));
  ASSERT_THAT(got->failed_attempts(), SizeIs(2));
  EXPECT_EQ(got->failed_attempts(0).stage(), "deliver.print");
  EXPECT_EQ(got->failed_attempts(0).error(), "print: 503");
  EXPECT_FALSE(got->failed_attempts(0).parked());
  EXPECT_TRUE(got->failed_attempts(1).parked());
}

TEST_F(OperationsTest, ListLettersValidatesWithFieldPaths) {
  Create(kL1, kTenantA);
  Create(kL2, kTenantB);
  v1::OpsListLettersRequest request;
  auto all = ops_->ListLetters(request);
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(all->letters(), SizeIs(2));
  request.set_tenant(kTenantB);
  auto b = ops_->ListLetters(request);
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(b->letters(), SizeIs(1));
  EXPECT_EQ(b->letters(0).tenant(), kTenantB);
  request.Clear();
  request.set_id_prefix("00000000-0000-4000-8000-000000000002");
  auto by_prefix = ops_->ListLetters(request);
  ASSERT_THAT(by_prefix, IsOk());
  ASSERT_THAT(by_prefix->letters(), SizeIs(1));
  EXPECT_EQ(by_prefix->letters(0).letter().id(), kL2);
  request.set_id_prefix("0000");
  auto both = ops_->ListLetters(request);
  ASSERT_THAT(both, IsOk());
  EXPECT_THAT(both->letters(), SizeIs(2));

  auto expect_invalid = [this](const v1::OpsListLettersRequest& r,
                               const std::string& field) {
    EXPECT_THAT(
        ops_->ListLetters(r),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(field + ":")));
  };
  v1::OpsListLettersRequest bad;
  bad.set_page_size(5000);
  expect_invalid(bad, "page_size");
  bad.Clear();
  bad.set_tenant("12");
  expect_invalid(bad, "tenant");
  bad.Clear();
  bad.set_channel("fax");
  expect_invalid(bad, "channel");
  bad.Clear();
  bad.set_page_token("garbage");
  expect_invalid(bad, "page_token");
  bad.Clear();
  bad.set_id_prefix("0b7c*");
  expect_invalid(bad, "id_prefix");
  bad.Clear();
  bad.mutable_created_before()->set_seconds(100);
  bad.mutable_created_after()->set_seconds(200);
  expect_invalid(bad, "created_after");
}

TEST_F(OperationsTest, StatusCountsWaitingProvidersAndCertificates) {
  Create(kL1, kTenantA);
  Create(kL2, kTenantB);
  Move(kL2, Letter::QUEUED, Letter::ROUTED, "print");
  Parked(kL3, kTenantA, "print", "deliver.print failed; last: 503");
  clock_.Advance(60 * 1000);

  store::ProviderStatsRecord a;
  a.process_id = "w1:1";
  a.channel = "print";
  a.window_start_ms = kStart;
  a.window_end_ms = kStart + 5000;
  a.sends = 3;
  a.errors = 1;
  a.latency_sum_us = 30000;
  a.latency_max_us = 20000;
  a.last_error = "UNAVAILABLE: 503";
  store::ProviderStatsRecord b = a;
  b.process_id = "w2:2";
  b.sends = 1;
  b.errors = 0;
  b.latency_sum_us = 10000;
  b.latency_max_us = 10000;
  b.last_error = "";
  ASSERT_THAT(store_->WriteProviderStats({a, b}), IsOk());

  auto status = ops_->GetStatus();
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->parked(), 1);
  EXPECT_EQ(status->broker_error(), "no broker connection configured");
  ASSERT_THAT(status->tenants(), SizeIs(2));
  EXPECT_EQ(status->tenants(0).key(), kTenantB);
  EXPECT_EQ(status->tenants(1).key(), kTenantA);
  EXPECT_EQ(status->tenants(1).total(), 2);
  EXPECT_EQ(status->tenants(1).name(), "Eksempel kommune");
  EXPECT_EQ(status->tenants(0).name(), "");  // Not named.
  EXPECT_EQ(status->channels(0).name(), "");
  // Channels: "" (not routed) and print.
  ASSERT_THAT(status->channels(), SizeIs(2));
  EXPECT_EQ(status->channels(1).key(), "print");
  EXPECT_EQ(status->channels(1).total(), 2);
  bool saw_queued = false;
  for (const auto& w : status->waiting()) {
    if (w.state() == Letter::QUEUED) {
      saw_queued = true;
      EXPECT_EQ(w.count(), 1);
      EXPECT_DOUBLE_EQ(w.oldest_age_seconds(), 60.0);
    }
  }
  EXPECT_TRUE(saw_queued);

  const v1::Status::Provider* print = nullptr;
  for (const auto& p : status->providers()) {
    if (p.channel() == "print") print = &p;
  }
  ASSERT_NE(print, nullptr);
  EXPECT_EQ(print->sends(), 4);
  EXPECT_EQ(print->errors(), 1);
  EXPECT_DOUBLE_EQ(print->error_rate(), 0.25);
  EXPECT_DOUBLE_EQ(print->mean_latency_ms(), 10.0);
  EXPECT_DOUBLE_EQ(print->max_latency_ms(), 20.0);
  EXPECT_EQ(print->last_error(), "UNAVAILABLE: 503");
  EXPECT_EQ(print->window_seconds(), 300);

  ASSERT_THAT(status->certificates(), SizeIs(2));
  EXPECT_EQ(status->certificates(0).setting(), "server.cert_file");
  EXPECT_THAT(status->certificates(0).subject(), HasSubstr("CN=localhost"));
  EXPECT_GT(status->certificates(0).days_left(), 30);
  EXPECT_FALSE(status->certificates(0).expiring());
  EXPECT_THAT(status->certificates(1).error(), HasSubstr("cannot read"));
}

TEST_F(OperationsTest, ACertificateCloseToExpiryIsFlagged) {
  OperationsOptions options;
  options.clock = &clock_;
  options.certificates = {{"server.cert_file", "certs-dev/server.pem"}};
  // Seen from a day before it expires.
  auto expiry = config::EarliestExpiry("certs-dev/server.pem");
  ASSERT_THAT(expiry, IsOk());
  FakeClock late(expiry->not_after_ms - 24 * 3600 * 1000);
  options.clock = &late;
  Operations ops(store_.get(), nullptr, options);
  auto status = ops.GetStatus();
  ASSERT_THAT(status, IsOk());
  ASSERT_THAT(status->certificates(), SizeIs(1));
  EXPECT_TRUE(status->certificates(0).expiring());
  EXPECT_NEAR(status->certificates(0).days_left(), 1.0, 0.01);
}

}  // namespace
}  // namespace utpost::api
