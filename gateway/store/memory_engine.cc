#include "gateway/store/memory_engine.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace utpost::store {
namespace {

// ---- The tables ----
//
// One Tables is one committed version of the database. A write op runs on a
// copy of the state and replaces it only when it succeeds, which is the
// savepoint; readers hold a shared pointer to the version they started on,
// which is the snapshot. Large or numerous rows sit behind shared pointers
// to immutable values, so that a copy of the state copies pointers, not
// documents or signatures.

struct StoredDoc {
  std::string file_name;
  std::string media_type;
  std::string sha256_hex;
  int64_t size = 0;
  std::shared_ptr<const std::string> content;
};

struct OutboxRow {
  std::string letter_id;
  std::string exchange;
  std::string routing_key;
  std::string body;
  std::optional<State> state_when_sent;
  int64_t created_ms = 0;
  std::optional<int64_t> sent_at_ms;
  // The live claim, if any (ClaimOutbox).
  std::string claim_owner;
  int64_t claim_until_ms = 0;
};

struct ReceiptRow {
  std::string letter_id;
  std::string tenant;
  int64_t sequence = 0;
  State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;
  std::string reason;
  int64_t time_ms = 0;
  std::string jws;
  std::string sha256_hex;
};

struct TimerRow {
  int64_t due_ms = 0;
  // Insertion order (SQLite's rowid): ties of due_ms come out in it.
  int64_t order = 0;
  std::string claim_owner;
  int64_t claim_until_ms = 0;
};

struct EventRow {
  int64_t order = 0;  // Insertion order, as SQLite's rowid.
  ProviderEventRecord event;
};

using LetterKey = std::string;
using RefKey = std::pair<std::string, std::string>;    // tenant, reference
using DocKey = std::pair<std::string, int>;            // letter, index
using TimerKey = std::pair<std::string, std::string>;  // letter, kind
using NodeKey = std::pair<int, int64_t>;               // level, index

struct Tables {
  std::map<LetterKey, std::shared_ptr<const LetterRow>> letters;
  // Insertion order (SQLite's rowid): what a scan without an order, and
  // the ties of one, come out in.
  std::map<LetterKey, int64_t> letter_order;
  std::map<RefKey, std::string> letter_by_ref;
  std::map<DocKey, std::shared_ptr<const StoredDoc>> documents;
  std::map<std::string, int64_t> purged;

  std::map<int64_t, std::shared_ptr<const OutboxRow>> outbox;
  int64_t last_outbox_id = 0;

  std::map<int64_t, std::shared_ptr<const ReceiptRow>> receipts;
  // (letter, sequence) -> cursor: UNIQUE (letter_id, seq).
  std::map<std::pair<std::string, int64_t>, int64_t> receipt_by_seq;
  int64_t last_cursor = 0;

  std::vector<int64_t> leaves;                // leaf index -> cursor
  std::map<int64_t, int64_t> leaf_by_cursor;  // cursor -> leaf index
  std::map<NodeKey, std::string> nodes;
  std::map<int64_t, TreeHead> heads;

  std::map<TimerKey, TimerRow> timers;
  int64_t last_timer_order = 0;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const EventRow>>
      events;
  int64_t last_event_order = 0;
  std::map<std::string, std::string> feeds;
  std::map<std::pair<std::string, int64_t>, int64_t> tenant_days;
  // (tenant, digest) -> upload; shared, for large contents are not copied
  // with each op's savepoint.
  std::map<std::pair<std::string, std::string>,
           std::shared_ptr<const UploadRecord>>
      uploads;

  std::vector<FailedAttemptRecord> failed_attempts;  // In insertion order.
  std::map<std::string, PausedChannelRecord> paused;
  std::vector<ProviderStatsRecord> provider_stats;  // In insertion order.
};

// SQLite's LIMIT: a negative limit is no limit.
bool Full(size_t n, int limit) {
  return limit >= 0 && n >= static_cast<size_t>(limit);
}

bool In(const std::vector<State>& states, State s) {
  return std::find(states.begin(), states.end(), s) != states.end();
}

absl::Status NoLetter(const std::string& id) {
  // A foreign key: rows of a letter need the letter.
  return absl::FailedPreconditionError(
      absl::StrCat("memory engine: letter ", id, " does not exist"));
}

// ---- Reads, over one version of the state ----

// Every ReadTxn method over `view()`; `Base` is ReadTxn or WriteTxn.
template <typename Base>
class Reads : public Base {
 public:
  absl::StatusOr<std::optional<LetterRow>> GetLetter(
      const std::string& id) override {
    auto it = view().letters.find(id);
    if (it == view().letters.end()) return std::optional<LetterRow>();
    return std::optional<LetterRow>(WithDocuments(*it->second));
  }

  absl::StatusOr<std::optional<LetterRow>> FindLetterByReference(
      const std::string& tenant, const std::string& client_reference) override {
    auto it = view().letter_by_ref.find({tenant, client_reference});
    if (it == view().letter_by_ref.end()) return std::optional<LetterRow>();
    return GetLetter(it->second);
  }

