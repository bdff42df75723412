// One seeded random workload on every engine, step by step: each call's
// outcome and, every few steps, everything a caller can read must be the
// same on all of them. Signatures (and the roots hashed over them) differ
// by nature and are left out; everything else is compared.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gateway/store/lifecycle.h"
#include "gateway/store/store_impl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/store_engines.h"

namespace utpost::store {
namespace {

using ::utpost::testing::IsOk;
using ::utpost::v1::Letter;

const int64_t kStart = RealClock()->NowMillis() / 1000 * 1000;

const char* B(bool b) { return b ? "true" : "false"; }

std::string Code(const absl::Status& s) {
  return s.ok() ? "OK" : absl::StatusCodeToString(s.code());
}

template <typename T>
std::string Code(const absl::StatusOr<T>& s) {
  return Code(s.status());
}

std::string Show(const LetterRecord& l) {
  std::vector<std::string> docs;
  for (const auto& d : l.documents) {
    docs.push_back(
        absl::StrCat(d.file_name(), ":", d.size_bytes(), ":", d.sha256()));
  }
  return absl::StrCat(l.id, "|", l.tenant, "|", l.client_reference, "|",
                      Letter::State_Name(l.state), "|", l.channel, "|",
                      l.reason, "|", l.create_time_ms, "|", l.update_time_ms,
                      "|", l.spec.title(), "|", absl::StrJoin(docs, ","));
}

std::string Show(const ReceiptRecord& r) {
  return absl::StrCat(r.cursor, "|", r.letter_id, "|", r.tenant, "|",
                      r.client_reference, "|", r.sequence, "|",
                      Letter::State_Name(r.state), "|", r.channel, "|",
                      r.reason, "|", r.time_ms, "|", r.leaf_index);
}

// Without the id: ids only rise, and an engine may skip some (a PostgreSQL
// sequence does not roll back with a savepoint); a list's order still shows
// theirs.
std::string Show(const OutboxMessage& m) {
  return absl::StrCat(
      m.letter_id, "|", m.exchange, "|", m.routing_key, "|", m.body, "|",
      m.state_when_sent.has_value() ? Letter::State_Name(*m.state_when_sent)
                                    : "-");
}

std::string Show(const TimerRecord& t) {
  return absl::StrCat(t.letter_id, "/", t.kind, "@", t.due_ms);
}

// The workload, run on one store. Every line of the trace is one outcome.
class Workload {
 public:
  Workload(Store* store, FakeClock* clock, uint32_t seed)
      : s_(store), clock_(clock), rng_(seed) {}

  std::vector<std::string> Run(int steps) {
    for (int i = 0; i < steps; ++i) {
      clock_->Advance(Pick(3) == 0 ? 0 : 1 + Pick(40));
      Step(i);
      if (i % 25 == 24) Snapshot(i);
    }
    Snapshot(steps);
    return trace_;
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % n); }
  std::string AnyLetter() { return absl::StrCat("L", Pick(next_id_ + 2)); }
  State AnyState() {
    static const State kStates[] = {
        Letter::RECEIVED,     Letter::QUEUED,    Letter::ROUTED,
        Letter::SENT_DIGITAL, Letter::DELIVERED, Letter::READ,
        Letter::SENT_PRINT,   Letter::PRINTED,   Letter::FAILED,
        Letter::CANCELLED,    Letter::PARKED};
    return kStates[Pick(11)];
  }
  void Out(const std::string& line) { trace_.push_back(line); }

