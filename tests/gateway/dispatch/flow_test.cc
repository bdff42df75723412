// Routing to every channel, fallback, provider events, timers and lost
// work, through the dispatcher with fake channels and a real store.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gateway/dispatch/dispatcher.h"
#include "gateway/dispatch/event_poller.h"
#include "gateway/dispatch/timer_scanner.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_store.h"
#include "utpost/internal/v1/work_item.pb.h"

namespace utpost::dispatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using v1::Letter;
using Kind = adapters::ProviderEvent::Kind;

constexpr char kDigipost[] = "01817010055";
constexpr char kEboks[] = "30925910089";
constexpr char kReserved[] = "02916510260";
constexpr char kOrgInbox[] = "974760673";
constexpr char kOrgNoInbox[] = "991825827";

const int64_t kStart = RealClock()->NowMillis() / 1000 * 1000;

class FakeRegistry final : public adapters::Registry {
 public:
  absl::StatusOr<std::vector<adapters::PersonContact>> LookupPersons(
      const std::vector<std::string>& numbers) override {
    std::vector<adapters::PersonContact> out;
    for (const auto& n : numbers) {
      adapters::PersonContact c;
      c.person_number = n;
      c.status = adapters::PersonContact::Status::kActive;
      if (n == kDigipost) {
        c.mailbox_address = "kari#1";
        c.mailbox_provider = "984661185";
      } else if (n == kEboks) {
        c.mailbox_address = "per#eboks";
        c.mailbox_provider = "922020175";
        c.mailbox_certificate = "DER";
      } else if (n == kReserved) {
        c.reserved = true;
      } else {
        c.status = adapters::PersonContact::Status::kNotRegistered;
      }
      out.push_back(c);
    }
    return out;
  }
};

class FakeOrganisations final : public adapters::OrganisationRegistry {
 public:
  absl::StatusOr<adapters::OrganisationContact> LookupOrganisation(
      const std::string& number) override {
    adapters::OrganisationContact c;
    c.organisation_number = number;
    if (number == kOrgInbox || number == kOrgNoInbox) {
      c.status = adapters::OrganisationContact::Status::kActive;
      c.name = "Testkommune";
      c.postal_address.lines = {"Postboks 7"};
      c.postal_address.postal_code = "0101";
      c.postal_address.city = "Oslo";
      c.has_inbox = number == kOrgInbox;
    }
    return c;
  }
};

class FakeChannel final : public adapters::Channel {
 public:
  explicit FakeChannel(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  absl::StatusOr<adapters::SendResult> Send(
      const adapters::OutgoingLetter& letter) override {
    if (during_send) during_send();  // Unlocked: it may poll this channel.
    std::lock_guard<std::mutex> lock(mu_);
    sent.push_back(letter);
    if (!fail_with.ok()) return fail_with;
    adapters::SendResult r;
    r.delivered = delivers;
    return r;
  }
  absl::StatusOr<std::vector<adapters::ProviderEvent>> FetchEvents(
      int max) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<adapters::ProviderEvent> out;
    for (const auto& e : events) {
      if (static_cast<int>(out.size()) == max) break;
      out.push_back(e);
    }
    return out;
  }
  absl::Status ConfirmEvents(const std::vector<std::string>& ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& id : ids) {
      confirmed.push_back(id);
      for (auto it = events.begin(); it != events.end(); ++it) {
        if (it->event_id == id) {
          events.erase(it);
          break;
        }
      }
    }
    return absl::OkStatus();
  }
  void Report(const std::string& id, const std::string& letter, Kind kind,
              const std::string& reason = "") {
    std::lock_guard<std::mutex> lock(mu_);
    adapters::ProviderEvent e;
    e.event_id = id;
    e.message_id = letter;
    e.kind = kind;
    e.provider = name_ + "-provider";
    e.reason = reason;
    e.evidence = "signed:" + id;
    events.push_back(e);
  }

  std::vector<adapters::OutgoingLetter> sent;
  std::vector<adapters::ProviderEvent> events;
  std::vector<std::string> confirmed;
  absl::Status fail_with = absl::OkStatus();
  bool delivers = false;
  // Runs in Send before the answer, as another worker would meanwhile.
  std::function<void()> during_send;

 private:
  std::string name_;
  std::mutex mu_;
};

class FlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    files_ = std::make_unique<::utpost::testing::TempStoreFiles>("flow");
    ASSERT_FALSE(files_->dir().empty());
    auto signer = receipts::NewJwsReceiptSigner(
        {"certs-dev/receipts.key", "certs-dev/receipts.pem"});
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
    digital_.delivers = true;
    Open({"digital", "dpi", "altinn", "print"}, &organisations_);
  }
  void TearDown() override {
    scanner_.reset();
    dispatcher_.reset();
    store_.reset();
    files_.reset();
  }

  // (Re)opens the store and the dispatcher with these channels.
  void Open(const std::vector<std::string>& channels,
            adapters::OrganisationRegistry* orgs) {
    scanner_.reset();
    dispatcher_.reset();
    store_.reset();
    store::SqliteStoreOptions o;
    o.path = files_->path();
    o.signer = signer_.get();
    o.clock = &clock_;
    auto s = store::OpenSqliteStore(o);
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
    std::map<std::string, adapters::Channel*> map;
    for (const auto& c : channels) map[c] = all_.at(c);
    DispatcherOptions d;
    d.retry_delays_seconds = {1, 3};
    d.max_attempts = 3;
    d.clock = &clock_;
    dispatcher_ = std::make_unique<Dispatcher>(store_.get(), &registry_, orgs,
                                               map, d, [] {});
    TimerScannerOptions t;
    t.clock = &clock_;
    t.start_thread = false;
    t.stuck_after_ms = 60 * 1000;
    scanner_ =
        std::make_unique<TimerScanner>(store_.get(), dispatcher_.get(), t);
  }

  std::string Create(
      v1::Recipient recipient,
      v1::DeliveryPolicy::Mode mode = v1::DeliveryPolicy::DIGITAL_THEN_PRINT,
      bool address = true, int64_t unread_after_s = 0,
      int64_t not_before_ms = 0) {
    store::NewLetter l;
    const std::string n = std::to_string(++n_);
    l.id = "00000000-0000-4000-8000-" + std::string(12 - n.size(), '0') + n;
    l.tenant = "964338531";
    l.client_reference = "ref-" + n;
    l.request_digest = "d" + n;
    *l.spec.mutable_recipient() = recipient;
    if (address) {
      auto* a = l.spec.mutable_recipient()->mutable_postal_address();
      a->set_name("Kari");
      a->add_address_lines("Storgata 1");
      a->set_postal_code("5003");
      a->set_city("Bergen");
    }
    l.spec.set_title("Vedtak");
    l.spec.mutable_delivery_policy()->set_mode(mode);
    if (unread_after_s > 0) {
      l.spec.mutable_delivery_policy()
          ->mutable_print_if_unread_after()
          ->set_seconds(unread_after_s);
    }
    if (not_before_ms > 0) {
      l.spec.mutable_not_before()->set_seconds(not_before_ms / 1000);
    }
    l.documents.push_back({"a.pdf", "application/pdf", "%PDF-1.4", "00"});
    internal::v1::WorkItem w;
    w.set_letter_id(l.id);
    w.set_stage("route");
    l.first_work.exchange = "utpost.work";
    l.first_work.routing_key = "route";
    l.first_work.body = w.SerializeAsString();
    l.first_work.state_when_sent = Letter::QUEUED;
    EXPECT_THAT(store_->CreateLetters({l}), IsOk());
    return l.id;
  }
  static v1::Recipient Person(const std::string& n) {
    v1::Recipient r;
    r.set_person(n);
    return r;
  }
  static v1::Recipient Org(const std::string& n) {
    v1::Recipient r;
    r.set_organisation(n);
    return r;
  }

  // Runs what the outbox holds (as the broker would) until it is empty;
  // retry items run at once. Returns the stages run, in order.
  std::vector<std::string> Drain(int rounds = 10) {
    std::vector<std::string> stages;
    for (int i = 0; i < rounds; ++i) {
      auto rows = store_->PendingOutbox(100);
      EXPECT_THAT(rows, IsOk());
      if (rows->empty()) break;
      std::vector<int64_t> ids;
      for (const auto& r : *rows) ids.push_back(r.id);
      EXPECT_THAT(store_->MarkOutboxSent(ids), IsOk());
      for (const auto& r : *rows) {
        if (r.routing_key == "parked") continue;
        stages.push_back(r.routing_key);
        queue::Delivery d;
        d.routing_key = r.routing_key;
        d.body = r.body;
        EXPECT_EQ(dispatcher_->Handle(d), queue::Disposition::kAck);
      }
    }
    return stages;
  }

  store::LetterRecord Get(const std::string& id) {
    auto l = store_->GetLetter(id, "");
    EXPECT_THAT(l, IsOk());
    return *l;
  }
  std::vector<Letter::State> Timeline(const std::string& id) {
    auto r = store_->GetReceipts(id, "");
    EXPECT_THAT(r, IsOk());
    std::vector<Letter::State> out;
    for (const auto& x : *r) out.push_back(x.state);
    return out;
  }

  std::unique_ptr<::utpost::testing::TempStoreFiles> files_;
  int n_ = 0;
  FakeClock clock_{kStart};
  std::unique_ptr<receipts::ReceiptSigner> signer_;
  std::unique_ptr<store::Store> store_;
  FakeRegistry registry_;
  FakeOrganisations organisations_;
  FakeChannel digital_{"digital"};
  FakeChannel dpi_{"dpi"};
  FakeChannel altinn_{"altinn"};
  FakeChannel print_{"print"};
  std::map<std::string, adapters::Channel*> all_ = {{"digital", &digital_},
                                                    {"dpi", &dpi_},
                                                    {"altinn", &altinn_},
                                                    {"print", &print_}};
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<TimerScanner> scanner_;
};