  absl::StatusOr<std::vector<LetterRecord>> ListLetters(
      const LetterQuery& q) override {
    std::vector<const LetterRow*> match;
    for (const auto& [id, row] : view().letters) {
      const LetterRecord& r = row->record;
      if (!q.tenant.empty() && r.tenant != q.tenant) continue;
      if (q.state != ::utpost::v1::Letter::STATE_UNSPECIFIED &&
          r.state != q.state) {
        continue;
      }
      if (!q.channel.empty() && r.channel != q.channel) continue;
      if (!q.client_reference.empty() &&
          r.client_reference != q.client_reference) {
        continue;
      }
      if (!q.reason_contains.empty() &&
          !absl::StrContains(r.reason, q.reason_contains)) {
        continue;
      }
      if (!q.id_prefix.empty() && !absl::StartsWith(r.id, q.id_prefix)) {
        continue;
      }
      if (q.created_before_ms > 0 && r.create_time_ms >= q.created_before_ms) {
        continue;
      }
      if (q.created_after_ms > 0 && r.create_time_ms <= q.created_after_ms) {
        continue;
      }
      if (q.after.has_value() &&
          !(std::make_pair(r.create_time_ms, r.id) < *q.after)) {
        continue;
      }
      match.push_back(row.get());
    }
    std::sort(match.begin(), match.end(),
              [](const LetterRow* a, const LetterRow* b) {
                return std::tie(a->record.create_time_ms, a->record.id) >
                       std::tie(b->record.create_time_ms, b->record.id);
              });
    std::vector<LetterRecord> out;
    for (const LetterRow* row : match) {
      if (Full(out.size(), q.limit)) break;
      out.push_back(WithDocuments(*row).record);
    }
    return out;
  }

  absl::StatusOr<std::vector<StoredDocument>> GetDocuments(
      const std::string& letter_id, bool with_content) override {
    std::vector<StoredDocument> out;
    for (auto it = view().documents.lower_bound({letter_id, INT_MIN});
         it != view().documents.end() && it->first.first == letter_id; ++it) {
      const StoredDoc& d = *it->second;
      StoredDocument& s = out.emplace_back();
      s.file_name = d.file_name;
      s.media_type = d.media_type;
      s.sha256_hex = d.sha256_hex;
      s.size = d.size;
      if (with_content) s.content = *d.content;
    }
    return out;
  }

  absl::StatusOr<std::vector<StuckLetter>> StuckLetters(
      const std::vector<State>& states, int64_t updated_before_ms,
      int limit) override {
    std::set<std::string> busy;
    for (const auto& [id, m] : view().outbox) {
      if (!m->sent_at_ms.has_value()) busy.insert(m->letter_id);
    }
    for (const auto& [key, t] : view().timers) busy.insert(key.first);
    std::vector<StuckLetter> out;
    for (const auto& [id, row] : view().letters) {
      const LetterRecord& r = row->record;
      if (!In(states, r.state) || r.update_time_ms >= updated_before_ms ||
          busy.count(id) > 0) {
        continue;
      }
      out.push_back(
          {id, r.state, r.channel, row->attempt, r.update_time_ms, r.bulk});
    }
    const auto& order = view().letter_order;
    std::sort(out.begin(), out.end(),
              [&](const StuckLetter& a, const StuckLetter& b) {
                return std::make_pair(a.update_time_ms, order.at(a.id)) <
                       std::make_pair(b.update_time_ms, order.at(b.id));
              });
    if (limit >= 0 && out.size() > static_cast<size_t>(limit)) {
      out.resize(limit);
    }
    return out;
  }

  absl::StatusOr<std::vector<std::string>> PurgeCandidates(
      const std::vector<State>& states, int64_t updated_before_ms,
      int limit) override {
    // Oldest change first (engine.h leaves the order open; this one is
    // worth having: what waited longest goes first).
    std::vector<std::pair<std::pair<int64_t, int64_t>, std::string>> match;
    for (const auto& [id, row] : view().letters) {
      if (!In(states, row->record.state) ||
          row->record.update_time_ms >= updated_before_ms ||
          view().purged.count(id) > 0) {
        continue;
      }
      match.push_back(
          {{row->record.update_time_ms, view().letter_order.at(id)}, id});
    }
    std::sort(match.begin(), match.end());
    std::vector<std::string> out;
    for (auto& [key, id] : match) {
      if (Full(out.size(), limit)) break;
      out.push_back(std::move(id));
    }
    return out;
  }

  absl::StatusOr<int64_t> PurgedAt(const std::string& letter_id) override {
    auto it = view().purged.find(letter_id);
    return it == view().purged.end() ? 0 : it->second;
  }

  absl::StatusOr<std::vector<std::pair<State, int64_t>>> CountByState()
      override {
    std::map<State, int64_t> counts;
    for (const auto& [id, row] : view().letters) ++counts[row->record.state];
    return std::vector<std::pair<State, int64_t>>(counts.begin(), counts.end());
  }

