// The store's rules over every engine (the conformance suite): letters,
// receipts, the outbox, paging. Engine-specific behaviour (files, locks,
// processes) is in sqlite_engine_test.cc.
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/retry_delay.h"
#include "common/status_matchers.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/receipts/jws_verify.h"
#include "gateway/store/memory_engine.h"
#include "gateway/store/store_impl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/store_engines.h"

namespace utpost::store {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Letter;

// Now, to the second: receipts are checked against the development
// certificate's validity at their own time, and make-certs.sh may have made
// it minutes ago.
const int64_t kStart = RealClock()->NowMillis() / 1000 * 1000;
constexpr char kTenantA[] = "964338531";
constexpr char kTenantB[] = "958935420";

NewLetter MakeLetter(const std::string& id, const std::string& tenant,
                     const std::string& ref, const std::string& body = "b1") {
  NewLetter l;
  l.id = id;
  l.tenant = tenant;
  l.client_reference = ref;
  l.request_digest = Sha256Hex(absl::StrCat(ref, "|", body));
  l.spec.set_client_reference(ref);
  l.spec.set_title(absl::StrCat("Vedtak ", body));
  l.spec.mutable_recipient()->set_person("01017012345");
  auto* d = l.spec.add_documents();
  d->set_file_name("vedtak.pdf");
  d->set_media_type("application/pdf");
  d->set_content("%PDF-in-spec");  // Must not be stored in the spec.
  Document doc;
  doc.file_name = "vedtak.pdf";
  doc.media_type = "application/pdf";
  doc.content = absl::StrCat("%PDF-1.7 ", body);
  l.documents.push_back(doc);
  l.first_work.exchange = "utpost.work";
  l.first_work.routing_key = "route";
  l.first_work.body = absl::StrCat("route:", id);
  l.first_work.state_when_sent = Letter::QUEUED;
  return l;
}

// Fails to sign for one chosen letter, to show that a failing letter rolls
// back alone.
class FailingSigner final : public receipts::ReceiptSigner {
 public:
  FailingSigner(receipts::ReceiptSigner* real, std::string bad_letter)
      : real_(real), bad_letter_(std::move(bad_letter)) {}
  absl::StatusOr<std::string> Sign(const receipts::ReceiptContent& c) override {
    if (c.letter_id == bad_letter_) return absl::InternalError("no key today");
    return real_->Sign(c);
  }

 private:
  receipts::ReceiptSigner* real_;
  std::string bad_letter_;
};

class StoreTest : public ::utpost::testing::StoreEngineTest {
 protected:
  StoreTest() { store_clock_ = &clock_; }

  // Creates one letter and expects success.
  LetterRecord Create(NewLetter l) {
    std::vector<NewLetter> v;
    v.push_back(std::move(l));
    auto r = store_->CreateLetters(std::move(v));
    EXPECT_THAT(r, IsOk());
    if (!r.ok() || r->size() != 1) return {};
    EXPECT_THAT((*r)[0], IsOk());
    return (*r)[0].ok() ? (*r)[0]->letter : LetterRecord{};
  }

  Transition To(State to, std::vector<State> from, std::string channel = "") {
    Transition t;
    t.from = std::move(from);
    t.to = to;
    t.channel = std::move(channel);
    return t;
  }

  int64_t CountAll() {
    auto counts = store_->CountByState();
    EXPECT_THAT(counts, IsOk());
    int64_t n = 0;
    if (counts.ok()) {
      for (const auto& [state, count] : *counts) n += count;
    }
    return n;
  }

  FakeClock clock_{kStart};
};

TEST_P(StoreTest, CreatedLetterCanBeRead) {
  LetterRecord created = Create(MakeLetter("L1", kTenantA, "ref-1"));
  EXPECT_EQ(created.id, "L1");
  EXPECT_EQ(created.state, Letter::RECEIVED);
  EXPECT_EQ(created.create_time_ms, kStart);
  ASSERT_THAT(created.documents, SizeIs(1));
  EXPECT_EQ(created.documents[0].sha256(), Sha256Hex("%PDF-1.7 b1"));
  EXPECT_EQ(created.documents[0].size_bytes(), 11);

  auto got = store_->GetLetter("L1", kTenantA);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->tenant, kTenantA);
  EXPECT_EQ(got->client_reference, "ref-1");
  EXPECT_EQ(got->state, Letter::RECEIVED);
  EXPECT_EQ(got->spec.title(), "Vedtak b1");
  ASSERT_EQ(got->spec.documents_size(), 1);
  EXPECT_EQ(got->spec.documents(0).file_name(), "vedtak.pdf");
  EXPECT_THAT(got->spec.documents(0).content(), IsEmpty());
  ASSERT_THAT(got->documents, SizeIs(1));
  EXPECT_EQ(got->documents[0].sha256(), Sha256Hex("%PDF-1.7 b1"));

  auto docs = store_->GetDocuments("L1");
  ASSERT_THAT(docs, IsOk());
  ASSERT_THAT(*docs, SizeIs(1));
  EXPECT_EQ((*docs)[0].content, "%PDF-1.7 b1");
  EXPECT_EQ((*docs)[0].sha256_hex, Sha256Hex("%PDF-1.7 b1"));

  auto receipts = store_->GetReceipts("L1", kTenantA);
  ASSERT_THAT(receipts, IsOk());
  ASSERT_THAT(*receipts, SizeIs(1));
  EXPECT_EQ((*receipts)[0].sequence, 1);
  EXPECT_EQ((*receipts)[0].state, Letter::RECEIVED);
  EXPECT_EQ((*receipts)[0].client_reference, "ref-1");
  EXPECT_EQ((*receipts)[0].sha256_hex, Sha256Hex((*receipts)[0].jws));