TEST_F(FlowTest, StagesFollowTheConfiguredChannels) {
  EXPECT_THAT(
      Dispatcher::StagesFor({"digital", "dpi", "print"}),
      ElementsAre("route", "deliver.digital", "deliver.dpi", "deliver.print"));
}

// The DPI channel asks the registry for the mailbox itself (its own
// registry step, adapters/dpi/dpi_channel.h): the dispatcher hands it the
// person.
TEST_F(FlowTest, EboksPersonGoesToDpi) {
  auto id = Create(Person(kEboks));
  EXPECT_THAT(Drain(), ElementsAre("route", "deliver.dpi"));
  EXPECT_EQ(Get(id).state, Letter::SENT_DIGITAL);
  EXPECT_EQ(Get(id).channel, "dpi");
  ASSERT_THAT(dpi_.sent, SizeIs(1));
  EXPECT_EQ(dpi_.sent[0].person_number, kEboks);
  EXPECT_THAT(print_.sent, IsEmpty());
}

TEST_F(FlowTest, ChannelNotConfiguredParksAndNeverPrints) {
  Open({"digital", "print"}, &organisations_);
  auto id = Create(Person(kEboks));
  Drain();
  auto l = Get(id);
  EXPECT_EQ(l.state, Letter::PARKED);
  EXPECT_THAT(l.reason, HasSubstr("\"dpi\" is needed"));
  EXPECT_THAT(l.reason, HasSubstr("not configured"));
  EXPECT_THAT(print_.sent, IsEmpty());
}

TEST_F(FlowTest, OrganisationsGoToTheInboxOrToPrintAtTheRegistryAddress) {
  auto inbox = Create(Org(kOrgInbox), v1::DeliveryPolicy::DIGITAL_THEN_PRINT,
                      /*address=*/false);
  auto no_inbox =
      Create(Org(kOrgNoInbox), v1::DeliveryPolicy::DIGITAL_THEN_PRINT, false);
  auto only = Create(Org(kOrgNoInbox), v1::DeliveryPolicy::DIGITAL_ONLY, false);
  Drain();
  EXPECT_EQ(Get(inbox).channel, "altinn");
  EXPECT_EQ(Get(inbox).state, Letter::SENT_DIGITAL);
  EXPECT_EQ(Get(no_inbox).channel, "print");
  EXPECT_EQ(Get(no_inbox).state, Letter::SENT_PRINT);
  ASSERT_THAT(print_.sent, SizeIs(1));
  EXPECT_EQ(print_.sent[0].recipient_address.postal_code, "0101");
  EXPECT_EQ(print_.sent[0].recipient_address.name, "Testkommune");
  EXPECT_EQ(Get(only).state, Letter::FAILED);
  EXPECT_THAT(Get(only).reason, HasSubstr("no digital inbox"));
}