  absl::StatusOr<std::vector<LetterGroupCount>> CountLetterGroups() override {
    std::map<std::tuple<std::string, std::string, State>, LetterGroupCount>
        groups;
    for (const auto& [id, row] : view().letters) {
      const LetterRecord& r = row->record;
      LetterGroupCount& g = groups[{r.tenant, r.channel, r.state}];
      if (g.count == 0 || r.update_time_ms < g.oldest_update_time_ms) {
        g.oldest_update_time_ms = r.update_time_ms;
      }
      g.tenant = r.tenant;
      g.channel = r.channel;
      g.state = r.state;
      ++g.count;
    }
    std::vector<LetterGroupCount> out;
    for (auto& [key, g] : groups) out.push_back(std::move(g));
    return out;
  }

  absl::StatusOr<std::optional<ReceiptTip>> LastReceipt(
      const std::string& letter_id) override {
    const auto& by_seq = view().receipt_by_seq;
    auto it = by_seq.lower_bound({letter_id, INT64_MAX});
    if (it == by_seq.begin()) return std::optional<ReceiptTip>();
    --it;
    if (it->first.first != letter_id) return std::optional<ReceiptTip>();
    const ReceiptRow& r = *view().receipts.at(it->second);
    return std::optional<ReceiptTip>(ReceiptTip{r.sequence, r.sha256_hex});
  }

  absl::StatusOr<bool> HasReceiptIn(const std::string& letter_id,
                                    const std::vector<State>& states) override {
    for (const auto& [cursor, r] : LetterReceipts(letter_id)) {
      if (In(states, r->state)) return true;
    }
    return false;
  }

  absl::StatusOr<std::vector<ReceiptRecord>> GetReceipts(
      const std::string& letter_id) override {
    std::vector<ReceiptRecord> out;
    for (const auto& [cursor, r] : LetterReceipts(letter_id)) {
      out.push_back(Record(cursor, *r));
    }
    return out;
  }

  absl::StatusOr<std::vector<ReceiptRecord>> ReceiptsAfter(
      int64_t after, const std::string& tenant, int limit) override {
    std::vector<ReceiptRecord> out;
    for (auto it = view().receipts.upper_bound(after);
         it != view().receipts.end() && !Full(out.size(), limit); ++it) {
      if (!tenant.empty() && it->second->tenant != tenant) continue;
      out.push_back(Record(it->first, *it->second));
    }
    return out;
  }

  absl::StatusOr<int64_t> LastReceiptCursor() override {
    return view().receipts.empty() ? 0 : view().receipts.rbegin()->first;
  }

  absl::StatusOr<std::vector<TransitionNote>> TransitionsAfter(
      int64_t after, int limit) override {
    std::vector<TransitionNote> out;
    for (auto it = view().receipts.upper_bound(after);
         it != view().receipts.end() && !Full(out.size(), limit); ++it) {
      const ReceiptRow& r = *it->second;
      TransitionNote& n = out.emplace_back();
      n.cursor = it->first;
      n.tenant = r.tenant;
      n.state = r.state;
      n.channel = r.channel;
      n.time_ms = r.time_ms;
      auto letter = view().letters.find(r.letter_id);
      if (letter != view().letters.end()) {
        n.letter_create_time_ms = letter->second->record.create_time_ms;
      }
    }
    return out;
  }

  absl::StatusOr<TransitionTotals> CountTransitions() override {
    std::map<std::tuple<std::string, std::string, State>, int64_t> counts;
    for (const auto& [cursor, r] : view().receipts) {
      ++counts[{r->tenant, r->channel, r->state}];
    }
    TransitionTotals out;
    out.cursor = view().receipts.empty() ? 0 : view().receipts.rbegin()->first;
    for (const auto& [key, n] : counts) {
      out.counts.push_back(
          {std::get<0>(key), std::get<1>(key), std::get<2>(key), n});
    }
    return out;
  }

  absl::StatusOr<std::vector<OutboxMessage>> PendingOutbox(int limit) override {
    std::vector<OutboxMessage> out;
    for (const auto& [id, m] : view().outbox) {
      if (Full(out.size(), limit)) break;
      if (!m->sent_at_ms.has_value()) out.push_back(Message(id, *m));
    }
    return out;
  }

  absl::StatusOr<std::optional<OutboxEntry>> GetOutbox(int64_t id) override {
    auto it = view().outbox.find(id);
    if (it == view().outbox.end()) return std::optional<OutboxEntry>();
    return std::optional<OutboxEntry>(
        OutboxEntry{it->second->letter_id, it->second->state_when_sent,
                    it->second->sent_at_ms.has_value()});
  }

  absl::StatusOr<bool> HasPendingOutbox(const std::string& letter_id) override {
    for (const auto& [id, m] : view().outbox) {
      if (m->letter_id == letter_id && !m->sent_at_ms.has_value()) return true;
    }
    return false;
  }

  absl::StatusOr<OutboxLag> GetOutboxLag() override {
    OutboxLag lag;
    for (const auto& [id, m] : view().outbox) {
      if (m->sent_at_ms.has_value()) continue;
      if (lag.pending == 0 || m->created_ms < lag.oldest_pending_ms) {
        lag.oldest_pending_ms = m->created_ms;
      }
      ++lag.pending;
    }
    return lag;
  }

  absl::StatusOr<std::vector<TimerRecord>> DueTimers(int64_t now_ms,
                                                     int limit) override {
    std::vector<TimerRecord> out;
    for (const auto& [key, t] : view().timers) {
      if (t.due_ms <= now_ms) out.push_back({key.first, key.second, t.due_ms});
    }
    SortByDue(&out);
    if (limit >= 0 && out.size() > static_cast<size_t>(limit)) {
      out.resize(limit);
    }
    return out;
  }