  auto outbox = store_->PendingOutbox(10);
  ASSERT_THAT(outbox, IsOk());
  ASSERT_THAT(*outbox, SizeIs(1));
  EXPECT_EQ((*outbox)[0].letter_id, "L1");
  EXPECT_EQ((*outbox)[0].routing_key, "route");
  EXPECT_EQ((*outbox)[0].body, "route:L1");
  EXPECT_EQ((*outbox)[0].state_when_sent, Letter::QUEUED);
}

TEST_P(StoreTest, UnknownLetterIsNotFound) {
  EXPECT_THAT(store_->GetLetter("nope", ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_THAT(store_->GetDocuments("nope"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_THAT(
      store_->ApplyTransition("nope", To(Letter::QUEUED, {Letter::RECEIVED})),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

TEST_P(StoreTest, SameReferenceAndBodyReturnsTheFirstLetter) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  clock_.Advance(1000);
  std::vector<NewLetter> again;
  again.push_back(MakeLetter("L2", kTenantA, "ref-1"));
  auto r = store_->CreateLetters(std::move(again));
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT((*r)[0], IsOk());
  EXPECT_FALSE((*r)[0]->created);
  EXPECT_EQ((*r)[0]->letter.id, "L1");
  EXPECT_EQ((*r)[0]->letter.create_time_ms, kStart);
  EXPECT_EQ(CountAll(), 1);
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(1));
}

TEST_P(StoreTest, SameReferenceOtherBodyIsRejectedAndStoresNothing) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  auto cursor = store_->LastReceiptCursor();
  ASSERT_THAT(cursor, IsOk());
  std::vector<NewLetter> other;
  other.push_back(MakeLetter("L2", kTenantA, "ref-1", "another body"));
  auto r = store_->CreateLetters(std::move(other));
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT((*r)[0],
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("ref-1")));
  EXPECT_THAT(store_->GetLetter("L2", ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("L2")));
  EXPECT_EQ(CountAll(), 1);
  EXPECT_THAT(store_->LastReceiptCursor(), IsOkAndHolds(*cursor));
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(1));
}

TEST_P(StoreTest, AnIdInUseIsRejectedWhateverTheReference) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  std::vector<NewLetter> again;
  again.push_back(MakeLetter("L1", kTenantB, "ref-2", "other"));
  auto r = store_->CreateLetters(std::move(again));
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT((*r)[0], StatusIs(absl::StatusCode::kAlreadyExists,
                                HasSubstr("letter id L1 already exists")));
  EXPECT_EQ(CountAll(), 1);
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(1));
  EXPECT_THAT(store_->GetLetter("L1", kTenantB),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("L1")));
}

TEST_P(StoreTest, SameReferenceInAnotherTenantIsAnotherLetter) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  LetterRecord b = Create(MakeLetter("L2", kTenantB, "ref-1", "other"));
  EXPECT_EQ(b.id, "L2");
  EXPECT_EQ(CountAll(), 2);
}

TEST_P(StoreTest, AnotherTenantsLetterIsNotFound) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  EXPECT_THAT(store_->GetLetter("L1", kTenantB),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("L1")));
  EXPECT_THAT(store_->GetReceipts("L1", kTenantB),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("L1")));
  EXPECT_THAT(store_->GetLetter("L1", ""), IsOk());
  EXPECT_THAT(store_->GetReceipts("L1", ""), IsOk());
}

TEST_P(StoreTest, GroupWithOneConflictCommitsTheOthers) {
  Create(MakeLetter("L0", kTenantA, "ref-0"));
  std::vector<NewLetter> group;
  group.push_back(MakeLetter("L1", kTenantA, "ref-1"));
  group.push_back(MakeLetter("L2", kTenantA, "ref-0", "conflicting"));
  group.push_back(MakeLetter("L3", kTenantB, "ref-3"));
  auto r = store_->CreateLetters(std::move(group));
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(*r, SizeIs(3));
  ASSERT_THAT((*r)[0], IsOk());
  EXPECT_TRUE((*r)[0]->created);
  EXPECT_THAT((*r)[1],
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("ref-0")));
  ASSERT_THAT((*r)[2], IsOk());
  EXPECT_TRUE((*r)[2]->created);
  EXPECT_THAT(store_->GetLetter("L1", ""), IsOk());
  EXPECT_THAT(store_->GetLetter("L2", ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("L2")));
  EXPECT_THAT(store_->GetLetter("L3", ""), IsOk());
  EXPECT_EQ(CountAll(), 3);
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(3));
}

TEST_P(StoreTest, DuplicateReferenceWithinOneGroupIsIdempotent) {
  std::vector<NewLetter> group;
  group.push_back(MakeLetter("L1", kTenantA, "ref-1"));
  group.push_back(MakeLetter("L2", kTenantA, "ref-1"));
  auto r = store_->CreateLetters(std::move(group));
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT((*r)[1], IsOk());
  EXPECT_FALSE((*r)[1]->created);
  EXPECT_EQ((*r)[1]->letter.id, "L1");
  EXPECT_EQ(CountAll(), 1);
}