TEST_F(FlowTest, WithoutOrganisationRegistryOrganisationsArePrinted) {
  Open({"digital", "print"}, nullptr);
  auto id = Create(Org(kOrgInbox));
  Drain();
  EXPECT_EQ(Get(id).state, Letter::SENT_PRINT);
  EXPECT_THAT(Get(id).reason, IsEmpty());
}

TEST_F(FlowTest, ReadEventMovesForwardAndLateEventsAreOnlyKept) {
  dpi_.delivers = false;
  auto id = Create(Person(kEboks));
  Drain();
  EXPECT_EQ(Get(id).state, Letter::SENT_DIGITAL);
  EventPoller poller(dispatcher_.get(), {.start_thread = false});
  dpi_.Report("e-read", id, Kind::kRead);
  dpi_.Report("e-delivered", id, Kind::kDelivered);  // Out of order.
  dpi_.Report("e-read", id, Kind::kRead);            // Duplicate.
  dpi_.Report("e-failed", id, Kind::kFailed, "late failure");
  EXPECT_EQ(poller.PollOnce(), 4);
  EXPECT_EQ(Get(id).state, Letter::READ);
  EXPECT_THAT(Timeline(id), ElementsAre(Letter::RECEIVED, Letter::QUEUED,
                                        Letter::ROUTED, Letter::SENT_DIGITAL,
                                        Letter::DELIVERED, Letter::READ));
  auto events = store_->GetProviderEvents(id);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(3));  // The duplicate once.
  EXPECT_EQ((*events)[0].evidence, "signed:e-read");
  EXPECT_TRUE((*events)[0].applied);
  EXPECT_FALSE((*events)[1].applied);
  EXPECT_FALSE((*events)[2].applied);
  EXPECT_THAT(dpi_.confirmed,
              ElementsAre("e-read", "e-delivered", "e-read", "e-failed"));
  EXPECT_THAT(dpi_.events, IsEmpty());
  EXPECT_THAT(print_.sent, IsEmpty());
}

TEST_F(FlowTest, EventBeforeTheHandOffIsRecordedCountsOnceItIs) {
  // Another worker polls the provider's receipts while this one's send is
  // still on its way: the receipt comes before SENT_DIGITAL is recorded,
  // is kept without effect, and moves the letter once the hand-off is.
  dpi_.delivers = false;
  auto id = Create(Person(kEboks));
  EventPoller poller(dispatcher_.get(), {.start_thread = false});
  dpi_.during_send = [&] {
    dpi_.Report("early", id, Kind::kDelivered);
    poller.PollOnce();
    EXPECT_EQ(Get(id).state, Letter::ROUTED);
  };
  Drain();
  dpi_.during_send = nullptr;
  EXPECT_EQ(Get(id).state, Letter::DELIVERED);
  EXPECT_THAT(Timeline(id),
              ElementsAre(Letter::RECEIVED, Letter::QUEUED, Letter::ROUTED,
                          Letter::SENT_DIGITAL, Letter::DELIVERED));
  auto receipts = store_->GetReceipts(id, "");
  ASSERT_THAT(receipts, IsOk());
  EXPECT_THAT(receipts->back().reason, HasSubstr("event early"));
  // The same event again changes nothing.
  dpi_.Report("early", id, Kind::kDelivered);
  poller.PollOnce();
  EXPECT_THAT(Timeline(id), SizeIs(5));
  EXPECT_THAT(dpi_.sent, SizeIs(1));
}