  void Step(int i) {
    switch (Pick(12)) {
      case 0:
      case 1: {  // Create one or a group, sometimes reusing a reference.
        std::vector<NewLetter> group;
        const int n = 1 + Pick(3);
        for (int k = 0; k < n; ++k) {
          NewLetter l;
          l.id = absl::StrCat("L", next_id_++);
          l.tenant = Pick(2) == 0 ? "964338531" : "958935420";
          l.client_reference = absl::StrCat("ref-", Pick(next_id_ + 1));
          l.request_digest = absl::StrCat("d-", Pick(2));
          l.spec.set_title(absl::StrCat("T", Pick(5)));
          for (int d = 0; d < Pick(3); ++d) {
            l.documents.push_back({absl::StrCat("f", d, ".pdf"),
                                   "application/pdf",
                                   absl::StrCat("%PDF-", Pick(1000)), ""});
          }
          l.first_work.exchange = "utpost.work";
          l.first_work.routing_key = "route";
          l.first_work.body = "route:" + l.id;
          l.first_work.state_when_sent = Letter::QUEUED;
          group.push_back(std::move(l));
        }
        auto r = s_->CreateLetters(std::move(group));
        std::string line = absl::StrCat(i, " create ", Code(r));
        if (r.ok()) {
          for (const auto& one : *r) {
            absl::StrAppend(&line, " ", Code(one));
            if (one.ok()) {
              absl::StrAppend(&line, ":", B(one->created), ":",
                              Show(one->letter));
            }
          }
        }
        Out(line);
        break;
      }
      case 2:
      case 3: {  // A transition, allowed or not, maybe with a step.
        const std::string id = AnyLetter();
        Transition t;
        t.from = {AnyState(), AnyState()};
        t.to = AnyState();
        // Mostly a move the lifecycle allows from where the letter is.
        auto now = s_->GetLetter(id, "");
        if (now.ok() && Pick(4) != 0) {
          t.from = {now->state};
          std::vector<State> next;
          for (int k = 0; k < 11; ++k) {
            State to = AnyState();
            if (lifecycle::Allowed(now->state, to)) next.push_back(to);
          }
          if (!next.empty()) t.to = next[Pick(static_cast<int>(next.size()))];
        }
        if (Pick(2) == 0) t.channel = Pick(2) == 0 ? "digital" : "print";
        t.reason = absl::StrCat("r", Pick(4));
        if (Pick(4) == 0) t.then.push_back({AnyState(), "step"});
        if (Pick(3) == 0) {
          t.outbox.push_back(
              lifecycle::WorkItem("utpost.work", "x", "deliver.digital", 0));
        }
        if (Pick(4) == 0) {
          t.set_timers.push_back(
              {"", "print_if_unread", clock_->NowMillis() + Pick(200)});
        }
        if (Pick(4) == 0) t.clear_timers.push_back("not_before");
        t.unless_handing_off = Pick(3) == 0;
        for (auto& timer : t.set_timers) timer.letter_id = id;
        auto r = s_->ApplyTransition(id, t);
        Out(absl::StrCat(i, " transition ", id, " ", Code(r), " ",
                         r.ok() ? Show(*r) : ""));
        break;
      }
      case 4: {  // The relay: claim, sometimes confirm.
        const std::string owner = absl::StrCat("relay-", Pick(2));
        auto claimed = s_->ClaimOutbox(owner, 1 + Pick(4), 50);
        std::string line =
            absl::StrCat(i, " claim ", owner, " ", Code(claimed));
        std::vector<int64_t> ids;
        if (claimed.ok()) {
          for (const auto& m : *claimed) {
            absl::StrAppend(&line, " ", Show(m));
            ids.push_back(m.id);
          }
        }
        if (Pick(3) != 0) {
          absl::StrAppend(&line, " sent ", Code(s_->MarkOutboxSent(ids)));
        }
        Out(line);
        break;
      }
      case 5: {  // A retry, sometimes a repeated one.
        const std::string id = AnyLetter();
        auto r = s_->ScheduleRetry(
            id, {Letter::QUEUED, Letter::ROUTED}, 1 + Pick(3), "503",
            lifecycle::WorkItem("utpost.retry", id, "route", 1));
        Out(absl::StrCat(i, " retry ", id, " ", Code(r)));
        break;
      }
      case 6: {
        const std::string id = AnyLetter();
        Out(absl::StrCat(
            i, " handoff ", id, " ",
            Code(s_->ClaimHandOff(id, Pick(2) == 0 ? "digital" : "print"))));
        break;
      }
      case 7: {  // A provider event, perhaps seen before.
        ProviderEventRecord e;
        e.provider = "984661185";
        e.event_id = absl::StrCat("e", Pick(30));
        e.letter_id = AnyLetter();
        e.channel = "digital";
        e.kind = "DELIVERED";
        e.time_ms = clock_->NowMillis();
        e.evidence = "<e/>";
        Transition delivered;
        delivered.from = {Letter::SENT_DIGITAL};
        delivered.to = Letter::DELIVERED;
        Transition read;
        read.from = {Letter::DELIVERED};
        read.to = Letter::READ;
        auto r = s_->ApplyProviderEvent(e, {delivered, read});
        Out(absl::StrCat(
            i, " event ", e.event_id, " ", Code(r), " ",
            r.ok() ? absl::StrCat(B(r->duplicate), B(r->moved)) : ""));
        break;
      }
      case 8: {  // Timers: set, claim, fire.
        const std::string id = AnyLetter();
        TimerRecord t{id, Pick(2) == 0 ? "not_before" : "print_if_unread",
                      clock_->NowMillis() + Pick(100)};
        std::string line = absl::StrCat(
            i, " timer ", Show(t), " ",
            Code(s_->SetTimer(
                t, {Letter::RECEIVED, Letter::QUEUED, Letter::SENT_DIGITAL})));
        auto claimed = s_->ClaimDueTimers(absl::StrCat("scan-", Pick(2)),
                                          clock_->NowMillis(), 3, 60);
        absl::StrAppend(&line, " claim ", Code(claimed));
        if (claimed.ok()) {
          for (const TimerRecord& due : *claimed) {
            absl::StrAppend(&line, " ", Show(due));
            if (Pick(2) == 0) {
              auto fired =
                  s_->FireTimer(due, {Letter::QUEUED}, std::nullopt,
                                {lifecycle::WorkItem(
                                    "utpost.work", due.letter_id, "route", 0)});
              absl::StrAppend(&line, " fired ", Code(fired), " ",
                              B(fired.ok() && *fired));
            }
          }
        }
        Out(line);
        break;
      }
      case 9: {  // Stuck letters and requeue.
        // All of them, ties put in id order: engines need not agree on
        // the order of letters changed in the same millisecond, nor so on
        // which of them a limit cuts off.
        auto stuck = s_->StuckLetters(clock_->NowMillis() - Pick(100), 1000);
        std::string line = absl::StrCat(i, " stuck ", Code(stuck));
        if (stuck.ok()) {
          std::vector<StuckLetter> sorted = *stuck;
          std::stable_sort(sorted.begin(), sorted.end(),
                           [](const StuckLetter& a, const StuckLetter& b) {
                             return std::tie(a.update_time_ms, a.id) <
                                    std::tie(b.update_time_ms, b.id);
                           });
          for (size_t k = 0; k < sorted.size(); ++k) {
            absl::StrAppend(&line, " ", sorted[k].id, ":",
                            sorted[k].update_time_ms);
            // Oldest change first, whatever the ties.
            if (k > 0 &&
                (*stuck)[k].update_time_ms < (*stuck)[k - 1].update_time_ms) {
              absl::StrAppend(&line, " OUT-OF-ORDER");
            }
          }
          if (!sorted.empty()) {
            auto again = s_->RequeueStuck(
                sorted.front(),
                lifecycle::WorkItem("utpost.work", sorted.front().id, "route",
                                    0));
            absl::StrAppend(&line, " requeue ", Code(again), " ",
                            B(again.ok() && *again));
          }
        }
        Out(line);
        break;
      }
      case 10: {  // Retention and the tree head.
        // No limit that cuts: which letters a limit keeps for later is up
        // to the engine.
        auto purged = s_->PurgeDocuments(clock_->NowMillis() - Pick(200), 1000);
        auto sequenced = s_->SequenceReceipts();
        auto head = s_->IssueTreeHead();
        Out(absl::StrCat(i, " purge ", Code(purged), " ",
                         purged.ok() ? *purged : -1, " sequence ",
                         Code(sequenced), " head ", Code(head), " ",
                         head.ok() ? head->tree_size : -1));
        break;
      }
      case 11: {  // Operators.
        const std::string channel = Pick(2) == 0 ? "digital" : "print";
        std::string line = absl::StrCat(
            i, " pause ", channel, " ",
            Code(s_->SetChannelPaused(channel, Pick(2) == 0,
                                      absl::StrCat("op", Pick(2)))));
        ProviderStatsRecord r;
        r.process_id = absl::StrCat("p", Pick(2));
        r.channel = channel;
        r.window_start_ms = clock_->NowMillis() - 10;
        r.window_end_ms = clock_->NowMillis();
        r.sends = Pick(10);
        absl::StrAppend(&line, " stats ", Code(s_->WriteProviderStats({r})));
        auto moved = s_->MoveFeedPosition("altinn:x", absl::StrCat(Pick(3)),
                                          absl::StrCat(Pick(3)));
        absl::StrAppend(&line, " feed ", Code(moved), " ",
                        B(moved.ok() && *moved));
        Out(line);
        break;
      }
    }
  }