TEST_P(StoreTest, MissingIdentityIsInvalidForThatLetterOnly) {
  std::vector<NewLetter> group;
  group.push_back(MakeLetter("L1", kTenantA, ""));
  group.push_back(MakeLetter("L2", kTenantA, "ref-2"));
  auto r = store_->CreateLetters(std::move(group));
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT((*r)[0], StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("client_reference")));
  EXPECT_THAT((*r)[1], IsOk());
}

TEST_P(StoreTest, FailedSigningRollsBackOnlyThatLetter) {
  FailingSigner failing(signer_.get(), "L2");
  Reopen(&failing);
  std::vector<NewLetter> group;
  group.push_back(MakeLetter("L1", kTenantA, "ref-1"));
  group.push_back(MakeLetter("L2", kTenantA, "ref-2"));
  auto r = store_->CreateLetters(std::move(group));
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT((*r)[0], IsOk());
  EXPECT_THAT((*r)[1],
              StatusIs(absl::StatusCode::kInternal, HasSubstr("no key today")));
  EXPECT_THAT(store_->GetLetter("L2", ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("L2")));
  EXPECT_THAT(store_->GetDocuments("L2"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("L2")));
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(1));
  Reopen();
}

TEST_P(StoreTest, AFailedCommitIsUnavailableAndChangesNothing) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  auto faults = std::make_shared<::utpost::testing::EngineFaults>();
  store_.reset();
  store_ = OpenAnother(nullptr, nullptr, faults);
  ASSERT_NE(store_, nullptr);
  faults->fail_writes = true;
  std::vector<NewLetter> group;
  group.push_back(MakeLetter("L2", kTenantA, "ref-2"));
  EXPECT_THAT(store_->CreateLetters(std::move(group)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
  EXPECT_THAT(
      store_->ApplyTransition("L1", To(Letter::QUEUED, {Letter::RECEIVED})),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
  auto pending = store_->PendingOutbox(10);
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(*pending, SizeIs(1));
  EXPECT_THAT(store_->MarkOutboxSent({(*pending)[0].id}),
              StatusIs(absl::StatusCode::kUnavailable, _));
  EXPECT_THAT(store_->IssueTreeHead(),
              StatusIs(absl::StatusCode::kUnavailable, _));
  // Reads go on, and show nothing of the failed writes.
  EXPECT_THAT(store_->GetLetter("L2", ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("L2")));
  EXPECT_EQ(store_->GetLetter("L1", "")->state, Letter::RECEIVED);
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(1));
  EXPECT_THAT(store_->GetReceipts("L1", ""), IsOkAndHolds(SizeIs(1)));
  faults->fail_reads = true;
  EXPECT_THAT(store_->GetLetter("L1", ""),
              StatusIs(absl::StatusCode::kUnavailable, _));
  // Healed, the same calls succeed.
  faults->fail_writes = false;
  faults->fail_reads = false;
  EXPECT_THAT(
      store_->ApplyTransition("L1", To(Letter::QUEUED, {Letter::RECEIVED})),
      IsOk());
  EXPECT_THAT(store_->GetReceipts("L1", ""), IsOkAndHolds(SizeIs(2)));
}

TEST_P(StoreTest, TransitionFromWrongStateFailsAndWritesNoReceipt) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  auto before = store_->LastReceiptCursor();
  ASSERT_THAT(before, IsOk());
  EXPECT_THAT(store_->ApplyTransition(
                  "L1", To(Letter::DELIVERED, {Letter::SENT_DIGITAL})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("letter L1 is RECEIVED")));
  EXPECT_THAT(store_->LastReceiptCursor(), IsOkAndHolds(*before));
  auto got = store_->GetLetter("L1", "");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->state, Letter::RECEIVED);
}

TEST_P(StoreTest, TransitionTheLifecycleDoesNotAllowIsRefused) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  auto before = store_->LastReceiptCursor();
  ASSERT_THAT(before, IsOk());
  // The caller allows RECEIVED, the table does not: routing needs QUEUED.
  EXPECT_THAT(
      store_->ApplyTransition(
          "L1", To(Letter::ROUTED, {Letter::RECEIVED, Letter::QUEUED}, "x")),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("ROUTED cannot follow")));
  EXPECT_THAT(
      store_->ApplyTransition("L1", To(Letter::DELIVERED, {Letter::RECEIVED})),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("cannot follow")));
  EXPECT_THAT(store_->LastReceiptCursor(), IsOkAndHolds(*before));
  EXPECT_EQ(store_->GetLetter("L1", "")->state, Letter::RECEIVED);
}

TEST_P(StoreTest, AStepTheLifecycleDoesNotAllowUndoesTheWholeTransition) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  ASSERT_THAT(
      store_->ApplyTransition("L1", To(Letter::QUEUED, {Letter::RECEIVED})),
      IsOk());
  ASSERT_THAT(store_->ApplyTransition(
                  "L1", To(Letter::ROUTED, {Letter::QUEUED}, "digital")),
              IsOk());
  auto before = store_->LastReceiptCursor();
  ASSERT_THAT(before, IsOk());
  auto log_before = store_->ReceiptLogSize();
  ASSERT_THAT(log_before, IsOk());
  // SENT_DIGITAL is allowed, PRINTED after it is not: nothing is written.
  Transition t = To(Letter::SENT_DIGITAL, {Letter::ROUTED});
  t.then.push_back({Letter::PRINTED, "printed?"});
  t.set_timers.push_back({"L1", "print_if_unread", kStart + 1000});
  EXPECT_THAT(store_->ApplyTransition("L1", t),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("PRINTED cannot follow")));
  EXPECT_EQ(store_->GetLetter("L1", "")->state, Letter::ROUTED);
  EXPECT_THAT(store_->LastReceiptCursor(), IsOkAndHolds(*before));
  EXPECT_THAT(store_->ReceiptLogSize(), IsOkAndHolds(*log_before));
  EXPECT_THAT(store_->GetTimers("L1"), IsOkAndHolds(IsEmpty()));
}