TEST_F(FlowTest, RedeliveredItemAppliesEventsKeptBeforeADeadWorkersHandOff) {
  // A worker recorded the hand-off and died before it acted on the receipt
  // kept meanwhile (and before acknowledging the item): the item, handed
  // out again, does that and sends nothing twice.
  dpi_.delivers = false;
  auto id = Create(Person(kEboks));
  EXPECT_THAT(Drain(1), ElementsAre("route"));
  ASSERT_EQ(Get(id).state, Letter::ROUTED);
  adapters::ProviderEvent e;
  e.event_id = "early";
  e.message_id = id;
  e.kind = Kind::kDelivered;
  e.provider = "dpi-provider";
  EXPECT_THAT(dispatcher_->ApplyEvent("dpi", e), IsOk());
  ASSERT_EQ(Get(id).state, Letter::ROUTED);
  store::Transition handed;
  handed.from = {Letter::ROUTED};
  handed.to = Letter::SENT_DIGITAL;
  ASSERT_THAT(store_->ApplyTransition(id, handed), IsOk());
  EXPECT_THAT(Drain(), ElementsAre("deliver.dpi"));
  EXPECT_EQ(Get(id).state, Letter::DELIVERED);
  EXPECT_THAT(dpi_.sent, IsEmpty());
}

// A provider whose every batch is full: of the same events each time (one
// that ignores confirmations) or of new ones each time (endless news).
class FullBatchChannel final : public adapters::Channel {
 public:
  FullBatchChannel(std::string name, Kind kind, bool new_each_fetch)
      : name_(std::move(name)), kind_(kind), new_each_fetch_(new_each_fetch) {}
  std::string name() const override { return name_; }
  absl::StatusOr<adapters::SendResult> Send(
      const adapters::OutgoingLetter&) override {
    return adapters::SendResult();
  }
  absl::StatusOr<std::vector<adapters::ProviderEvent>> FetchEvents(
      int max) override {
    ++fetches;
    std::vector<adapters::ProviderEvent> out;
    for (int i = 0; i < max; ++i) {
      adapters::ProviderEvent e;
      e.event_id = absl::StrCat(new_each_fetch_ ? fetches : 0, "-", i);
      e.message_id = "unknown-letter";
      e.kind = kind_;
      out.push_back(e);
    }
    return out;
  }
  int fetches = 0;

 private:
  const std::string name_;
  const Kind kind_;
  const bool new_each_fetch_;
};

TEST_F(FlowTest, RepeatedFullBatchesEndTheRound) {
  FullBatchChannel repeating("digital", Kind::kRead,
                             /*new_each_fetch=*/false);
  Dispatcher d(store_.get(), &registry_, nullptr, {{"digital", &repeating}},
               DispatcherOptions(), [] {});
  EventPoller poller(&d, {.batch = 5, .start_thread = false});
  EXPECT_EQ(poller.PollOnce(), 10);  // New, then all seen before.
  EXPECT_EQ(repeating.fetches, 2);
}

TEST_F(FlowTest, AChannelWithMuchToGiveDoesNotHoldUpTheOthers) {
  dpi_.delivers = false;
  auto id = Create(Person(kEboks));
  Drain();
  ASSERT_EQ(Get(id).state, Letter::SENT_DIGITAL);
  FullBatchChannel flood("altinn", Kind::kPrintReceived,
                         /*new_each_fetch=*/true);
  int fetches_when_delivered = -1;
  Dispatcher d(store_.get(), &registry_, nullptr,
               {{"altinn", &flood}, {"dpi", &dpi_}}, DispatcherOptions(), [&] {
                 if (fetches_when_delivered < 0) {
                   fetches_when_delivered = flood.fetches;
                 }
               });
  EventPoller poller(&d, {.batch = 5, .start_thread = false});
  dpi_.Report("receipt", id, Kind::kDelivered);
  poller.PollOnce();
  EXPECT_EQ(Get(id).state, Letter::DELIVERED);
  // The receipt came in the first turn, after one batch of the flood, not
  // after the flood's whole drain.
  EXPECT_EQ(fetches_when_delivered, 1);
  EXPECT_EQ(flood.fetches, 100);  // A round's bound.
}