  // Everything a reader sees now.
  void Snapshot(int i) {
    const std::string at = absl::StrCat("snapshot ", i, " ");
    // Receipts queued by an engine that sequences after commit become
    // leaves first, so that every engine shows the same log.
    Out(at + "sequence " + Code(s_->SequenceReceipts()));
    OpsListFilter f;
    f.page_size = 7;
    while (true) {
      auto page = s_->ListLettersForOps(f);
      Out(at + "list " + Code(page));
      if (!page.ok()) break;
      for (const auto& l : page->letters) Out(at + Show(l));
      if (page->next_page_token.empty()) break;
      f.page_token = page->next_page_token;
    }
    auto receipts = s_->ReceiptsAfter(0, "", 100000);
    Out(at + "receipts " + Code(receipts));
    if (receipts.ok()) {
      for (const auto& r : *receipts) Out(at + Show(r));
    }
    auto pending = s_->PendingOutbox(100000);
    Out(at + "outbox " + Code(pending));
    if (pending.ok()) {
      for (const auto& m : *pending) Out(at + Show(m));
    }
    auto lag = s_->GetOutboxLag();
    if (lag.ok()) {
      Out(absl::StrCat(at, "lag ", lag->pending, " ", lag->oldest_pending_ms));
    }
    auto due = s_->DueTimers(clock_->NowMillis() + 1000, 1000);
    Out(at + "timers " + Code(due));
    if (due.ok()) {
      for (const auto& t : *due) Out(at + Show(t));
    }
    auto groups = s_->CountLetterGroups();
    Out(at + "groups " + Code(groups));
    if (groups.ok()) {
      for (const auto& g : *groups) {
        Out(absl::StrCat(at, g.tenant, "|", g.channel, "|",
                         Letter::State_Name(g.state), "|", g.count, "|",
                         g.oldest_update_time_ms));
      }
    }
    auto totals = s_->CountTransitions();
    Out(at + "totals " + Code(totals));
    if (totals.ok()) {
      Out(absl::StrCat(at, "cursor ", totals->cursor));
      for (const auto& c : totals->counts) {
        Out(absl::StrCat(at, c.tenant, "|", c.channel, "|",
                         Letter::State_Name(c.state), "|", c.count));
      }
    }
    auto notes = s_->TransitionsAfter(0, 100000);
    if (notes.ok()) {
      for (const auto& n : *notes) {
        Out(absl::StrCat(at, "note ", n.cursor, " ", n.letter_create_time_ms));
      }
    }
    auto paused = s_->PausedChannels();
    if (paused.ok()) {
      for (const auto& p : *paused) {
        Out(absl::StrCat(at, "paused ", p.channel, " ", p.paused_by, " ",
                         p.since_ms));
      }
    }
    auto stats = s_->ProviderStatsSince(0);
    if (stats.ok()) {
      for (const auto& r : *stats) {
        Out(absl::StrCat(at, "stats ", r.process_id, " ", r.channel, " ",
                         r.window_end_ms, " ", r.sends));
      }
    }
    Out(at + "feed " + s_->FeedPosition("altinn:x").value_or("?"));
    auto size = s_->ReceiptLogSize();
    Out(absl::StrCat(at, "log ", size.ok() ? *size : -1));
    ReceiptLogQuery q;
    q.tenant = "964338531";
    auto count = s_->CountLoggedReceipts(q, size.ok() ? *size : 0);
    if (count.ok()) {
      Out(absl::StrCat(at, "logged ", count->receipts, " ", count->letters));
    }
    for (int k = 0; k < next_id_; ++k) {
      const std::string id = absl::StrCat("L", k);
      auto events = s_->GetProviderEvents(id);
      if (events.ok()) {
        for (const auto& e : *events) {
          Out(absl::StrCat(at, "event ", id, " ", e.event_id, " ",
                           e.received_ms, " ", e.applied));
        }
      }
      auto attempts = s_->GetFailedAttempts(id);
      if (attempts.ok()) {
        for (const auto& a : *attempts) {
          Out(absl::StrCat(at, "attempt ", id, " ", a.stage, " ", a.attempt,
                           " ", a.time_ms, " ", B(a.parked)));
        }
      }
      auto purged = s_->DocumentsPurgedAt(id);
      if (purged.ok() && *purged > 0) {
        Out(absl::StrCat(at, "purged ", id, " ", *purged));
      }
      auto docs = s_->GetDocuments(id);
      Out(absl::StrCat(at, "docs ", id, " ", Code(docs), " ",
                       docs.ok() ? docs->size() : 0));
    }
  }