TEST_P(StoreTest, NothingFollowsAFinalState) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  ASSERT_THAT(
      store_->ApplyTransition("L1", To(Letter::CANCELLED, {Letter::RECEIVED})),
      IsOk());
  for (State to : {Letter::QUEUED, Letter::ROUTED, Letter::FAILED,
                   Letter::RECEIVED, Letter::CANCELLED}) {
    EXPECT_THAT(store_->ApplyTransition("L1", To(to, {Letter::CANCELLED})),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("cannot follow")))
        << Letter::State_Name(to);
  }
  EXPECT_THAT(store_->GetReceipts("L1", ""), IsOkAndHolds(SizeIs(2)));
}

TEST_P(StoreTest, AProviderEventCandidateTheLifecycleRefusesIsNotApplied) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  ProviderEventRecord e;
  e.provider = "984661185";
  e.event_id = "e1";
  e.letter_id = "L1";
  e.kind = "READ";
  // The candidate matches the letter's state but the table refuses it.
  Transition read = To(Letter::READ, {Letter::RECEIVED});
  auto out = store_->ApplyProviderEvent(e, {read});
  // Refused as a whole, or kept without moving; never applied.
  if (out.ok()) {
    EXPECT_FALSE(out->moved);
  } else {
    EXPECT_THAT(out, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr("cannot follow")));
  }
  EXPECT_EQ(store_->GetLetter("L1", "")->state, Letter::RECEIVED);
  EXPECT_THAT(store_->GetReceipts("L1", ""), IsOkAndHolds(SizeIs(1)));
}

TEST_P(StoreTest, TransitionUpdatesLetterAndWritesOutbox) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  ASSERT_THAT(
      store_->ApplyTransition("L1", To(Letter::QUEUED, {Letter::RECEIVED}, "")),
      IsOk());
  clock_.Advance(5000);
  Transition t =
      To(Letter::ROUTED, {Letter::RECEIVED, Letter::QUEUED}, "digital");
  OutboxMessage m;
  m.exchange = "utpost.work";
  m.routing_key = "deliver.digital";
  m.body = "deliver:L1";
  t.outbox.push_back(m);
  auto r = store_->ApplyTransition("L1", t);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->state, Letter::ROUTED);
  EXPECT_EQ(r->channel, "digital");
  EXPECT_EQ(r->update_time_ms, kStart + 5000);
  EXPECT_EQ(r->create_time_ms, kStart);
  ASSERT_THAT(r->documents, SizeIs(1));

  // An empty channel keeps the current one; the reason is replaced.
  Transition fail = To(Letter::FAILED, {Letter::ROUTED});
  fail.reason = "mailbox provider refused";
  r = store_->ApplyTransition("L1", fail);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->channel, "digital");
  EXPECT_EQ(r->reason, "mailbox provider refused");

  auto outbox = store_->PendingOutbox(10);
  ASSERT_THAT(outbox, IsOk());
  ASSERT_THAT(*outbox, SizeIs(2));
  EXPECT_EQ((*outbox)[1].routing_key, "deliver.digital");
  EXPECT_EQ((*outbox)[1].letter_id, "L1");
  EXPECT_FALSE((*outbox)[1].state_when_sent.has_value());
}

TEST_P(StoreTest, ReceiptsFormAVerifiableHashChain) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  const std::vector<std::pair<State, std::string>> path = {
      {Letter::QUEUED, ""},
      {Letter::ROUTED, "digital"},
      {Letter::SENT_DIGITAL, ""},
      {Letter::DELIVERED, ""}};
  State prev = Letter::RECEIVED;
  for (const auto& [state, channel] : path) {
    clock_.Advance(1000);
    ASSERT_THAT(store_->ApplyTransition("L1", To(state, {prev}, channel)),
                IsOk());
    prev = state;
  }
  auto receipts = store_->GetReceipts("L1", kTenantA);
  ASSERT_THAT(receipts, IsOk());
  ASSERT_THAT(*receipts, SizeIs(5));
  auto verifier = receipts::NewReceiptJwsVerifier("certs-dev/ca.pem");
  ASSERT_THAT(verifier, IsOk());
  std::string prev_sha;
  for (size_t i = 0; i < receipts->size(); ++i) {
    const ReceiptRecord& r = (*receipts)[i];
    EXPECT_EQ(r.sequence, static_cast<int64_t>(i + 1));
    EXPECT_EQ(r.sha256_hex, Sha256Hex(r.jws));
    EXPECT_EQ(r.time_ms, kStart + 1000 * static_cast<int64_t>(i));
    auto payload = (*verifier)->Verify(r.jws);
    ASSERT_THAT(payload, IsOk());
    EXPECT_EQ((*payload)["letter_id"], "L1");
    EXPECT_EQ((*payload)["tenant"], kTenantA);
    EXPECT_EQ((*payload)["seq"], r.sequence);
    EXPECT_EQ((*payload)["state"], Letter::State_Name(r.state));
    EXPECT_EQ((*payload)["time"], FormatRfc3339(r.time_ms));
    EXPECT_EQ((*payload)["prev"], prev_sha);
    EXPECT_EQ((*payload)["channel"], r.channel);
    prev_sha = r.sha256_hex;
  }
  EXPECT_EQ((*receipts)[0].channel, "");
  EXPECT_EQ((*receipts)[2].channel, "digital");
  EXPECT_EQ((*receipts)[4].channel, "digital");  // Kept from routing.
  EXPECT_EQ((*receipts)[4].state, Letter::DELIVERED);
}