  absl::StatusOr<std::vector<TimerRecord>> GetTimers(
      const std::string& letter_id) override {
    std::vector<TimerRecord> out;
    for (auto it = view().timers.lower_bound({letter_id, ""});
         it != view().timers.end() && it->first.first == letter_id; ++it) {
      out.push_back({letter_id, it->first.second, it->second.due_ms});
    }
    return out;
  }

  absl::StatusOr<bool> HasProviderEvent(const std::string& provider,
                                        const std::string& event_id) override {
    return view().events.count({provider, event_id}) > 0;
  }

  absl::StatusOr<std::vector<ProviderEventRecord>> GetProviderEvents(
      const std::string& letter_id) override {
    std::vector<const EventRow*> rows;
    for (const auto& [key, e] : view().events) {
      if (e->event.letter_id == letter_id) rows.push_back(e.get());
    }
    std::sort(rows.begin(), rows.end(),
              [](const EventRow* a, const EventRow* b) {
                return std::tie(a->event.received_ms, a->order) <
                       std::tie(b->event.received_ms, b->order);
              });
    std::vector<ProviderEventRecord> out;
    for (const EventRow* e : rows) out.push_back(e->event);
    return out;
  }

  absl::StatusOr<std::optional<std::string>> GetFeedPosition(
      const std::string& feed) override {
    auto it = view().feeds.find(feed);
    if (it == view().feeds.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  absl::StatusOr<std::optional<UploadRecord>> GetUpload(
      const std::string& tenant, const std::string& sha256_hex) override {
    auto it = view().uploads.find({tenant, sha256_hex});
    if (it == view().uploads.end()) return std::optional<UploadRecord>();
    return std::optional<UploadRecord>(*it->second);
  }

  absl::StatusOr<int64_t> LogSize() override {
    return static_cast<int64_t>(view().leaves.size());
  }

  absl::StatusOr<std::optional<std::string>> GetLogNode(
      int level, int64_t index) override {
    auto it = view().nodes.find({level, index});
    if (it == view().nodes.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  absl::StatusOr<std::optional<TreeHead>> LatestTreeHead() override {
    if (view().heads.empty()) return std::optional<TreeHead>();
    return std::optional<TreeHead>(view().heads.rbegin()->second);
  }

  absl::StatusOr<std::optional<TreeHead>> GetTreeHead(
      int64_t tree_size) override {
    auto it = view().heads.find(tree_size);
    if (it == view().heads.end()) return std::optional<TreeHead>();
    return std::optional<TreeHead>(it->second);
  }

  absl::StatusOr<std::vector<TreeHead>> ListTreeHeads(
      int64_t from_size, int64_t to_size) override {
    std::vector<TreeHead> out;
    for (auto it = view().heads.lower_bound(from_size);
         it != view().heads.end() && it->first <= to_size; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  absl::StatusOr<std::optional<ReceiptRecord>> ReceiptAtLeaf(
      int64_t leaf_index) override {
    if (leaf_index < 0 ||
        leaf_index >= static_cast<int64_t>(view().leaves.size())) {
      return std::optional<ReceiptRecord>();
    }
    const int64_t cursor = view().leaves[leaf_index];
    return std::optional<ReceiptRecord>(
        Record(cursor, *view().receipts.at(cursor)));
  }

  absl::StatusOr<std::vector<ReceiptRecord>> LoggedReceipts(
      const ReceiptLogQuery& q) override {
    const int limit = q.limit > 0 ? q.limit : 1000;
    std::vector<ReceiptRecord> out;
    const int64_t size = static_cast<int64_t>(view().leaves.size());
    for (int64_t leaf = std::max<int64_t>(q.after_leaf + 1, 0);
         leaf < size && !Full(out.size(), limit); ++leaf) {
      const int64_t cursor = view().leaves[leaf];
      const ReceiptRow& r = *view().receipts.at(cursor);
      if (Matches(q, r)) out.push_back(Record(cursor, r));
    }
    return out;
  }

  absl::StatusOr<LoggedReceiptCount> CountLoggedReceipts(
      const ReceiptLogQuery& q, int64_t tree_size) override {
    LoggedReceiptCount out;
    std::set<std::string> letters;
    const int64_t size = std::min<int64_t>(
        tree_size, static_cast<int64_t>(view().leaves.size()));
    for (int64_t leaf = 0; leaf < size; ++leaf) {
      const ReceiptRow& r = *view().receipts.at(view().leaves[leaf]);
      if (!Matches(q, r)) continue;
      ++out.receipts;
      letters.insert(r.letter_id);
    }
    out.letters = static_cast<int64_t>(letters.size());
    return out;
  }

  absl::StatusOr<std::vector<UnloggedReceipt>> UnloggedReceipts(
      int limit) override {
    std::vector<UnloggedReceipt> out;
    for (const auto& [cursor, r] : view().receipts) {
      if (Full(out.size(), limit)) break;
      if (view().leaf_by_cursor.count(cursor) == 0) {
        out.push_back({cursor, r->jws});
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<FailedAttemptRecord>> GetFailedAttempts(
      const std::string& letter_id) override {
    std::vector<FailedAttemptRecord> out;
    for (const FailedAttemptRecord& a : view().failed_attempts) {
      if (a.letter_id == letter_id) out.push_back(a);
    }
    return out;
  }

  absl::StatusOr<std::vector<PausedChannelRecord>> PausedChannels() override {
    std::vector<PausedChannelRecord> out;
    for (const auto& [channel, p] : view().paused) out.push_back(p);
    return out;
  }

  absl::StatusOr<std::vector<LetterFacts>> LetterStatistics(
      const StatsQuery& q) override {
    std::map<std::string, LetterFacts*> by_id;
    std::vector<LetterFacts> out;
    for (const auto& [id, row] : view().letters) {
      const LetterRecord& r = row->record;
      if (!q.tenant.empty() && r.tenant != q.tenant) continue;
      if (r.create_time_ms < q.from_ms || r.create_time_ms >= q.to_ms) continue;
      LetterFacts& f = out.emplace_back();
      f.tenant = r.tenant;
      f.id = r.id;
      f.create_time_ms = r.create_time_ms;
      f.state = r.state;
      f.channel = r.channel;
      f.a_post =
          r.spec.print_options().post_type() == ::utpost::v1::PrintOptions::A;
      f.print_sheets = row->print_sheets;
    }
    for (LetterFacts& f : out) by_id[f.id] = &f;
    for (const auto& [cursor, rc] : view().receipts) {
      auto it = by_id.find(rc->letter_id);
      if (it == by_id.end()) continue;
      LetterFacts& f = *it->second;
      if (rc->state == ::utpost::v1::Letter::READ) f.read = true;
      if ((rc->state == ::utpost::v1::Letter::DELIVERED ||
           rc->state == ::utpost::v1::Letter::SENT_PRINT) &&
          (f.delivered_ms == 0 || rc->time_ms < f.delivered_ms)) {
        f.delivered_ms = rc->time_ms;
      }
    }
    for (const auto& [key, e] : view().events) {
      auto it = by_id.find(e->event.letter_id);
      if (it != by_id.end() && e->event.kind == "RETURNED") {
        it->second->returned = true;
      }
    }
    std::sort(out.begin(), out.end(),
              [](const LetterFacts& a, const LetterFacts& b) {
                return std::tie(a.tenant, a.create_time_ms, a.id) <
                       std::tie(b.tenant, b.create_time_ms, b.id);
              });
    return out;
  }

  absl::StatusOr<std::vector<ProviderStatsRecord>> ProviderStatsSince(
      int64_t since_ms) override {
    std::vector<ProviderStatsRecord> out;
    for (const ProviderStatsRecord& r : view().provider_stats) {
      if (r.window_end_ms > since_ms) out.push_back(r);
    }
    std::stable_sort(
        out.begin(), out.end(),
        [](const ProviderStatsRecord& a, const ProviderStatsRecord& b) {
          return a.window_end_ms < b.window_end_ms;
        });
    return out;
  }

 protected:
  explicit Reads(const Tables* view) : view_(view) {}
  const Tables& view() const { return *view_; }

  // Due first, ties in the order the timers were written.
  void SortByDue(std::vector<TimerRecord>* timers) const {
    const auto& rows = view().timers;
    auto key = [&](const TimerRecord& t) {
      return std::make_pair(t.due_ms, rows.at({t.letter_id, t.kind}).order);
    };
    std::sort(timers->begin(), timers->end(),
              [&](const TimerRecord& a, const TimerRecord& b) {
                return key(a) < key(b);
              });
  }

  static OutboxMessage Message(int64_t id, const OutboxRow& m) {
    OutboxMessage out;
    out.id = id;
    out.exchange = m.exchange;
    out.routing_key = m.routing_key;
    out.body = m.body;
    out.state_when_sent = m.state_when_sent;
    out.letter_id = m.letter_id;
    return out;
  }

 private:
  // The letter's receipts by sequence: (cursor, row).
  std::vector<std::pair<int64_t, const ReceiptRow*>> LetterReceipts(
      const std::string& letter_id) const {
    std::vector<std::pair<int64_t, const ReceiptRow*>> out;
    const auto& by_seq = view().receipt_by_seq;
    for (auto it = by_seq.lower_bound({letter_id, INT64_MIN});
         it != by_seq.end() && it->first.first == letter_id; ++it) {
      out.emplace_back(it->second, view().receipts.at(it->second).get());
    }
    return out;
  }

  ReceiptRecord Record(int64_t cursor, const ReceiptRow& r) const {
    ReceiptRecord out;
    out.cursor = cursor;
    out.letter_id = r.letter_id;
    out.tenant = r.tenant;
    auto letter = view().letters.find(r.letter_id);
    if (letter != view().letters.end()) {
      out.client_reference = letter->second->record.client_reference;
    }
    out.sequence = r.sequence;
    out.state = r.state;
    out.channel = r.channel;
    out.reason = r.reason;
    out.time_ms = r.time_ms;
    out.jws = r.jws;
    out.sha256_hex = r.sha256_hex;
    auto leaf = view().leaf_by_cursor.find(cursor);
    out.leaf_index = leaf == view().leaf_by_cursor.end() ? -1 : leaf->second;
    return out;
  }

  static bool Matches(const ReceiptLogQuery& q, const ReceiptRow& r) {
    if (r.time_ms < q.from_ms) return false;
    if (q.to_ms > 0 && r.time_ms >= q.to_ms) return false;
    if (!q.tenant.empty() && r.tenant != q.tenant) return false;
    if (!q.letter_id.empty() && r.letter_id != q.letter_id) return false;
    return true;
  }

  LetterRow WithDocuments(const LetterRow& row) const {
    LetterRow out = row;
    out.record.documents.clear();
    const std::string& id = row.record.id;
    for (auto it = view().documents.lower_bound({id, INT_MIN});
         it != view().documents.end() && it->first.first == id; ++it) {
      const StoredDoc& d = *it->second;
      ::utpost::v1::DocumentInfo& info = out.record.documents.emplace_back();
      info.set_file_name(d.file_name);
      info.set_media_type(d.media_type);
      info.set_size_bytes(d.size);
      info.set_sha256(d.sha256_hex);
    }
    return out;
  }

  const Tables* view_;
};

class MemoryReadTxn final : public Reads<ReadTxn> {
 public:
  explicit MemoryReadTxn(const Tables* view) : Reads<ReadTxn>(view) {}
};

// ---- Writes, on the op's own copy of the state ----

class MemoryWriteTxn final : public Reads<WriteTxn> {
 public:
  explicit MemoryWriteTxn(Tables* state) : Reads<WriteTxn>(state), s_(*state) {}

  absl::StatusOr<std::optional<LetterRow>> LockLetter(
      const std::string& id) override {
    // One writer at a time: the letter is locked already.
    return GetLetter(id);
  }

  absl::Status InsertLetter(const LetterRow& row,
                            const std::string& spec_bytes) override {
    const LetterRecord& r = row.record;
    if (s_.letters.count(r.id) > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("letter id ", r.id, " already exists"));
    }
    if (s_.letter_by_ref.count({r.tenant, r.client_reference}) > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("client_reference \"", r.client_reference,
                       "\" is already used in tenant ", r.tenant));
    }
    auto stored = std::make_shared<LetterRow>(row);
    // The spec as it would come back from a database: from its bytes.
    if (!stored->record.spec.ParseFromString(spec_bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("letter ", r.id, ": spec does not parse"));
    }
    stored->record.documents.clear();
    s_.letter_order[r.id] = static_cast<int64_t>(s_.letters.size());
    s_.letters[r.id] = std::move(stored);
    s_.letter_by_ref[{r.tenant, r.client_reference}] = r.id;
    return absl::OkStatus();
  }

  absl::Status InsertDocument(const std::string& letter_id, int index,
                              const Document& doc) override {
    if (s_.letters.count(letter_id) == 0) return NoLetter(letter_id);
    if (s_.documents.count({letter_id, index}) > 0) {
      return absl::AlreadyExistsError(absl::StrCat(
          "document ", index, " of letter ", letter_id, " already exists"));
    }
    auto d = std::make_shared<StoredDoc>();
    d->file_name = doc.file_name;
    d->media_type = doc.media_type;
    d->sha256_hex = doc.sha256_hex;
    d->size = static_cast<int64_t>(doc.content.size());
    // The one copy: the caller's content is only lent for the transaction.
    d->content = std::make_shared<const std::string>(doc.content);
    s_.documents[{letter_id, index}] = std::move(d);
    return absl::OkStatus();
  }

  absl::Status UpdateLetter(const std::string& id,
                            const LetterUpdate& update) override {
    return Modify(id, [&](LetterRow& row) {
      row.record.state = update.state;
      row.record.channel = update.channel;
      row.record.reason = update.reason;
      row.record.update_time_ms = update.update_time_ms;
      row.attempt = update.attempt;
      row.handing_off = update.handing_off;
    });
  }

  absl::Status TouchLetter(const std::string& id, int64_t now_ms) override {
    return Modify(id,
                  [&](LetterRow& row) { row.record.update_time_ms = now_ms; });
  }

  absl::Status PurgeDocuments(const std::string& letter_id,
                              int64_t now_ms) override {
    if (s_.letters.count(letter_id) == 0) return NoLetter(letter_id);
    if (s_.purged.count(letter_id) > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("documents of letter ", letter_id, " purged already"));
    }
    static const auto* const kEmpty = new std::shared_ptr<const std::string>(
        std::make_shared<const std::string>());
    for (auto it = s_.documents.lower_bound({letter_id, INT_MIN});
         it != s_.documents.end() && it->first.first == letter_id; ++it) {
      auto d = std::make_shared<StoredDoc>(*it->second);
      d->content = *kEmpty;
      it->second = std::move(d);
    }
    s_.purged[letter_id] = now_ms;
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> InsertReceipt(const ReceiptRecord& r) override {
    if (s_.letters.count(r.letter_id) == 0) return NoLetter(r.letter_id);
    if (s_.receipt_by_seq.count({r.letter_id, r.sequence}) > 0) {
      return absl::AlreadyExistsError(absl::StrCat("receipt ", r.sequence,
                                                   " of letter ", r.letter_id,
                                                   " already exists"));
    }
    auto row = std::make_shared<ReceiptRow>();
    row->letter_id = r.letter_id;
    row->tenant = r.tenant;
    row->sequence = r.sequence;
    row->state = r.state;
    row->channel = r.channel;
    row->reason = r.reason;
    row->time_ms = r.time_ms;
    row->jws = r.jws;
    row->sha256_hex = r.sha256_hex;
    const int64_t cursor = ++s_.last_cursor;
    s_.receipts[cursor] = std::move(row);
    s_.receipt_by_seq[{r.letter_id, r.sequence}] = cursor;
    return cursor;
  }

  absl::Status LockReceiptLog() override { return absl::OkStatus(); }

  absl::Status AppendLogLeaf(int64_t leaf_index, int64_t cursor) override {
    const auto size = static_cast<int64_t>(s_.leaves.size());
    if (leaf_index != size) {
      return absl::FailedPreconditionError(
          absl::StrCat("receipt log: leaf ", leaf_index,
                       " is not the next one (the log has ", size, ")"));
    }
    if (s_.receipts.count(cursor) == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("receipt log: no receipt with cursor ", cursor));
    }
    if (s_.leaf_by_cursor.count(cursor) > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("receipt log: receipt ", cursor, " is a leaf already"));
    }
    s_.leaves.push_back(cursor);
    s_.leaf_by_cursor[cursor] = leaf_index;
    return absl::OkStatus();
  }

  absl::Status PutLogNode(int level, int64_t index,
                          const std::string& hash) override {
    if (!s_.nodes.emplace(NodeKey{level, index}, hash).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("receipt log: subtree at level ", level, " index ",
                       index, " exists already"));
    }
    return absl::OkStatus();
  }

  absl::Status InsertTreeHead(const TreeHead& head) override {
    if (!s_.heads.emplace(head.tree_size, head).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("tree head of size ", head.tree_size, " exists"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> InsertOutbox(const std::string& letter_id,
                                       const OutboxMessage& m,
                                       int64_t now_ms) override {
    if (s_.letters.count(letter_id) == 0) return NoLetter(letter_id);
    auto row = std::make_shared<OutboxRow>();
    row->letter_id = letter_id;
    row->exchange = m.exchange;
    row->routing_key = m.routing_key;
    row->body = m.body;
    row->state_when_sent = m.state_when_sent;
    row->created_ms = now_ms;
    const int64_t id = ++s_.last_outbox_id;
    s_.outbox[id] = std::move(row);
    return id;
  }

  absl::Status MarkOutboxSent(int64_t id, int64_t now_ms) override {
    auto it = s_.outbox.find(id);
    if (it == s_.outbox.end()) return absl::OkStatus();
    auto row = std::make_shared<OutboxRow>(*it->second);
    row->sent_at_ms = now_ms;
    it->second = std::move(row);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<OutboxMessage>> ClaimOutbox(
      const std::string& owner, int64_t now_ms, int64_t lease_until_ms,
      int limit) override {
    std::vector<OutboxMessage> out;
    for (auto& [id, m] : s_.outbox) {
      if (Full(out.size(), limit)) break;
      if (m->sent_at_ms.has_value() ||
          HeldByAnother(m->claim_owner, m->claim_until_ms, owner, now_ms)) {
        continue;
      }
      auto row = std::make_shared<OutboxRow>(*m);
      row->claim_owner = owner;
      row->claim_until_ms = lease_until_ms;
      m = std::move(row);
      out.push_back(Message(id, *m));
    }
    return out;
  }

  absl::Status PutTimer(const TimerRecord& timer) override {
    if (s_.letters.count(timer.letter_id) == 0) {
      return NoLetter(timer.letter_id);
    }
    // A new row: whatever claim the old one had goes with it.
    s_.timers[{timer.letter_id, timer.kind}] =
        TimerRow{timer.due_ms, ++s_.last_timer_order, "", 0};
    return absl::OkStatus();
  }

  absl::Status DeleteTimer(const std::string& letter_id,
                           const std::string& kind) override {
    s_.timers.erase({letter_id, kind});
    return absl::OkStatus();
  }

  absl::StatusOr<bool> TakeTimer(const TimerRecord& timer) override {
    auto it = s_.timers.find({timer.letter_id, timer.kind});
    if (it == s_.timers.end() || it->second.due_ms != timer.due_ms) {
      return false;
    }
    s_.timers.erase(it);
    return true;
  }

  absl::StatusOr<std::vector<TimerRecord>> ClaimDueTimers(
      const std::string& owner, int64_t now_ms, int64_t lease_until_ms,
      int limit) override {
    std::vector<TimerRecord> due;
    for (const auto& [key, t] : s_.timers) {
      if (t.due_ms <= now_ms &&
          !HeldByAnother(t.claim_owner, t.claim_until_ms, owner, now_ms)) {
        due.push_back({key.first, key.second, t.due_ms});
      }
    }
    SortByDue(&due);
    if (limit >= 0 && due.size() > static_cast<size_t>(limit)) {
      due.resize(limit);
    }
    for (const TimerRecord& t : due) {
      TimerRow& row = s_.timers[{t.letter_id, t.kind}];
      row.claim_owner = owner;
      row.claim_until_ms = lease_until_ms;
    }
    return due;
  }

  absl::Status InsertProviderEvent(const ProviderEventRecord& event) override {
    auto key = std::make_pair(event.provider, event.event_id);
    if (s_.events.count(key) > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("provider event ", event.provider, "/", event.event_id,
                       " already exists"));
    }
    auto row = std::make_shared<EventRow>();
    row->order = ++s_.last_event_order;
    row->event = event;
    s_.events[key] = std::move(row);
    return absl::OkStatus();
  }

  absl::Status InsertFailedAttempt(const FailedAttemptRecord& a) override {
    if (s_.letters.count(a.letter_id) == 0) return NoLetter(a.letter_id);
    s_.failed_attempts.push_back(a);
    return absl::OkStatus();
  }

  absl::Status PutFeedPosition(const std::string& feed,
                               const std::string& position,
                               int64_t /*now_ms*/) override {
    s_.feeds[feed] = position;
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> CountLetterOfDay(const std::string& tenant,
                                           int64_t day) override {
    return ++s_.tenant_days[{tenant, day}];
  }

  absl::Status PutUpload(const UploadRecord& upload) override {
    auto& slot = s_.uploads[{upload.tenant, upload.sha256_hex}];
    if (slot != nullptr) {
      auto renewed = std::make_shared<UploadRecord>(*slot);
      renewed->expire_time_ms = upload.expire_time_ms;
      slot = std::move(renewed);
    } else {
      slot = std::make_shared<const UploadRecord>(upload);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> DeleteUploadsExpiredBy(int64_t now_ms) override {
    int64_t n = 0;
    for (auto it = s_.uploads.begin(); it != s_.uploads.end();) {
      if (it->second->expire_time_ms <= now_ms) {
        it = s_.uploads.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }

  absl::Status PauseChannel(const PausedChannelRecord& pause) override {
    s_.paused.emplace(pause.channel, pause);
    return absl::OkStatus();
  }

  absl::Status ResumeChannel(const std::string& channel) override {
    s_.paused.erase(channel);
    return absl::OkStatus();
  }

  absl::Status InsertProviderStats(const ProviderStatsRecord& r) override {
    s_.provider_stats.push_back(r);
    return absl::OkStatus();
  }

  absl::Status DeleteProviderStatsBefore(int64_t window_end_ms) override {
    auto& rows = s_.provider_stats;
    rows.erase(std::remove_if(rows.begin(), rows.end(),
                              [&](const ProviderStatsRecord& r) {
                                return r.window_end_ms < window_end_ms;
                              }),
               rows.end());
    return absl::OkStatus();
  }

 private:
  // A claim by someone else whose lease has not ended. A lease "until T" is
  // over at T.
  static bool HeldByAnother(const std::string& claim_owner,
                            int64_t claim_until_ms, const std::string& owner,
                            int64_t now_ms) {
    return !claim_owner.empty() && claim_owner != owner &&
           now_ms < claim_until_ms;
  }

  // As an UPDATE: a missing letter changes nothing.
  template <typename Fn>
  absl::Status Modify(const std::string& id, Fn&& fn) {
    auto it = s_.letters.find(id);
    if (it == s_.letters.end()) return absl::OkStatus();
    auto row = std::make_shared<LetterRow>(*it->second);
    fn(*row);
    it->second = std::move(row);
    return absl::OkStatus();
  }

  Tables& s_;
};

// ---- The engine ----

class MemoryEngine final : public Engine {
 public:
  MemoryEngine() : committed_(std::make_shared<const Tables>()) {}

  absl::Status Write(std::vector<WriteOp>* ops) override {
    absl::MutexLock writer(&writer_mu_);
    // Only this thread replaces `committed_`, so the version read here is
    // the latest until the end.
    std::shared_ptr<const Tables> current = Snapshot();
    for (WriteOp& op : *ops) {
      // The op's savepoint: its own copy, kept only when it succeeds. One
      // copy per op, of pointers and small rows.
      auto trial = std::make_shared<Tables>(*current);
      MemoryWriteTxn txn(trial.get());
      op.status = op.run(txn);
      if (op.status.ok()) current = std::move(trial);
    }
    absl::MutexLock lock(&mu_);
    committed_ = std::move(current);
    return absl::OkStatus();
  }

  absl::Status Read(const std::function<absl::Status(ReadTxn&)>& fn) override {
    std::shared_ptr<const Tables> snapshot = Snapshot();
    MemoryReadTxn txn(snapshot.get());
    return fn(txn);
  }

  bool log_in_transaction() const override { return true; }
  absl::StatusOr<bool> HoldSequencerLease() override { return true; }

 private:
  std::shared_ptr<const Tables> Snapshot() {
    absl::MutexLock lock(&mu_);
    return committed_;
  }

  // Held by the one writer for the whole of Write.
  absl::Mutex writer_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Guards the pointer only; the versions it points to never change.
  absl::Mutex mu_;
  std::shared_ptr<const Tables> committed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Engine> NewMemoryEngine() {
  return std::make_unique<MemoryEngine>();
}

}  // namespace utpost::store