  Store* s_;
  FakeClock* clock_;
  std::mt19937 rng_;
  int next_id_ = 0;
  std::vector<std::string> trace_;
};

class EngineEquivalenceTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(EngineEquivalenceTest, EveryEngineAnswersTheSameWorkloadAlike) {
  auto signer = ::utpost::testing::DevReceiptSigner();
  ASSERT_THAT(signer, IsOk());
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> traces;
  for (const auto& factory : ::utpost::testing::AllStoreEngines()) {
    auto home = factory.make_home();
    ASSERT_THAT(home, IsOk()) << factory.name;
    auto engine = (*home)->OpenEngine();
    ASSERT_THAT(engine, IsOk()) << factory.name;
    FakeClock clock(kStart);
    StoreOptions options;
    options.signer = signer->get();
    options.clock = &clock;
    auto store = OpenStore(std::move(*engine), options);
    ASSERT_THAT(store, IsOk()) << factory.name;
    names.push_back(factory.name);
    traces.push_back(Workload(store->get(), &clock, GetParam()).Run(300));
  }
  {
    // The memory engine again, every op run twice (the first run rolled
    // back), as when an engine retries a commit: the rules must report
    // what the last run did.
    auto home = ::utpost::testing::MakeMemoryHome();
    ASSERT_THAT(home, IsOk());
    auto engine = (*home)->OpenEngine();
    ASSERT_THAT(engine, IsOk());
    auto faults = std::make_shared<::utpost::testing::EngineFaults>();
    faults->rerun_ops = true;
    FakeClock clock(kStart);
    StoreOptions options;
    options.signer = signer->get();
    options.clock = &clock;
    auto store = OpenStore(
        ::utpost::testing::WithFaults(std::move(*engine), faults), options);
    ASSERT_THAT(store, IsOk());
    names.push_back("MemoryWithRetriedOps");
    traces.push_back(Workload(store->get(), &clock, GetParam()).Run(300));
  }
  ASSERT_GE(traces.size(), 3u);
  for (size_t e = 1; e < traces.size(); ++e) {
    const auto& a = traces[0];
    const auto& b = traces[e];
    size_t n = std::min(a.size(), b.size());
    size_t first = n;
    for (size_t k = 0; k < n; ++k) {
      if (a[k] != b[k]) {
        first = k;
        break;
      }
    }
    if (first == n && a.size() == b.size()) continue;
    ADD_FAILURE() << names[0] << " and " << names[e] << " differ at line "
                  << first << ":\n  " << names[0] << ": "
                  << (first < a.size() ? a[first] : "(end)") << "\n  "
                  << names[e] << ": "
                  << (first < b.size() ? b[first] : "(end)");
  }
  // The workload did something worth comparing: letters moved, messages
  // were claimed, timers fired.
  int moved = 0, claimed = 0, fired = 0;
  for (const std::string& line : traces[0]) {
    if (line.find(" transition ") != std::string::npos &&
        line.find(" OK ") != std::string::npos) {
      ++moved;
    }
    if (line.find(" claim relay-") != std::string::npos &&
        line.find("|utpost.") != std::string::npos) {
      ++claimed;
    }
    if (line.find(" fired OK true") != std::string::npos) ++fired;
  }
  EXPECT_GT(moved, 0);
  EXPECT_GT(claimed, 0);
  EXPECT_GT(fired, 0);
  ::testing::Test::RecordProperty("moved", moved);
  ::testing::Test::RecordProperty("claimed", claimed);
  ::testing::Test::RecordProperty("fired", fired);
}

INSTANTIATE_TEST_SUITE_P(Seeds, EngineEquivalenceTest,
                         ::testing::Range(1u, 9u));

}  // namespace
}  // namespace utpost::store