TEST_P(StoreTest, MarkOutboxSentQueuesReceivedLetters) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  Create(MakeLetter("L2", kTenantA, "ref-2"));
  // L2 was cancelled before its routing item was confirmed.
  ASSERT_THAT(
      store_->ApplyTransition("L2", To(Letter::CANCELLED, {Letter::RECEIVED})),
      IsOk());
  auto pending = store_->PendingOutbox(10);
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(*pending, SizeIs(2));
  clock_.Advance(250);
  ASSERT_THAT(store_->MarkOutboxSent({(*pending)[0].id, (*pending)[1].id}),
              IsOk());
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(0));
  EXPECT_THAT(store_->PendingOutbox(10), IsOkAndHolds(IsEmpty()));

  auto l1 = store_->GetLetter("L1", "");
  ASSERT_THAT(l1, IsOk());
  EXPECT_EQ(l1->state, Letter::QUEUED);
  auto r1 = store_->GetReceipts("L1", "");
  ASSERT_THAT(r1, IsOk());
  ASSERT_THAT(*r1, SizeIs(2));
  EXPECT_EQ((*r1)[1].state, Letter::QUEUED);
  EXPECT_EQ((*r1)[1].time_ms, kStart + 250);

  auto l2 = store_->GetLetter("L2", "");
  ASSERT_THAT(l2, IsOk());
  EXPECT_EQ(l2->state, Letter::CANCELLED);
  EXPECT_THAT(store_->GetReceipts("L2", ""), IsOkAndHolds(SizeIs(2)));

  // A repeated confirm changes nothing.
  auto cursor = store_->LastReceiptCursor();
  ASSERT_THAT(store_->MarkOutboxSent({(*pending)[0].id, 999}), IsOk());
  EXPECT_THAT(store_->LastReceiptCursor(), IsOkAndHolds(*cursor));
}

TEST_P(StoreTest, ScheduleRetryKeepsStateAndQueuesTheRetry) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  auto pending = store_->PendingOutbox(10);
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(store_->MarkOutboxSent({(*pending)[0].id}), IsOk());
  auto cursor = store_->LastReceiptCursor();
  clock_.Advance(3000);
  OutboxMessage retry;
  retry.exchange = "utpost.retry";
  retry.routing_key = "retry.30s";
  retry.body = "route:L1:attempt2";
  ASSERT_THAT(store_->ScheduleRetry("L1", {Letter::QUEUED}, 1,
                                    "registry timed out", retry),
              IsOk());
  auto l1 = store_->GetLetter("L1", "");
  ASSERT_THAT(l1, IsOk());
  EXPECT_EQ(l1->state, Letter::QUEUED);
  EXPECT_EQ(l1->reason, "registry timed out");
  EXPECT_EQ(l1->update_time_ms, kStart + 3000);
  EXPECT_THAT(store_->LastReceiptCursor(), IsOkAndHolds(*cursor));
  pending = store_->PendingOutbox(10);
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(*pending, SizeIs(1));
  EXPECT_EQ((*pending)[0].routing_key, "retry.30s");
  EXPECT_EQ((*pending)[0].letter_id, "L1");
  EXPECT_EQ((*pending)[0].body, "route:L1:attempt2");

  // The same attempt again (a redelivered work item), or one seen in a state
  // the letter has left, schedules nothing.
  EXPECT_THAT(store_->ScheduleRetry("L1", {Letter::QUEUED}, 1, "again", retry),
              StatusIs(absl::StatusCode::kFailedPrecondition, _));
  EXPECT_THAT(store_->ScheduleRetry("L1", {Letter::ROUTED}, 2, "stale", retry),
              StatusIs(absl::StatusCode::kFailedPrecondition, _));
  EXPECT_THAT(store_->ScheduleRetry("nope", {Letter::QUEUED}, 1, "x", retry),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(1));
  EXPECT_EQ(store_->GetLetter("L1", "")->reason, "registry timed out");
}

TEST_P(StoreTest, RetryIsScheduledInAnyOfTheExpectedStates) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));  // RECEIVED
  OutboxMessage retry;
  retry.exchange = "utpost.retry.20s";
  retry.routing_key = "route";
  // Seen as RECEIVED, meanwhile QUEUED: both are the route stage's states.
  auto pending = store_->PendingOutbox(10);
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(store_->MarkOutboxSent({(*pending)[0].id}), IsOk());
  EXPECT_THAT(store_->ScheduleRetry("L1", {Letter::RECEIVED, Letter::QUEUED}, 1,
                                    "registry down", retry),
              IsOk());
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(1));
}