TEST_F(FlowTest, LateFailureFallsBackToPrintOrFails) {
  auto fallback = Create(Person(kDigipost));
  auto only = Create(Person(kDigipost), v1::DeliveryPolicy::DIGITAL_ONLY);
  Drain();
  EXPECT_EQ(Get(fallback).state, Letter::DELIVERED);
  EventPoller poller(dispatcher_.get(), {.start_thread = false});
  digital_.Report("f1", fallback, Kind::kFailed, "mailbox closed");
  digital_.Report("f2", only, Kind::kFailed, "mailbox closed");
  poller.PollOnce();
  EXPECT_THAT(Drain(), ElementsAre("deliver.print"));
  EXPECT_EQ(Get(fallback).state, Letter::SENT_PRINT);
  EXPECT_THAT(Timeline(fallback),
              ElementsAre(Letter::RECEIVED, Letter::QUEUED, Letter::ROUTED,
                          Letter::SENT_DIGITAL, Letter::DELIVERED,
                          Letter::ROUTED, Letter::SENT_PRINT));
  EXPECT_EQ(Get(only).state, Letter::FAILED);
  EXPECT_THAT(Get(only).reason, HasSubstr("mailbox closed"));
  ASSERT_THAT(print_.sent, SizeIs(1));
  EXPECT_EQ(print_.sent[0].message_id, fallback);
  // The print provider's notice of posting.
  print_.Report("p1", fallback, Kind::kPosted);
  print_.Report("p0", fallback, Kind::kPrintReceived);
  poller.PollOnce();
  EXPECT_EQ(Get(fallback).state, Letter::PRINTED);
}

TEST_F(FlowTest, RefusalAtSendFallsBackOrFailsWithTheProvidersReason) {
  digital_.fail_with = absl::InvalidArgumentError("CLIENT_DATA: bad");
  auto fallback = Create(Person(kDigipost));
  auto only = Create(Person(kDigipost), v1::DeliveryPolicy::DIGITAL_ONLY);
  Drain();
  EXPECT_EQ(Get(fallback).state, Letter::SENT_PRINT);
  EXPECT_EQ(Get(only).state, Letter::FAILED);
  EXPECT_THAT(Get(only).reason, HasSubstr("CLIENT_DATA: bad"));
  EXPECT_THAT(digital_.sent, SizeIs(2));  // Never retried.
}

TEST_F(FlowTest, UnreadPastTheDeadlineIsPrintedExactlyOnce) {
  auto id = Create(Person(kDigipost), v1::DeliveryPolicy::DIGITAL_THEN_PRINT,
                   true, /*unread_after_s=*/3600);
  Drain();
  EXPECT_EQ(Get(id).state, Letter::DELIVERED);
  auto timers = store_->GetTimers(id);
  ASSERT_THAT(timers, IsOk());
  ASSERT_THAT(*timers, SizeIs(1));
  EXPECT_EQ((*timers)[0].due_ms, kStart + 3600 * 1000);

  clock_.Advance(3600 * 1000 - 1);
  EXPECT_THAT(scanner_->ScanOnce(), IsOk());
  EXPECT_THAT(Drain(), IsEmpty());
  // A restart in between: the timer is in the store.
  Open({"digital", "dpi", "altinn", "print"}, &organisations_);
  clock_.Advance(1);
  EXPECT_THAT(scanner_->ScanOnce(), IsOk());
  EXPECT_THAT(scanner_->ScanOnce(), IsOk());
  // ROUTED to print again, but the mailbox provider has had the letter: it
  // can no longer be cancelled.
  EXPECT_EQ(Get(id).state, Letter::ROUTED);
  store::Transition cancel;
  cancel.from = {Letter::RECEIVED, Letter::QUEUED, Letter::ROUTED};
  cancel.to = Letter::CANCELLED;
  cancel.unless_handing_off = true;
  EXPECT_THAT(store_->ApplyTransition(id, cancel),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("handed to a provider")));
  EXPECT_THAT(Drain(), ElementsAre("deliver.print"));
  EXPECT_THAT(scanner_->ScanOnce(), IsOk());
  EXPECT_THAT(Drain(), IsEmpty());
  EXPECT_EQ(Get(id).state, Letter::SENT_PRINT);
  EXPECT_THAT(Get(id).reason, IsEmpty());
  ASSERT_THAT(print_.sent, SizeIs(1));
}

