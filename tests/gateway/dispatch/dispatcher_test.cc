#include "gateway/dispatch/dispatcher.h"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "utpost/internal/v1/work_item.pb.h"

namespace utpost::dispatch {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using v1::Letter;

constexpr char kMailbox[] = "01817010055";
constexpr char kReserved[] = "02916510260";
constexpr char kUnknown[] = "04847910181";

class FakeRegistry final : public adapters::Registry {
 public:
  absl::StatusOr<std::vector<adapters::PersonContact>> LookupPersons(
      const std::vector<std::string>& numbers) override {
    calls.push_back(numbers);
    if (!fail_with.ok()) return fail_with;
    std::vector<adapters::PersonContact> out;
    for (const auto& n : numbers) {
      adapters::PersonContact c;
      c.person_number = n;
      if (n == kMailbox) {
        c.status = adapters::PersonContact::Status::kActive;
        c.mailbox_address = "kari#1";
        c.mailbox_provider = "984661185";
      } else if (n == kReserved) {
        c.status = adapters::PersonContact::Status::kActive;
        c.reserved = true;
      }
      out.push_back(c);
    }
    return out;
  }
  absl::Status fail_with = absl::OkStatus();
  std::vector<std::vector<std::string>> calls;
};

class FakeChannel final : public adapters::Channel {
 public:
  explicit FakeChannel(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  absl::StatusOr<adapters::SendResult> Send(
      const adapters::OutgoingLetter& letter) override {
    std::lock_guard<std::mutex> lock(mu_);
    sent.push_back(letter.message_id);
    if (!fail_with.ok()) return fail_with;
    adapters::SendResult r;
    if (answer_duplicate) {
      r.outcome = adapters::SendResult::Outcome::kDuplicate;
    } else {
      r.delivered = name_ == "digital";
    }
    return r;
  }
  std::vector<std::string> sent;
  absl::Status fail_with = absl::OkStatus();
  bool answer_duplicate = false;

 private:
  std::string name_;
  std::mutex mu_;
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dispatcher-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto signer = receipts::NewJwsReceiptSigner(
        {"certs-dev/receipts.key", "certs-dev/receipts.pem"});
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
    store::SqliteStoreOptions o;
    o.path = (dir_ / "utpost.db").string();
    o.signer = signer_.get();
    auto s = store::OpenSqliteStore(o);
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
    DispatcherOptions d;
    d.retry_delays_seconds = {1, 2};
    d.max_attempts = 3;
    dispatcher_ = std::make_unique<Dispatcher>(store_.get(), &registry_,
                                               &digital_, &print_, d, [] {});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Create(
      const std::string& person,
      v1::DeliveryPolicy::Mode mode = v1::DeliveryPolicy::DIGITAL_THEN_PRINT,
      bool address = true, bool bulk = false) {
    store::NewLetter l;
    l.bulk = bulk;
    const std::string n = std::to_string(++n_);
    l.id = "00000000-0000-4000-8000-" + std::string(12 - n.size(), '0') + n;
    l.tenant = "964338531";
    l.client_reference = "ref-" + std::to_string(n_);
    l.request_digest = "d" + std::to_string(n_);
    l.spec.mutable_recipient()->set_person(person);
    if (address) {
      auto* a = l.spec.mutable_recipient()->mutable_postal_address();
      a->set_name("Kari");
      a->add_address_lines("Storgata 1");
      a->set_postal_code("5003");
      a->set_city("Bergen");
    }
    l.spec.set_title("Vedtak");
    l.spec.mutable_delivery_policy()->set_mode(mode);
    l.documents.push_back({"a.pdf", "application/pdf", "%PDF-1.4", "00"});
    l.first_work.exchange = "utpost.work";
    l.first_work.routing_key = "route";
    l.first_work.body = Work(l.id, "route", 0);
    l.first_work.state_when_sent = Letter::QUEUED;
    auto r = store_->CreateLetters({l});
    EXPECT_THAT(r, IsOk());
    return l.id;
  }

  static std::string Work(const std::string& id, const std::string& stage,
                          int attempt) {
    internal::v1::WorkItem w;
    w.set_letter_id(id);
    w.set_stage(stage);
    w.set_attempt(attempt);
    return w.SerializeAsString();
  }

  queue::Disposition Handle(const std::string& id, const std::string& stage,
                            int attempt = 0) {
    queue::Delivery d;
    d.routing_key = stage;
    d.body = Work(id, stage, attempt);
    return dispatcher_->Handle(d);
  }

  // Runs what the outbox holds for `id` (as the broker would), once.
  void RunOutbox(const std::string& id) {
    auto rows = store_->PendingOutbox(100);
    ASSERT_THAT(rows, IsOk());
    std::vector<int64_t> ids;
    for (const auto& r : *rows) ids.push_back(r.id);
    ASSERT_THAT(store_->MarkOutboxSent(ids), IsOk());
    for (const auto& r : *rows) {
      if (r.letter_id != id || r.routing_key == "parked") continue;
      internal::v1::WorkItem w;
      ASSERT_TRUE(w.ParseFromString(r.body));
      EXPECT_EQ(Handle(id, w.stage(), w.attempt()), queue::Disposition::kAck);
    }
  }

  store::LetterRecord Get(const std::string& id) {
    auto l = store_->GetLetter(id, "");
    EXPECT_THAT(l, IsOk());
    return *l;
  }

  std::filesystem::path dir_;
  int n_ = 0;
  std::unique_ptr<receipts::ReceiptSigner> signer_;
  std::unique_ptr<store::Store> store_;
  FakeRegistry registry_;
  FakeChannel digital_{"digital"};
  FakeChannel print_{"print"};
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, PersonWithMailboxIsDeliveredDigitally) {
  auto id = Create(kMailbox);
  RunOutbox(id);  // route
  RunOutbox(id);  // deliver.digital
  auto l = Get(id);
  EXPECT_EQ(l.state, Letter::DELIVERED);
  EXPECT_EQ(l.channel, "digital");
  EXPECT_THAT(digital_.sent, ::testing::ElementsAre(id));
  EXPECT_TRUE(print_.sent.empty());
}

TEST_F(DispatcherTest, LettersRoutedTogetherAreLookedUpTogether) {
  const std::vector<std::string> ids = {
      Create(kMailbox), Create(kReserved), Create(kUnknown),
      Create(kMailbox, v1::DeliveryPolicy::PRINT_ONLY)};
  std::vector<queue::Delivery> batch;
  for (const auto& id : ids) {
    queue::Delivery& d = batch.emplace_back();
    d.routing_key = "route";
    d.body = Work(id, "route", 0);
  }
  auto prefetched = dispatcher_->Prefetch(batch);
  // One call, each person once; print-only letters ask nothing.
  ASSERT_EQ(registry_.calls.size(), 1u);
  EXPECT_THAT(registry_.calls[0],
              ::testing::UnorderedElementsAre(kMailbox, kReserved, kUnknown));
  for (const auto& d : batch) {
    EXPECT_EQ(dispatcher_->Handle(d, &prefetched), queue::Disposition::kAck);
  }
  EXPECT_EQ(registry_.calls.size(), 1u);
  EXPECT_EQ(Get(ids[0]).channel, "digital");
  EXPECT_EQ(Get(ids[1]).channel, "print");
  EXPECT_EQ(Get(ids[2]).channel, "print");
  EXPECT_EQ(Get(ids[3]).channel, "print");

  // A failed look-up together leaves each letter to its own.
  const std::vector<std::string> more = {Create(kMailbox), Create(kReserved)};
  batch.clear();
  for (const auto& id : more) {
    queue::Delivery& d = batch.emplace_back();
    d.routing_key = "route";
    d.body = Work(id, "route", 0);
  }
  registry_.fail_with = absl::UnavailableError("krr down");
  prefetched = dispatcher_->Prefetch(batch);
  EXPECT_TRUE(prefetched.persons.empty());
  registry_.fail_with = absl::OkStatus();
  for (const auto& d : batch) {
    EXPECT_EQ(dispatcher_->Handle(d, &prefetched), queue::Disposition::kAck);
  }
  EXPECT_EQ(registry_.calls.size(), 4u);
  EXPECT_EQ(Get(more[0]).channel, "digital");
  EXPECT_EQ(Get(more[1]).channel, "print");
}

TEST_F(DispatcherTest, ReservedPersonGoesToPrint) {
  auto id = Create(kReserved);
  RunOutbox(id);
  RunOutbox(id);
  auto l = Get(id);
  EXPECT_EQ(l.state, Letter::SENT_PRINT);
  EXPECT_EQ(l.channel, "print");
  EXPECT_THAT(l.reason, ::testing::IsEmpty());
  EXPECT_TRUE(digital_.sent.empty());
}

TEST_F(DispatcherTest, DigitalOnlyWithoutMailboxFailsWithReason) {
  auto id = Create(kUnknown, v1::DeliveryPolicy::DIGITAL_ONLY);
  RunOutbox(id);
  auto l = Get(id);
  EXPECT_EQ(l.state, Letter::FAILED);
  EXPECT_THAT(l.reason, HasSubstr("not registered"));
}

TEST_F(DispatcherTest, PrintWithoutAddressFails) {
  auto id = Create(kUnknown, v1::DeliveryPolicy::DIGITAL_THEN_PRINT, false);
  RunOutbox(id);
  EXPECT_EQ(Get(id).state, Letter::FAILED);
  EXPECT_THAT(Get(id).reason, HasSubstr("postal_address"));
}

TEST_F(DispatcherTest, RedeliveredWorkItemChangesNothing) {
  auto id = Create(kMailbox);
  RunOutbox(id);
  RunOutbox(id);
  EXPECT_EQ(Handle(id, "route"), queue::Disposition::kAck);
  EXPECT_EQ(Handle(id, "deliver.digital"), queue::Disposition::kAck);
  EXPECT_EQ(digital_.sent.size(), 1u);
  auto receipts = store_->GetReceipts(id, "");
  ASSERT_THAT(receipts, IsOk());
  EXPECT_EQ(receipts->size(), 5u);  // RECEIVED QUEUED ROUTED SENT DELIVERED
}

TEST_F(DispatcherTest, TransientErrorsRetryThroughRetryExchangeThenPark) {
  auto id = Create(kMailbox);
  RunOutbox(id);
  digital_.fail_with = absl::UnavailableError("503 from provider");
  EXPECT_EQ(Handle(id, "deliver.digital", 0), queue::Disposition::kAck);
  auto rows = store_->PendingOutbox(10);
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 2u);  // The first attempt's item, then the retry.
  EXPECT_EQ(rows->back().exchange, "utpost.retry.1s");
  EXPECT_EQ(rows->back().routing_key, "deliver.digital");
  EXPECT_EQ(Get(id).state, Letter::ROUTED);
  EXPECT_THAT(Get(id).reason, HasSubstr("503"));
  EXPECT_EQ(Handle(id, "deliver.digital", 1), queue::Disposition::kAck);
  EXPECT_EQ(Handle(id, "deliver.digital", 2), queue::Disposition::kAck);
  auto l = Get(id);
  EXPECT_EQ(l.state, Letter::PARKED);
  EXPECT_THAT(l.reason, HasSubstr("3 times"));
}

TEST_F(DispatcherTest, ABulkLetterKeepsToTheBulkLaneThroughRetryAndFallback) {
  auto single = Create(kMailbox);
  auto bulk = Create(kMailbox, v1::DeliveryPolicy::DIGITAL_THEN_PRINT,
                     /*address=*/true, /*bulk=*/true);
  // The routing key of the newest outbox row of `id`.
  auto last_key = [this](const std::string& id) {
    auto rows = store_->PendingOutbox(100);
    EXPECT_THAT(rows, IsOk());
    std::string key;
    for (const auto& r : *rows) {
      if (r.letter_id == id) key = r.exchange + " " + r.routing_key;
    }
    return key;
  };
  EXPECT_EQ(Handle(single, "route"), queue::Disposition::kAck);
  EXPECT_EQ(Handle(bulk, "route"), queue::Disposition::kAck);
  EXPECT_EQ(last_key(single), "utpost.work deliver.digital");
  EXPECT_EQ(last_key(bulk), "utpost.work bulk.deliver.digital");

  digital_.fail_with = absl::UnavailableError("503 from provider");
  EXPECT_EQ(Handle(bulk, "deliver.digital", 0), queue::Disposition::kAck);
  EXPECT_EQ(last_key(bulk), "utpost.retry.1s bulk.deliver.digital");

  digital_.fail_with = absl::InvalidArgumentError("refused by the provider");
  EXPECT_EQ(Handle(bulk, "deliver.digital", 1), queue::Disposition::kAck);
  EXPECT_EQ(Get(bulk).channel, "print");
  EXPECT_EQ(last_key(bulk), "utpost.work bulk.deliver.print");
  EXPECT_TRUE(Get(bulk).bulk);
  EXPECT_FALSE(Get(single).bulk);
}

TEST_F(DispatcherTest, PermanentDigitalRefusalFallsBackToPrint) {
  auto id = Create(kMailbox);
  RunOutbox(id);
  digital_.fail_with = absl::InvalidArgumentError("CLIENT_DATA: no mailbox");
  RunOutbox(id);  // deliver.digital refused -> re-routed to print
  RunOutbox(id);  // deliver.print
  auto l = Get(id);
  EXPECT_EQ(l.state, Letter::SENT_PRINT);
  EXPECT_EQ(l.channel, "print");
}

TEST_F(DispatcherTest, RegistryOutageRetriesRouting) {
  registry_.fail_with = absl::UnavailableError("registry down");
  auto id = Create(kMailbox);
  RunOutbox(id);
  EXPECT_EQ(Get(id).state, Letter::QUEUED);
  registry_.fail_with = absl::OkStatus();
  RunOutbox(id);  // the retry
  EXPECT_EQ(Get(id).state, Letter::ROUTED);
}

TEST_F(DispatcherTest, DuplicateAnswerAfterACrashCountsAsDelivered) {
  auto id = Create(kMailbox);
  RunOutbox(id);
  // The first attempt reached the provider, but its outcome was never
  // stored; the redelivered item gets "duplicate message id".
  digital_.answer_duplicate = true;
  RunOutbox(id);
  auto l = Get(id);
  EXPECT_EQ(l.state, Letter::DELIVERED);
  auto receipts = store_->GetReceipts(id, "");
  ASSERT_THAT(receipts, IsOk());
  ASSERT_GE(receipts->size(), 2u);
  EXPECT_EQ((*receipts)[receipts->size() - 2].state, Letter::SENT_DIGITAL);
  EXPECT_EQ(receipts->back().state, Letter::DELIVERED);
}

TEST_F(DispatcherTest, RoutedBeforeTheConfirmWasRecordedStillShowsQueued) {
  auto id = Create(kMailbox);
  // The consumer gets the item before the relay marks it sent.
  EXPECT_EQ(Handle(id, "route"), queue::Disposition::kAck);
  auto receipts = store_->GetReceipts(id, "");
  ASSERT_THAT(receipts, IsOk());
  std::vector<Letter::State> states;
  for (const auto& r : *receipts) states.push_back(r.state);
  EXPECT_THAT(states, ::testing::ElementsAre(Letter::RECEIVED, Letter::QUEUED,
                                             Letter::ROUTED));
  // The confirm recorded late adds no second QUEUED; delivery goes on.
  RunOutbox(id);
  EXPECT_EQ(Get(id).state, Letter::DELIVERED);
  receipts = store_->GetReceipts(id, "");
  ASSERT_THAT(receipts, IsOk());
  EXPECT_EQ(receipts->size(), 5u);  // RECEIVED QUEUED ROUTED SENT DELIVERED
}

TEST_F(DispatcherTest, CancelledLetterIsNotSent) {
  auto id = Create(kMailbox);
  RunOutbox(id);
  store::Transition t;
  t.from = {Letter::ROUTED};
  t.to = Letter::CANCELLED;
  ASSERT_THAT(store_->ApplyTransition(id, t), IsOk());
  EXPECT_EQ(Handle(id, "deliver.digital"), queue::Disposition::kAck);
  EXPECT_TRUE(digital_.sent.empty());
}

}  // namespace
}  // namespace utpost::dispatch