TEST_P(StoreTest, CancelIsRefusedWhileHandingOff) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  ASSERT_THAT(
      store_->ApplyTransition("L1", To(Letter::QUEUED, {Letter::RECEIVED}, "")),
      IsOk());
  Transition route;
  route.from = {Letter::QUEUED};
  route.to = Letter::ROUTED;
  route.channel = "digital";
  ASSERT_THAT(store_->ApplyTransition("L1", route), IsOk());
  EXPECT_THAT(store_->ClaimHandOff("L1", "print"),
              StatusIs(absl::StatusCode::kFailedPrecondition, _));
  ASSERT_THAT(store_->ClaimHandOff("L1", "digital"), IsOk());
  Transition cancel;
  cancel.from = {Letter::ROUTED};
  cancel.to = Letter::CANCELLED;
  cancel.unless_handing_off = true;
  EXPECT_THAT(store_->ApplyTransition("L1", cancel),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("being handed")));
  // A failed attempt clears the mark: the letter waits for its retry and
  // can be cancelled meanwhile.
  OutboxMessage retry;
  retry.exchange = "utpost.retry.20s";
  retry.routing_key = "deliver.digital";
  ASSERT_THAT(store_->ScheduleRetry("L1", {Letter::ROUTED}, 1, "503", retry),
              IsOk());
  EXPECT_THAT(store_->ApplyTransition("L1", cancel), IsOk());
  EXPECT_EQ(store_->GetLetter("L1", "")->state, Letter::CANCELLED);
}