TEST_F(FlowTest, ReadBeforeTheDeadlineIsNotPrinted) {
  auto id = Create(Person(kDigipost), v1::DeliveryPolicy::DIGITAL_THEN_PRINT,
                   true, 3600);
  Drain();
  EventPoller poller(dispatcher_.get(), {.start_thread = false});
  clock_.Advance(1000);
  digital_.Report("opened", id, Kind::kRead);
  poller.PollOnce();
  EXPECT_EQ(Get(id).state, Letter::READ);
  clock_.Advance(7200 * 1000);
  EXPECT_THAT(scanner_->ScanOnce(), IsOk());
  EXPECT_THAT(Drain(), IsEmpty());
  EXPECT_EQ(Get(id).state, Letter::READ);
  EXPECT_THAT(print_.sent, IsEmpty());
}

TEST_F(FlowTest, NotBeforeHoldsTheLetterUntilDueAndCancelStillWorks) {
  auto id = Create(Person(kDigipost), v1::DeliveryPolicy::DIGITAL_THEN_PRINT,
                   true, 0, kStart + 60 * 1000);
  auto cancelled =
      Create(Person(kDigipost), v1::DeliveryPolicy::DIGITAL_THEN_PRINT, true, 0,
             kStart + 60 * 1000);
  EXPECT_THAT(Drain(), ElementsAre("route", "route"));
  EXPECT_EQ(Get(id).state, Letter::QUEUED);
  EXPECT_THAT(digital_.sent, IsEmpty());
  store::Transition cancel;
  cancel.from = {Letter::RECEIVED, Letter::QUEUED, Letter::ROUTED};
  cancel.to = Letter::CANCELLED;
  cancel.unless_handing_off = true;
  ASSERT_THAT(store_->ApplyTransition(cancelled, cancel), IsOk());
  clock_.Advance(59 * 1000);
  EXPECT_THAT(scanner_->ScanOnce(), IsOk());
  EXPECT_THAT(Drain(), IsEmpty());
  clock_.Advance(1000);
  EXPECT_THAT(scanner_->ScanOnce(), IsOk());
  EXPECT_THAT(Drain(), ElementsAre("route", "deliver.digital"));
  EXPECT_EQ(Get(id).state, Letter::DELIVERED);
  EXPECT_EQ(Get(cancelled).state, Letter::CANCELLED);
  ASSERT_THAT(digital_.sent, SizeIs(1));
}

TEST_F(FlowTest, LostWorkIsPublishedAgain) {
  auto id = Create(Person(kDigipost));
  // The route item is "published" and then lost by the broker.
  auto rows = store_->PendingOutbox(10);
  ASSERT_THAT(rows, IsOk());
  ASSERT_THAT(store_->MarkOutboxSent({(*rows)[0].id}), IsOk());
  clock_.Advance(30 * 1000);
  EXPECT_THAT(scanner_->SweepOnce(), IsOk());
  EXPECT_THAT(Drain(), IsEmpty());
  clock_.Advance(31 * 1000);
  auto n = scanner_->SweepOnce();
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 1);
  EXPECT_THAT(Drain(), ElementsAre("route", "deliver.digital"));
  EXPECT_EQ(Get(id).state, Letter::DELIVERED);
}

TEST_F(FlowTest, TransientErrorsBackOffThenPark) {
  digital_.fail_with = absl::UnavailableError("503");
  auto id = Create(Person(kDigipost));
  Drain();
  auto l = Get(id);
  EXPECT_EQ(l.state, Letter::PARKED);
  EXPECT_THAT(l.reason, HasSubstr("3 times; last: 503"));
  EXPECT_THAT(digital_.sent, SizeIs(3));
  EXPECT_THAT(print_.sent, IsEmpty());
}

}  // namespace
}  // namespace utpost::dispatch