TEST_P(StoreTest, FeedPositionsMoveOnlyFromWhereTheyAre) {
  EXPECT_THAT(store_->FeedPosition("altinn:res"), IsOkAndHolds(""));
  EXPECT_THAT(store_->MoveFeedPosition("altinn:res", "", "e1"),
              IsOkAndHolds(true));
  // A second worker that read the feed from the start is too late.
  EXPECT_THAT(store_->MoveFeedPosition("altinn:res", "", "e1"),
              IsOkAndHolds(false));
  EXPECT_THAT(store_->MoveFeedPosition("altinn:res", "e1", "e5"),
              IsOkAndHolds(true));
  EXPECT_THAT(store_->FeedPosition("altinn:res"), IsOkAndHolds("e5"));
  EXPECT_THAT(store_->FeedPosition("digipost:1"), IsOkAndHolds(""));
  EXPECT_THAT(store_->MoveFeedPosition("", "", "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST_P(StoreTest, ReceiptsAfterFollowsTheCursorPerTenant) {
  Create(MakeLetter("A1", kTenantA, "ref-1"));
  Create(MakeLetter("B1", kTenantB, "ref-1"));
  ASSERT_THAT(
      store_->ApplyTransition("A1", To(Letter::QUEUED, {Letter::RECEIVED})),
      IsOk());
  auto all = store_->ReceiptsAfter(0, "", 100);
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(*all, SizeIs(3));
  EXPECT_LT((*all)[0].cursor, (*all)[1].cursor);
  EXPECT_LT((*all)[1].cursor, (*all)[2].cursor);
  EXPECT_THAT(store_->LastReceiptCursor(), IsOkAndHolds((*all)[2].cursor));

  auto a = store_->ReceiptsAfter(0, kTenantA, 100);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(*a, SizeIs(2));
  EXPECT_EQ((*a)[0].letter_id, "A1");
  EXPECT_EQ((*a)[1].state, Letter::QUEUED);
  EXPECT_EQ((*a)[1].client_reference, "ref-1");

  auto after_first = store_->ReceiptsAfter((*a)[0].cursor, kTenantA, 100);
  ASSERT_THAT(after_first, IsOk());
  ASSERT_THAT(*after_first, SizeIs(1));
  EXPECT_EQ((*after_first)[0].cursor, (*a)[1].cursor);

  EXPECT_THAT(store_->ReceiptsAfter(0, kTenantB, 100), IsOkAndHolds(SizeIs(1)));
  EXPECT_THAT(store_->ReceiptsAfter(0, "", 2), IsOkAndHolds(SizeIs(2)));
}

TEST_P(StoreTest, ListLettersPagesNewestFirst) {
  for (int i = 0; i < 25; ++i) {
    Create(MakeLetter(absl::StrCat("L", 100 + i), kTenantA,
                      absl::StrCat("ref-", i)));
    // Two letters per millisecond, so paging must break ties by id.
    if (i % 2 == 1) clock_.Advance(1);
  }
  Create(MakeLetter("B1", kTenantB, "ref-b"));

  std::vector<std::string> seen;
  ListFilter f;
  f.tenant = kTenantA;
  f.page_size = 10;
  int pages = 0;
  do {
    auto page = store_->ListLetters(f);
    ASSERT_THAT(page, IsOk());
    ++pages;
    for (const LetterRecord& l : page->letters) seen.push_back(l.id);
    f.page_token = page->next_page_token;
  } while (!f.page_token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_THAT(seen, SizeIs(25));
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(seen[i], absl::StrCat("L", 124 - i));
  }

  ListFilter by_ref;
  by_ref.tenant = kTenantA;
  by_ref.client_reference = "ref-7";
  auto one = store_->ListLetters(by_ref);
  ASSERT_THAT(one, IsOk());
  ASSERT_THAT(one->letters, SizeIs(1));
  EXPECT_EQ(one->letters[0].id, "L107");
  EXPECT_THAT(one->next_page_token, IsEmpty());

  ASSERT_THAT(
      store_->ApplyTransition("L103", To(Letter::QUEUED, {Letter::RECEIVED})),
      IsOk());
  ListFilter by_state;
  by_state.state = Letter::QUEUED;
  auto queued = store_->ListLetters(by_state);
  ASSERT_THAT(queued, IsOk());
  ASSERT_THAT(queued->letters, SizeIs(1));
  EXPECT_EQ(queued->letters[0].id, "L103");

  ListFilter everyone;
  everyone.page_size = 5000;  // Clamped to 1000.
  EXPECT_THAT(store_->ListLetters(everyone),
              IsOkAndHolds(::testing::Field(&LetterPage::letters, SizeIs(26))));

  ListFilter bad;
  bad.page_token = "not a token";
  EXPECT_THAT(
      store_->ListLetters(bad),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
}

TEST_P(StoreTest, CountByStateCoversAllTenants) {
  Create(MakeLetter("A1", kTenantA, "ref-1"));
  Create(MakeLetter("A2", kTenantA, "ref-2"));
  Create(MakeLetter("B1", kTenantB, "ref-1"));
  ASSERT_THAT(
      store_->ApplyTransition("B1", To(Letter::QUEUED, {Letter::RECEIVED})),
      IsOk());
  EXPECT_THAT(store_->CountByState(),
              IsOkAndHolds(ElementsAre(Pair(Letter::RECEIVED, 2),
                                       Pair(Letter::QUEUED, 1))));
}

TEST_P(StoreTest, EverythingSurvivesReopening) {
  Create(MakeLetter("L1", kTenantA, "ref-1"));
  ASSERT_THAT(
      store_->ApplyTransition("L1", To(Letter::QUEUED, {Letter::RECEIVED})),
      IsOk());
  Create(MakeLetter("L2", kTenantB, "ref-2"));
  auto cursor = store_->LastReceiptCursor();
  ASSERT_THAT(cursor, IsOk());

  Reopen();
  auto l1 = store_->GetLetter("L1", kTenantA);
  ASSERT_THAT(l1, IsOk());
  EXPECT_EQ(l1->state, Letter::QUEUED);
  EXPECT_EQ(l1->spec.title(), "Vedtak b1");
  EXPECT_THAT(store_->GetDocuments("L2"), IsOkAndHolds(SizeIs(1)));
  EXPECT_THAT(store_->GetReceipts("L1", ""), IsOkAndHolds(SizeIs(2)));
  EXPECT_THAT(store_->LastReceiptCursor(), IsOkAndHolds(*cursor));
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(2));

  // The chain continues where it stopped, and the idempotency key holds.
  ASSERT_THAT(
      store_->ApplyTransition("L1", To(Letter::ROUTED, {Letter::QUEUED})),
      IsOk());
  auto receipts = store_->GetReceipts("L1", "");
  ASSERT_THAT(receipts, IsOk());
  ASSERT_THAT(*receipts, SizeIs(3));
  EXPECT_EQ((*receipts)[2].sequence, 3);
  EXPECT_GT((*receipts)[2].cursor, *cursor);
  std::vector<NewLetter> again;
  again.push_back(MakeLetter("L9", kTenantA, "ref-1"));
  auto r = store_->CreateLetters(std::move(again));
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT((*r)[0], IsOk());
  EXPECT_EQ((*r)[0]->letter.id, "L1");
}

TEST_P(StoreTest, ConcurrentCreatesAndTransitionsStayConsistent) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string tenant = t % 2 == 0 ? kTenantA : kTenantB;
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = absl::StrCat("T", t, "-", i);
        std::vector<NewLetter> one;
        one.push_back(MakeLetter(id, tenant, id));
        auto r = store_->CreateLetters(std::move(one));
        if (!r.ok() || !(*r)[0].ok()) {
          ++errors;
          continue;
        }
        if (!store_->ApplyTransition(id, To(Letter::QUEUED, {Letter::RECEIVED}))
                 .ok() ||
            !store_
                 ->ApplyTransition(
                     id, To(Letter::ROUTED, {Letter::QUEUED}, "print"))
                 .ok()) {
          ++errors;
        }
        // A concurrent reader sees whole transactions only.
        auto got = store_->GetLetter(id, tenant);
        if (!got.ok() || got->state != Letter::ROUTED) ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_THAT(
      store_->CountByState(),
      IsOkAndHolds(ElementsAre(Pair(Letter::ROUTED, kThreads * kPerThread))));
  auto all = store_->ReceiptsAfter(0, "", 10000);
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(*all, SizeIs(kThreads * kPerThread * 3));
  std::map<std::string, std::vector<ReceiptRecord>> by_letter;
  int64_t last_cursor = 0;
  for (const ReceiptRecord& r : *all) {
    EXPECT_GT(r.cursor, last_cursor);
    last_cursor = r.cursor;
    by_letter[r.letter_id].push_back(r);
  }
  ASSERT_THAT(by_letter, SizeIs(kThreads * kPerThread));
  for (const auto& [id, receipts] : by_letter) {
    ASSERT_THAT(receipts, SizeIs(3)) << id;
    std::string prev;
    for (size_t i = 0; i < receipts.size(); ++i) {
      EXPECT_EQ(receipts[i].sequence, static_cast<int64_t>(i + 1)) << id;
      auto payload =
          receipts::VerifyReceiptJws(receipts[i].jws, "certs-dev/ca.pem");
      ASSERT_THAT(payload, IsOk());
      EXPECT_EQ((*payload)["prev"], prev) << id;
      prev = receipts[i].sha256_hex;
    }
  }
  EXPECT_THAT(store_->CountPendingOutbox(),
              IsOkAndHolds(kThreads * kPerThread));
}

// A tenant's daily quota (NewLetter::letters_per_day) is counted in the
// store, so that every api process shares it.
TEST_P(StoreTest, ALetterPastTheDailyQuotaIsRefusedAndStoresNothing) {
  constexpr int64_t kDay = 24 * 3600 * 1000;
  // Noon (UTC) of a day after kStart, however near midnight the test runs.
  const int64_t noon = (kStart / kDay + 1) * kDay + kDay / 2;
  clock_.Set(noon);
  auto quota = [](NewLetter l, int64_t per_day) {
    l.letters_per_day = per_day;
    return l;
  };
  Create(quota(MakeLetter("L1", kTenantA, "ref-1"), 2));
  Create(quota(MakeLetter("L2", kTenantA, "ref-2"), 2));
  auto cursor = store_->LastReceiptCursor();
  ASSERT_THAT(cursor, IsOk());

  // The third of the day, and a fourth in the same group: both refused
  // with the time to midnight UTC; the same group's letter of another
  // tenant is not held back.
  std::vector<NewLetter> group;
  group.push_back(quota(MakeLetter("L3", kTenantA, "ref-3"), 2));
  group.push_back(quota(MakeLetter("L4", kTenantB, "ref-3"), 2));
  group.push_back(quota(MakeLetter("L5", kTenantA, "ref-5"), 2));
  auto r = store_->CreateLetters(std::move(group));
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(*r, SizeIs(3));
  for (int i : {0, 2}) {
    EXPECT_THAT((*r)[i], StatusIs(absl::StatusCode::kResourceExhausted,
                                  HasSubstr("tenant 964338531 has used its "
                                            "quota of 2 letters")));
    EXPECT_EQ(RetryDelayMillis((*r)[i].status()), kDay / 2);
  }
  EXPECT_THAT((*r)[1], IsOk());
  EXPECT_THAT(store_->GetLetter("L3", ""),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(store_->GetLetter("L5", ""),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_EQ(CountAll(), 3);
  EXPECT_THAT(store_->CountPendingOutbox(), IsOkAndHolds(3));
  // Only Oslo's letter wrote a receipt.
  auto receipts = store_->ReceiptsAfter(*cursor, "", 10);
  ASSERT_THAT(receipts, IsOk());
  ASSERT_THAT(*receipts, SizeIs(1));
  EXPECT_EQ((*receipts)[0].letter_id, "L4");

  // Sending a letter again is no new letter: it is answered, not counted.
  std::vector<NewLetter> again;
  again.push_back(quota(MakeLetter("L9", kTenantA, "ref-1"), 2));
  r = store_->CreateLetters(std::move(again));
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT((*r)[0], IsOk());
  EXPECT_FALSE((*r)[0]->created);
  EXPECT_EQ((*r)[0]->letter.id, "L1");

  // The refusals were not counted: a quota raised to 3 lets one more in.
  Create(quota(MakeLetter("L6", kTenantA, "ref-6"), 3));
  std::vector<NewLetter> more;
  more.push_back(quota(MakeLetter("L7", kTenantA, "ref-7"), 3));
  r = store_->CreateLetters(std::move(more));
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT((*r)[0],
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));

  // A new day (UTC), a new count.
  clock_.Set(noon + kDay / 2);
  Create(quota(MakeLetter("L8", kTenantA, "ref-8"), 1));
  EXPECT_EQ(CountAll(), 5);
}

TEST_P(StoreTest, AnUploadIsTheTenantsOwnUntilItExpires) {
  constexpr int64_t kTtl = 24 * 3600 * 1000;
  UploadRecord u;
  u.tenant = kTenantA;
  u.media_type = "application/pdf";
  u.content = "%PDF-1.7 big";
  u.content.append(3 << 20, 'x');  // Larger than a page of any engine.
  u.sha256_hex = Sha256Hex(u.content);
  const std::string content = u.content;
  EXPECT_THAT(store_->PutUpload(u, kTtl), IsOkAndHolds(kStart + kTtl));

  auto got = store_->GetUpload(kTenantA, u.sha256_hex);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->content, content);
  EXPECT_EQ(got->media_type, "application/pdf");
  EXPECT_EQ(got->expire_time_ms, kStart + kTtl);
  // Another tenant's upload is none of this one's.
  EXPECT_THAT(store_->GetUpload(kTenantB, u.sha256_hex),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(store_->GetUpload(kTenantA, Sha256Hex("other")),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));

  // Uploaded again later: the same upload, living longer.
  clock_.Advance(kTtl - 1000);
  EXPECT_THAT(store_->PutUpload(u, kTtl),
              IsOkAndHolds(kStart + 2 * kTtl - 1000));
  clock_.Advance(2000);
  ASSERT_THAT(store_->GetUpload(kTenantA, u.sha256_hex), IsOk());
  EXPECT_THAT(store_->DeleteExpiredUploads(), IsOkAndHolds(0));

  // Expired: gone for readers at once, and deleted by the sweep.
  clock_.Advance(kTtl);
  EXPECT_THAT(store_->GetUpload(kTenantA, u.sha256_hex),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(store_->DeleteExpiredUploads(), IsOkAndHolds(1));
  EXPECT_THAT(store_->DeleteExpiredUploads(), IsOkAndHolds(0));
}

TEST_P(StoreTest, OpenRefusesMissingEngineOrSigner) {
  StoreOptions o;
  EXPECT_THAT(
      OpenStore(NewMemoryEngine(), o),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signer")));
  o.signer = signer_.get();
  EXPECT_THAT(
      OpenStore(nullptr, o),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("engine")));
}

INSTANTIATE_TEST_SUITE_P(
    Engines, StoreTest,
    ::testing::ValuesIn(::utpost::testing::AllStoreEngines()),
    ::utpost::testing::StoreEngineName);

}  // namespace
}  // namespace utpost::store
