#include "gateway/store/postgres_engine.h"

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "gateway/store/pg_db.h"
#include "gateway/store/pg_schema.h"

namespace utpost::store {
namespace {

using internal::PgConnection;
using internal::PgParams;
using internal::PgPool;
using internal::PgResult;
using internal::PgTxMode;
using internal::RunPgTransaction;

// Advisory lock keys ("utpost" and a number), beside the migration lock.
// Session-level, held by the sequencer process.
constexpr int64_t kSequencerLockKey = 0x7574706f73740002;
// Transaction-level, held by whoever appends to the log or signs a head.
constexpr int64_t kReceiptLogLockKey = 0x7574706f73740003;

constexpr char kLetterColumns[] =
    "id, tenant, client_reference, state, channel, reason, spec, "
    "create_time_ms, update_time_ms, request_digest, attempt, handing_off, "
    "print_sheets, bulk";
constexpr char kReceiptSelect[] =
    "SELECT r.cursor, r.letter_id, r.tenant, l.client_reference, r.seq, "
    "r.state, r.channel, r.reason, r.time_ms, r.jws, r.sha256, g.leaf_index "
    "FROM receipts r JOIN letters l ON l.id = r.letter_id "
    "LEFT JOIN receipt_log_leaves g ON g.cursor = r.cursor ";
constexpr char kOutboxColumns[] =
    "id, letter_id, exchange, routing_key, body, state_when_sent";
constexpr char kHeadColumns[] = "tree_size, root_hash, time_ms, jws";

std::vector<int64_t> StateNumbers(const std::vector<State>& states) {
  std::vector<int64_t> out;
  out.reserve(states.size());
  for (State s : states) out.push_back(static_cast<int64_t>(s));
  return out;
}

ReceiptRecord ReceiptAt(const PgResult& r, int i) {
  ReceiptRecord out;
  out.cursor = r.Int(i, 0);
  out.letter_id = r.Text(i, 1);
  out.tenant = r.Text(i, 2);
  out.client_reference = r.Text(i, 3);
  out.sequence = r.Int(i, 4);
  out.state = static_cast<State>(r.Int(i, 5));
  out.channel = r.Text(i, 6);
  out.reason = r.Text(i, 7);
  out.time_ms = r.Int(i, 8);
  out.jws = r.Text(i, 9);
  out.sha256_hex = r.Text(i, 10);
  out.leaf_index = r.IsNull(i, 11) ? -1 : r.Int(i, 11);
  return out;
}

std::vector<ReceiptRecord> Receipts(const PgResult& r) {
  std::vector<ReceiptRecord> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) out.push_back(ReceiptAt(r, i));
  return out;
}

OutboxMessage OutboxAt(const PgResult& r, int i) {
  OutboxMessage m;
  m.id = r.Int(i, 0);
  m.letter_id = r.Text(i, 1);
  m.exchange = r.Text(i, 2);
  m.routing_key = r.Text(i, 3);
  m.body = r.Bytes(i, 4);
  if (!r.IsNull(i, 5)) m.state_when_sent = static_cast<State>(r.Int(i, 5));
  return m;
}

TreeHead HeadAt(const PgResult& r, int i) {
  TreeHead h;
  h.tree_size = r.Int(i, 0);
  h.root_hash = r.Bytes(i, 1);
  h.time_ms = r.Int(i, 2);
  h.jws = r.Text(i, 3);
  return h;
}

std::vector<TimerRecord> Timers(const PgResult& r) {
  std::vector<TimerRecord> out;
  for (int i = 0; i < r.rows(); ++i) {
    TimerRecord& t = out.emplace_back();
    t.letter_id = r.Text(i, 0);
    t.kind = r.Text(i, 1);
    t.due_ms = r.Int(i, 2);
  }
  return out;
}

// A LIKE pattern matching strings that start with `prefix`.
std::string LikePrefix(const std::string& prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '\\' || c == '%' || c == '_') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

// One transaction's reads and writes. Errors that end the transaction as a
// whole (the server aborted it, the connection is gone) are kept in
// `fatal()`, so that the engine retries or abandons the whole transaction
// instead of taking them for the outcome of one op.
class PgTxn final : public WriteTxn {
 public:
  explicit PgTxn(PgConnection& c) : c_(c) {}

  const absl::Status& fatal() const { return fatal_; }

  // ---- Letters ----

  absl::StatusOr<std::optional<LetterRow>> GetLetter(
      const std::string& id) override {
    return OneLetter(
        absl::StrCat("SELECT ", kLetterColumns, " FROM letters WHERE id = $1"),
        id);
  }

  absl::StatusOr<std::optional<LetterRow>> FindLetterByReference(
      const std::string& tenant, const std::string& client_reference) override {
    PgParams p;
    p.Text(tenant).Text(client_reference);
    ASSIGN_OR_RETURN(PgResult r,
                     Q(absl::StrCat("SELECT ", kLetterColumns,
                                    " FROM letters WHERE tenant = $1 AND "
                                    "client_reference = $2"),
                       p));
    if (r.rows() == 0) return std::optional<LetterRow>();
    ASSIGN_OR_RETURN(LetterRow row, LetterAt(r, 0));
    return std::optional<LetterRow>(std::move(row));
  }

  absl::StatusOr<std::vector<LetterRecord>> ListLetters(
      const LetterQuery& q) override {
    // Only the conditions in use appear, so that the planner can pick the
    // matching index; the few shapes each get one prepared statement.
    std::vector<std::string> where;
    PgParams p;
    int n = 0;
    auto next = [&n] { return absl::StrCat("$", ++n); };
    if (!q.tenant.empty()) {
      where.push_back("tenant = " + next());
      p.Text(q.tenant);
    }
    if (q.state != ::utpost::v1::Letter::STATE_UNSPECIFIED) {
      where.push_back("state = " + next());
      p.Int(q.state);
    }
    if (!q.channel.empty()) {
      where.push_back("channel = " + next());
      p.Text(q.channel);
    }
    if (!q.client_reference.empty()) {
      where.push_back("client_reference = " + next());
      p.Text(q.client_reference);
    }
    if (!q.reason_contains.empty()) {
      where.push_back(absl::StrCat("strpos(reason, ", next(), ") > 0"));
      p.Text(q.reason_contains);
    }
    if (!q.id_prefix.empty()) {
      where.push_back("id LIKE " + next());
      p.Text(LikePrefix(q.id_prefix));
    }
    if (q.created_before_ms > 0) {
      where.push_back("create_time_ms < " + next());
      p.Int(q.created_before_ms);
    }
    if (q.created_after_ms > 0) {
      where.push_back("create_time_ms > " + next());
      p.Int(q.created_after_ms);
    }
    if (q.after.has_value()) {
      std::string a = next();
      std::string b = next();
      where.push_back(
          absl::StrCat("(create_time_ms, id) < (", a, ", ", b, ")"));
      p.Int(q.after->first).Text(q.after->second);
    }
    std::string sql = absl::StrCat("SELECT ", kLetterColumns, " FROM letters");
    if (!where.empty()) {
      absl::StrAppend(&sql, " WHERE ", absl::StrJoin(where, " AND "));
    }
    absl::StrAppend(&sql, " ORDER BY create_time_ms DESC, id DESC LIMIT ",
                    next());
    p.Int(std::max(q.limit, 0));
    ASSIGN_OR_RETURN(PgResult r, Q(sql, p));
    std::vector<LetterRecord> out;
    out.reserve(r.rows());
    std::vector<std::string> ids;
    std::unordered_map<std::string, size_t> index;
    for (int i = 0; i < r.rows(); ++i) {
      ASSIGN_OR_RETURN(LetterRow row, LetterAt(r, i, /*with_documents=*/false));
      index[row.record.id] = out.size();
      ids.push_back(row.record.id);
      out.push_back(std::move(row.record));
    }
    if (ids.empty()) return out;
    // The page's documents in one statement, not one per letter.
    PgParams d;
    d.TextArray(ids);
    ASSIGN_OR_RETURN(PgResult docs,
                     Q("SELECT letter_id, file_name, media_type, size, sha256 "
                       "FROM documents WHERE letter_id = ANY($1) "
                       "ORDER BY letter_id, idx",
                       d));
    for (int i = 0; i < docs.rows(); ++i) {
      auto it = index.find(docs.Text(i, 0));
      if (it == index.end()) continue;
      ::utpost::v1::DocumentInfo& info =
          out[it->second].documents.emplace_back();
      info.set_file_name(docs.Text(i, 1));
      info.set_media_type(docs.Text(i, 2));
      info.set_size_bytes(docs.Int(i, 3));
      info.set_sha256(docs.Text(i, 4));
    }
    return out;
  }

  absl::StatusOr<std::vector<StoredDocument>> GetDocuments(
      const std::string& letter_id, bool with_content) override {
    PgParams p;
    p.Text(letter_id);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q(with_content ? "SELECT file_name, media_type, sha256, size, content "
                         "FROM documents WHERE letter_id = $1 ORDER BY idx"
                       : "SELECT file_name, media_type, sha256, size "
                         "FROM documents WHERE letter_id = $1 ORDER BY idx",
          p));
    std::vector<StoredDocument> out;
    for (int i = 0; i < r.rows(); ++i) {
      StoredDocument& d = out.emplace_back();
      d.file_name = r.Text(i, 0);
      d.media_type = r.Text(i, 1);
      d.sha256_hex = r.Text(i, 2);
      d.size = r.Int(i, 3);
      if (with_content) d.content = r.Bytes(i, 4);
    }
    return out;
  }

  absl::StatusOr<std::vector<StuckLetter>> StuckLetters(
      const std::vector<State>& states, int64_t updated_before_ms,
      int limit) override {
    PgParams p;
    p.IntArray(StateNumbers(states)).Int(updated_before_ms).Int(limit);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q("SELECT l.id, l.state, l.channel, l.attempt, l.update_time_ms, "
          "l.bulk FROM letters l WHERE l.state = ANY($1) AND l.update_time_ms "
          "< $2 "
          "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.letter_id = l.id "
          "AND o.sent_at_ms IS NULL) "
          "AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.letter_id = l.id) "
          "ORDER BY l.update_time_ms, l.id LIMIT $3",
          p));
    std::vector<StuckLetter> out;
    for (int i = 0; i < r.rows(); ++i) {
      StuckLetter& s = out.emplace_back();
      s.id = r.Text(i, 0);
      s.state = static_cast<State>(r.Int(i, 1));
      s.channel = r.Text(i, 2);
      s.attempt = static_cast<int>(r.Int(i, 3));
      s.update_time_ms = r.Int(i, 4);
      s.bulk = r.Int(i, 5) != 0;
    }
    return out;
  }

  absl::StatusOr<std::vector<std::string>> PurgeCandidates(
      const std::vector<State>& states, int64_t updated_before_ms,
      int limit) override {
    PgParams p;
    p.IntArray(StateNumbers(states)).Int(updated_before_ms).Int(limit);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q("SELECT l.id FROM letters l WHERE l.state = ANY($1) "
          "AND l.update_time_ms < $2 AND NOT EXISTS "
          "(SELECT 1 FROM purged_letters p WHERE p.letter_id = l.id) "
          "ORDER BY l.update_time_ms, l.id LIMIT $3",
          p));
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.Text(i, 0));
    return out;
  }

  absl::StatusOr<int64_t> PurgedAt(const std::string& letter_id) override {
    PgParams p;
    p.Text(letter_id);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q("SELECT purged_ms FROM purged_letters WHERE letter_id = $1", p));
    return r.rows() == 0 ? 0 : r.Int(0, 0);
  }

  absl::StatusOr<std::vector<std::pair<State, int64_t>>> CountByState()
      override {
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT state, COUNT(*) FROM letters "
                                   "GROUP BY state ORDER BY state",
                                   PgParams()));
    std::vector<std::pair<State, int64_t>> out;
    for (int i = 0; i < r.rows(); ++i) {
      out.emplace_back(static_cast<State>(r.Int(i, 0)), r.Int(i, 1));
    }
    return out;
  }

  absl::StatusOr<std::vector<LetterGroupCount>> CountLetterGroups() override {
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT tenant, channel, state, COUNT(*), "
                                   "MIN(update_time_ms) FROM letters "
                                   "GROUP BY tenant, channel, state "
                                   "ORDER BY tenant, channel, state",
                                   PgParams()));
    std::vector<LetterGroupCount> out;
    for (int i = 0; i < r.rows(); ++i) {
      LetterGroupCount& g = out.emplace_back();
      g.tenant = r.Text(i, 0);
      g.channel = r.Text(i, 1);
      g.state = static_cast<State>(r.Int(i, 2));
      g.count = r.Int(i, 3);
      g.oldest_update_time_ms = r.Int(i, 4);
    }
    return out;
  }

  // ---- Receipts ----

  absl::StatusOr<std::optional<ReceiptTip>> LastReceipt(
      const std::string& letter_id) override {
    PgParams p;
    p.Text(letter_id);
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT seq, sha256 FROM receipts "
                                   "WHERE letter_id = $1 "
                                   "ORDER BY seq DESC LIMIT 1",
                                   p));
    if (r.rows() == 0) return std::optional<ReceiptTip>();
    ReceiptTip tip;
    tip.sequence = r.Int(0, 0);
    tip.sha256_hex = r.Text(0, 1);
    return std::optional<ReceiptTip>(tip);
  }

  absl::StatusOr<bool> HasReceiptIn(const std::string& letter_id,
                                    const std::vector<State>& states) override {
    PgParams p;
    p.Text(letter_id).IntArray(StateNumbers(states));
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT 1 FROM receipts WHERE "
                                   "letter_id = $1 AND state = ANY($2) "
                                   "LIMIT 1",
                                   p));
    return r.rows() > 0;
  }

  absl::StatusOr<std::vector<ReceiptRecord>> GetReceipts(
      const std::string& letter_id) override {
    PgParams p;
    p.Text(letter_id);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q(absl::StrCat(kReceiptSelect, "WHERE r.letter_id = $1 ORDER BY r.seq"),
          p));
    return Receipts(r);
  }

  absl::StatusOr<std::vector<ReceiptRecord>> ReceiptsAfter(
      int64_t after, const std::string& tenant, int limit) override {
    PgParams p;
    p.Int(after).Int(limit);
    std::string sql;
    if (tenant.empty()) {
      sql = absl::StrCat(kReceiptSelect,
                         "WHERE r.cursor > $1 ORDER BY r.cursor LIMIT $2");
    } else {
      p.Text(tenant);
      sql = absl::StrCat(kReceiptSelect,
                         "WHERE r.tenant = $3 AND r.cursor > $1 "
                         "ORDER BY r.cursor LIMIT $2");
    }
    ASSIGN_OR_RETURN(PgResult r, Q(sql, p));
    return Receipts(r);
  }

  absl::StatusOr<int64_t> LastReceiptCursor() override {
    ASSIGN_OR_RETURN(PgResult r,
                     Q("SELECT MAX(cursor) FROM receipts", PgParams()));
    return r.IsNull(0, 0) ? 0 : r.Int(0, 0);
  }

  absl::StatusOr<std::vector<Store::TransitionNote>> TransitionsAfter(
      int64_t after, int limit) override {
    PgParams p;
    p.Int(after).Int(limit);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q("SELECT r.cursor, r.tenant, r.state, r.channel, r.time_ms, "
          "l.create_time_ms FROM receipts r "
          "JOIN letters l ON l.id = r.letter_id "
          "WHERE r.cursor > $1 ORDER BY r.cursor LIMIT $2",
          p));
    std::vector<Store::TransitionNote> out;
    for (int i = 0; i < r.rows(); ++i) {
      Store::TransitionNote& t = out.emplace_back();
      t.cursor = r.Int(i, 0);
      t.tenant = r.Text(i, 1);
      t.state = static_cast<State>(r.Int(i, 2));
      t.channel = r.Text(i, 3);
      t.time_ms = r.Int(i, 4);
      t.letter_create_time_ms = r.Int(i, 5);
    }
    return out;
  }

  absl::StatusOr<Store::TransitionTotals> CountTransitions() override {
    // One statement: one snapshot for the counts and the cursor, also
    // outside a snapshot transaction.
    ASSIGN_OR_RETURN(PgResult r,
                     Q("SELECT tenant, channel, state, COUNT(*), "
                       "(SELECT COALESCE(MAX(cursor), 0) FROM receipts) "
                       "FROM receipts GROUP BY tenant, channel, state "
                       "ORDER BY tenant, channel, state",
                       PgParams()));
    Store::TransitionTotals out;
    for (int i = 0; i < r.rows(); ++i) {
      Store::TransitionCount& t = out.counts.emplace_back();
      t.tenant = r.Text(i, 0);
      t.channel = r.Text(i, 1);
      t.state = static_cast<State>(r.Int(i, 2));
      t.count = r.Int(i, 3);
      out.cursor = r.Int(i, 4);
    }
    return out;
  }

  // ---- Outbox ----

  absl::StatusOr<std::vector<OutboxMessage>> PendingOutbox(int limit) override {
    PgParams p;
    p.Int(limit);
    ASSIGN_OR_RETURN(PgResult r,
                     Q(absl::StrCat("SELECT ", kOutboxColumns,
                                    " FROM outbox WHERE sent_at_ms IS NULL "
                                    "ORDER BY id LIMIT $1"),
                       p));
    std::vector<OutboxMessage> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(OutboxAt(r, i));
    return out;
  }

  absl::StatusOr<std::optional<OutboxEntry>> GetOutbox(int64_t id) override {
    PgParams p;
    p.Int(id);
    ASSIGN_OR_RETURN(PgResult r,
                     Q("SELECT letter_id, state_when_sent, "
                       "sent_at_ms IS NOT NULL FROM outbox WHERE id = $1",
                       p));
    if (r.rows() == 0) return std::optional<OutboxEntry>();
    OutboxEntry e;
    e.letter_id = r.Text(0, 0);
    if (!r.IsNull(0, 1)) e.state_when_sent = static_cast<State>(r.Int(0, 1));
    e.sent = r.Int(0, 2) != 0;
    return std::optional<OutboxEntry>(std::move(e));
  }

  absl::StatusOr<bool> HasPendingOutbox(const std::string& letter_id) override {
    PgParams p;
    p.Text(letter_id);
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT 1 FROM outbox WHERE letter_id = $1 "
                                   "AND sent_at_ms IS NULL LIMIT 1",
                                   p));
    return r.rows() > 0;
  }

  absl::StatusOr<OutboxLag> GetOutboxLag() override {
    ASSIGN_OR_RETURN(PgResult r,
                     Q("SELECT COUNT(*), COALESCE(MIN(created_ms), 0) "
                       "FROM outbox WHERE sent_at_ms IS NULL",
                       PgParams()));
    OutboxLag lag;
    lag.pending = r.Int(0, 0);
    lag.oldest_pending_ms = r.Int(0, 1);
    return lag;
  }

  // ---- Timers, provider events, feeds ----

  absl::StatusOr<std::vector<TimerRecord>> DueTimers(int64_t now_ms,
                                                     int limit) override {
    PgParams p;
    p.Int(now_ms).Int(limit);
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT letter_id, kind, due_ms FROM timers "
                                   "WHERE due_ms <= $1 "
                                   "ORDER BY due_ms, letter_id, kind LIMIT $2",
                                   p));
    return Timers(r);
  }

  absl::StatusOr<std::vector<TimerRecord>> GetTimers(
      const std::string& letter_id) override {
    PgParams p;
    p.Text(letter_id);
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT letter_id, kind, due_ms FROM timers "
                                   "WHERE letter_id = $1 ORDER BY kind",
                                   p));
    return Timers(r);
  }

  absl::StatusOr<bool> HasProviderEvent(const std::string& provider,
                                        const std::string& event_id) override {
    PgParams p;
    p.Text(provider).Text(event_id);
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT 1 FROM provider_events "
                                   "WHERE provider = $1 AND event_id = $2",
                                   p));
    return r.rows() > 0;
  }

  absl::StatusOr<std::vector<ProviderEventRecord>> GetProviderEvents(
      const std::string& letter_id) override {
    PgParams p;
    p.Text(letter_id);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q("SELECT provider, event_id, letter_id, channel, kind, time_ms, "
          "reason, evidence, received_ms, applied FROM provider_events "
          "WHERE letter_id = $1 ORDER BY received_ms, received_seq",
          p));
    std::vector<ProviderEventRecord> out;
    for (int i = 0; i < r.rows(); ++i) {
      ProviderEventRecord& e = out.emplace_back();
      e.provider = r.Text(i, 0);
      e.event_id = r.Text(i, 1);
      e.letter_id = r.Text(i, 2);
      e.channel = r.Text(i, 3);
      e.kind = r.Text(i, 4);
      e.time_ms = r.Int(i, 5);
      e.reason = r.Text(i, 6);
      e.evidence = r.Bytes(i, 7);
      e.received_ms = r.Int(i, 8);
      e.applied = r.Int(i, 9) != 0;
    }
    return out;
  }

  absl::StatusOr<std::optional<std::string>> GetFeedPosition(
      const std::string& feed) override {
    PgParams p;
    p.Text(feed);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q("SELECT position FROM feed_positions WHERE feed = $1", p));
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.Text(0, 0));
  }

  absl::StatusOr<std::optional<UploadRecord>> GetUpload(
      const std::string& tenant, const std::string& sha256_hex) override {
    PgParams p;
    p.Text(tenant).Text(sha256_hex);
    ASSIGN_OR_RETURN(PgResult r,
                     Q("SELECT media_type, content, expire_time_ms "
                       "FROM uploads WHERE tenant = $1 AND sha256 = $2",
                       p));
    if (r.rows() == 0) return std::optional<UploadRecord>();
    UploadRecord u;
    u.tenant = tenant;
    u.sha256_hex = sha256_hex;
    u.media_type = r.Text(0, 0);
    u.content = r.Bytes(0, 1);
    u.expire_time_ms = r.Int(0, 2);
    return std::optional<UploadRecord>(std::move(u));
  }

  // ---- Receipt log ----

  absl::StatusOr<int64_t> LogSize() override {
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT MAX(leaf_index) FROM "
                                   "receipt_log_leaves",
                                   PgParams()));
    return r.IsNull(0, 0) ? 0 : r.Int(0, 0) + 1;
  }

  absl::StatusOr<std::optional<std::string>> GetLogNode(
      int level, int64_t index) override {
    PgParams p;
    p.Int(level).Int(index);
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT hash FROM receipt_log_nodes "
                                   "WHERE level = $1 AND idx = $2",
                                   p));
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.Bytes(0, 0));
  }

  absl::StatusOr<std::optional<TreeHead>> LatestTreeHead() override {
    ASSIGN_OR_RETURN(PgResult r,
                     Q(absl::StrCat("SELECT ", kHeadColumns,
                                    " FROM receipt_log_heads "
                                    "ORDER BY tree_size DESC LIMIT 1"),
                       PgParams()));
    if (r.rows() == 0) return std::optional<TreeHead>();
    return std::optional<TreeHead>(HeadAt(r, 0));
  }

  absl::StatusOr<std::optional<TreeHead>> GetTreeHead(
      int64_t tree_size) override {
    PgParams p;
    p.Int(tree_size);
    ASSIGN_OR_RETURN(PgResult r, Q(absl::StrCat("SELECT ", kHeadColumns,
                                                " FROM receipt_log_heads "
                                                "WHERE tree_size = $1"),
                                   p));
    if (r.rows() == 0) return std::optional<TreeHead>();
    return std::optional<TreeHead>(HeadAt(r, 0));
  }

  absl::StatusOr<std::vector<TreeHead>> ListTreeHeads(
      int64_t from_size, int64_t to_size) override {
    PgParams p;
    p.Int(from_size).Int(to_size);
    ASSIGN_OR_RETURN(PgResult r,
                     Q(absl::StrCat("SELECT ", kHeadColumns,
                                    " FROM receipt_log_heads WHERE "
                                    "tree_size >= $1 AND tree_size <= $2 "
                                    "ORDER BY tree_size"),
                       p));
    std::vector<TreeHead> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(HeadAt(r, i));
    return out;
  }

  absl::StatusOr<std::optional<ReceiptRecord>> ReceiptAtLeaf(
      int64_t leaf_index) override {
    PgParams p;
    p.Int(leaf_index);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q(absl::StrCat(kReceiptSelect, "WHERE g.leaf_index = $1"), p));
    if (r.rows() == 0) return std::optional<ReceiptRecord>();
    return std::optional<ReceiptRecord>(ReceiptAt(r, 0));
  }

  absl::StatusOr<std::vector<ReceiptRecord>> LoggedReceipts(
      const ReceiptLogQuery& q) override {
    PgParams p;
    p.Int(q.after_leaf).Int(q.from_ms);
    int n = 2;
    std::string sql = absl::StrCat(
        kReceiptSelect, "WHERE g.leaf_index > $1 AND r.time_ms >= $2");
    AppendLogFilters(q, &sql, &p, &n);
    absl::StrAppend(&sql, " ORDER BY g.leaf_index LIMIT $", ++n);
    p.Int(std::max(q.limit, 0));
    ASSIGN_OR_RETURN(PgResult r, Q(sql, p));
    return Receipts(r);
  }

  absl::StatusOr<LoggedReceiptCount> CountLoggedReceipts(
      const ReceiptLogQuery& q, int64_t tree_size) override {
    PgParams p;
    p.Int(tree_size).Int(q.from_ms);
    int n = 2;
    std::string sql =
        "SELECT COUNT(*), COUNT(DISTINCT r.letter_id) FROM receipts r "
        "JOIN receipt_log_leaves g ON g.cursor = r.cursor "
        "WHERE g.leaf_index < $1 AND r.time_ms >= $2";
    AppendLogFilters(q, &sql, &p, &n);
    ASSIGN_OR_RETURN(PgResult r, Q(sql, p));
    LoggedReceiptCount c;
    c.receipts = r.Int(0, 0);
    c.letters = r.Int(0, 1);
    return c;
  }

  absl::StatusOr<std::vector<UnloggedReceipt>> UnloggedReceipts(
      int limit) override {
    // Leaves are appended in cursor order and cursors are the commit
    // order, so the queue is every receipt above the last leaf's cursor.
    PgParams p;
    p.Int(limit);
    ASSIGN_OR_RETURN(PgResult r,
                     Q("SELECT cursor, jws FROM receipts WHERE cursor > "
                       "COALESCE((SELECT cursor FROM receipt_log_leaves "
                       "ORDER BY leaf_index DESC LIMIT 1), 0) "
                       "ORDER BY cursor LIMIT $1",
                       p));
    std::vector<UnloggedReceipt> out;
    for (int i = 0; i < r.rows(); ++i) {
      UnloggedReceipt& u = out.emplace_back();
      u.cursor = r.Int(i, 0);
      u.jws = r.Text(i, 1);
    }
    return out;
  }

  // ---- Operations ----

  absl::StatusOr<std::vector<FailedAttemptRecord>> GetFailedAttempts(
      const std::string& letter_id) override {
    PgParams p;
    p.Text(letter_id);
    ASSIGN_OR_RETURN(PgResult r,
                     Q("SELECT letter_id, stage, attempt, time_ms, error, "
                       "parked FROM failed_attempts WHERE letter_id = $1 "
                       "ORDER BY id",
                       p));
    std::vector<FailedAttemptRecord> out;
    for (int i = 0; i < r.rows(); ++i) {
      FailedAttemptRecord& a = out.emplace_back();
      a.letter_id = r.Text(i, 0);
      a.stage = r.Text(i, 1);
      a.attempt = static_cast<int>(r.Int(i, 2));
      a.time_ms = r.Int(i, 3);
      a.error = r.Text(i, 4);
      a.parked = r.Int(i, 5) != 0;
    }
    return out;
  }

  absl::StatusOr<std::vector<PausedChannelRecord>> PausedChannels() override {
    ASSIGN_OR_RETURN(PgResult r, Q("SELECT channel, paused_by, since_ms "
                                   "FROM paused_channels ORDER BY channel",
                                   PgParams()));
    std::vector<PausedChannelRecord> out;
    for (int i = 0; i < r.rows(); ++i) {
      PausedChannelRecord& c = out.emplace_back();
      c.channel = r.Text(i, 0);
      c.paused_by = r.Text(i, 1);
      c.since_ms = r.Int(i, 2);
    }
    return out;
  }

  absl::StatusOr<std::vector<ProviderStatsRecord>> ProviderStatsSince(
      int64_t since_ms) override {
    PgParams p;
    p.Int(since_ms);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q("SELECT process_id, channel, window_start_ms, window_end_ms, "
          "sends, errors, latency_sum_us, latency_max_us, last_error "
          "FROM provider_stats WHERE window_end_ms > $1 "
          "ORDER BY window_end_ms, id",
          p));
    std::vector<ProviderStatsRecord> out;
    for (int i = 0; i < r.rows(); ++i) {
      ProviderStatsRecord& s = out.emplace_back();
      s.process_id = r.Text(i, 0);
      s.channel = r.Text(i, 1);
      s.window_start_ms = r.Int(i, 2);
      s.window_end_ms = r.Int(i, 3);
      s.sends = r.Int(i, 4);
      s.errors = r.Int(i, 5);
      s.latency_sum_us = r.Int(i, 6);
      s.latency_max_us = r.Int(i, 7);
      s.last_error = r.Text(i, 8);
    }
    return out;
  }

  absl::StatusOr<std::vector<LetterFacts>> LetterStatistics(
      const StatsQuery& q) override {
    // States 5 DELIVERED, 6 READ, 7 SENT_PRINT (utpost.v1.Letter.State).
    // The subqueries use receipts (letter_id, seq) and provider_events
    // (letter_id, received_ms). Two shapes, each its own prepared statement,
    // so that one tenant's period is a range of letters_by_tenant_time and
    // every tenant's one of letters_by_time (a generic plan of
    // "$1 = '' OR tenant = $1" could use neither).
    PgParams p;
    std::string where = "l.create_time_ms >= $1 AND l.create_time_ms < $2";
    p.Int(q.from_ms).Int(q.to_ms);
    if (!q.tenant.empty()) {
      absl::StrAppend(&where, " AND l.tenant = $3");
      p.Text(q.tenant);
    }
    ASSIGN_OR_RETURN(
        PgResult r,
        Q(absl::StrCat(
              "SELECT l.tenant, l.id, l.create_time_ms, l.state, l.channel, "
              "EXISTS (SELECT 1 FROM receipts r WHERE r.letter_id = l.id "
              "AND r.state = 6), "
              "COALESCE((SELECT MIN(r.time_ms) FROM receipts r "
              "WHERE r.letter_id = l.id AND r.state IN (5, 7)), 0), "
              "EXISTS (SELECT 1 FROM provider_events e "
              "WHERE e.letter_id = l.id AND e.kind = 'RETURNED'), l.spec, "
              "l.print_sheets FROM letters l WHERE ",
              where, " ORDER BY l.tenant, l.create_time_ms, l.id"),
          p));
    std::vector<LetterFacts> out;
    out.reserve(r.rows());
    for (int i = 0; i < r.rows(); ++i) {
      LetterFacts& f = out.emplace_back();
      f.tenant = r.Text(i, 0);
      f.id = r.Text(i, 1);
      f.create_time_ms = r.Int(i, 2);
      f.state = static_cast<State>(r.Int(i, 3));
      f.channel = r.Text(i, 4);
      f.read = r.Int(i, 5) != 0;  // Boolean columns come back as 0 or 1.
      f.delivered_ms = r.Int(i, 6);
      f.returned = r.Int(i, 7) != 0;
      ::utpost::v1::SubmitLetterRequest spec;
      if (!spec.ParseFromString(r.Bytes(i, 8))) {
        return absl::DataLossError(
            absl::StrCat("letter ", f.id, ": stored spec does not parse"));
      }
      f.a_post =
          spec.print_options().post_type() == ::utpost::v1::PrintOptions::A;
      f.print_sheets = static_cast<int>(r.Int(i, 9));
    }
    return out;
  }

  // ---- Writes ----

  absl::StatusOr<std::optional<LetterRow>> LockLetter(
      const std::string& id) override {
    return OneLetter(absl::StrCat("SELECT ", kLetterColumns,
                                  " FROM letters WHERE id = $1 FOR UPDATE"),
                     id);
  }

  absl::Status InsertLetter(const LetterRow& row,
                            const std::string& spec_bytes) override {
    const LetterRecord& l = row.record;
    PgParams p;
    p.Text(l.id)
        .Text(l.tenant)
        .Text(l.client_reference)
        .Text(row.request_digest);
    p.Int(l.state).Text(l.channel).Text(l.reason).BytesRef(spec_bytes);
    p.Int(row.attempt).Bool(row.handing_off).Int(l.create_time_ms);
    p.Int(l.update_time_ms).Int(row.print_sheets).Bool(l.bulk);
    return C("INSERT INTO letters (id, tenant, client_reference, "
             "request_digest, state, channel, reason, spec, attempt, "
             "handing_off, create_time_ms, update_time_ms, print_sheets, bulk) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
             "$14)",
             p)
        .status();
  }

  absl::Status InsertDocument(const std::string& letter_id, int index,
                              const Document& doc) override {
    PgParams p;
    p.Text(letter_id).Int(index).Text(doc.file_name).Text(doc.media_type);
    p.Text(doc.sha256_hex).Int(static_cast<int64_t>(doc.content.size()));
    p.BytesRef(doc.content);
    return C("INSERT INTO documents (letter_id, idx, file_name, media_type, "
             "sha256, size, content) VALUES ($1, $2, $3, $4, $5, $6, $7)",
             p)
        .status();
  }

  absl::Status UpdateLetter(const std::string& id,
                            const LetterUpdate& u) override {
    PgParams p;
    p.Text(id).Int(u.state).Text(u.channel).Text(u.reason).Int(u.attempt);
    p.Bool(u.handing_off).Int(u.update_time_ms);
    // An unknown id changes nothing, as in the other engines.
    return C("UPDATE letters SET state = $2, channel = $3, reason = $4, "
             "attempt = $5, handing_off = $6, update_time_ms = $7 "
             "WHERE id = $1",
             p)
        .status();
  }

  absl::Status TouchLetter(const std::string& id, int64_t now_ms) override {
    PgParams p;
    p.Text(id).Int(now_ms);
    return C("UPDATE letters SET update_time_ms = $2 WHERE id = $1", p)
        .status();
  }

  absl::Status PurgeDocuments(const std::string& letter_id,
                              int64_t now_ms) override {
    PgParams p;
    p.Text(letter_id);
    RETURN_IF_ERROR(C("UPDATE documents SET content = ''::bytea "
                      "WHERE letter_id = $1",
                      p)
                        .status());
    PgParams q;
    q.Text(letter_id).Int(now_ms);
    return C("INSERT INTO purged_letters (letter_id, purged_ms) "
             "VALUES ($1, $2) ON CONFLICT (letter_id) DO NOTHING",
             q)
        .status();
  }

  absl::StatusOr<int64_t> InsertReceipt(const ReceiptRecord& r) override {
    // The counter's row stays locked until this transaction ends: the next
    // writer takes its cursor after this commit, so cursors are the commit
    // order (see pg_schema.cc).
    ASSIGN_OR_RETURN(PgResult c, Q("UPDATE receipt_cursor SET last = last + 1 "
                                   "RETURNING last",
                                   PgParams()));
    if (c.rows() != 1) {
      return absl::DataLossError("postgres: receipt_cursor has no row");
    }
    const int64_t cursor = c.Int(0, 0);
    PgParams p;
    p.Int(cursor).Text(r.letter_id).Text(r.tenant).Int(r.sequence);
    p.Int(r.state).Text(r.channel).Text(r.reason).Int(r.time_ms).Text(r.jws);
    p.Text(r.sha256_hex);
    RETURN_IF_ERROR(C("INSERT INTO receipts (cursor, letter_id, tenant, seq, "
                      "state, channel, reason, time_ms, jws, sha256) VALUES "
                      "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                      p)
                        .status());
    return cursor;
  }

  absl::Status LockReceiptLog() override {
    PgParams p;
    p.Int(kReceiptLogLockKey);
    return Q("SELECT pg_advisory_xact_lock($1)", p).status();
  }

  absl::Status AppendLogLeaf(int64_t leaf_index, int64_t cursor) override {
    PgParams p;
    p.Int(leaf_index).Int(cursor);
    return C("INSERT INTO receipt_log_leaves (leaf_index, cursor) "
             "VALUES ($1, $2)",
             p)
        .status();
  }

  absl::Status PutLogNode(int level, int64_t index,
                          const std::string& hash) override {
    PgParams p;
    p.Int(level).Int(index).Bytes(hash);
    return C("INSERT INTO receipt_log_nodes (level, idx, hash) "
             "VALUES ($1, $2, $3)",
             p)
        .status();
  }

  absl::Status InsertTreeHead(const TreeHead& head) override {
    PgParams p;
    p.Int(head.tree_size).Bytes(head.root_hash).Int(head.time_ms);
    p.Text(head.jws);
    return C("INSERT INTO receipt_log_heads (tree_size, root_hash, time_ms, "
             "jws) VALUES ($1, $2, $3, $4)",
             p)
        .status();
  }

  absl::StatusOr<int64_t> InsertOutbox(const std::string& letter_id,
                                       const OutboxMessage& m,
                                       int64_t now_ms) override {
    PgParams p;
    p.Text(letter_id).Text(m.exchange).Text(m.routing_key).BytesRef(m.body);
    if (m.state_when_sent.has_value()) {
      p.Int(*m.state_when_sent);
    } else {
      p.NullInt();
    }
    p.Int(now_ms);
    ASSIGN_OR_RETURN(PgResult r,
                     Q("INSERT INTO outbox (letter_id, exchange, routing_key, "
                       "body, state_when_sent, created_ms) VALUES "
                       "($1, $2, $3, $4, $5, $6) RETURNING id",
                       p));
    return r.Int(0, 0);
  }

  absl::Status MarkOutboxSent(int64_t id, int64_t now_ms) override {
    PgParams p;
    p.Int(id).Int(now_ms);
    return C("UPDATE outbox SET sent_at_ms = $2, claimed_by = NULL, "
             "claim_until_ms = NULL WHERE id = $1 AND sent_at_ms IS NULL",
             p)
        .status();
  }

  absl::StatusOr<std::vector<OutboxMessage>> ClaimOutbox(
      const std::string& owner, int64_t now_ms, int64_t lease_until_ms,
      int limit) override {
    PgParams p;
    p.Text(owner).Int(now_ms).Int(lease_until_ms).Int(limit);
    // A claim is live while now < claim_until_ms; the owner's own live
    // claims are given again (the lease renewed), another owner's are not.
    // SKIP LOCKED: rows another claimer is taking right now are passed
    // over, not waited for.
    ASSIGN_OR_RETURN(
        PgResult r,
        Q("UPDATE outbox o SET claimed_by = $1, claim_until_ms = $3 "
          "FROM (SELECT id FROM outbox WHERE sent_at_ms IS NULL AND "
          "(claim_until_ms IS NULL OR claim_until_ms <= $2 OR claimed_by = $1) "
          "ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) c "
          "WHERE o.id = c.id RETURNING o.id, o.letter_id, o.exchange, "
          "o.routing_key, o.body, o.state_when_sent",
          p));
    std::vector<OutboxMessage> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(OutboxAt(r, i));
    std::sort(out.begin(), out.end(),
              [](const OutboxMessage& a, const OutboxMessage& b) {
                return a.id < b.id;
              });
    return out;
  }

  absl::Status PutTimer(const TimerRecord& t) override {
    PgParams p;
    p.Text(t.letter_id).Text(t.kind).Int(t.due_ms);
    return C("INSERT INTO timers (letter_id, kind, due_ms) "
             "VALUES ($1, $2, $3) ON CONFLICT (letter_id, kind) DO UPDATE "
             "SET due_ms = excluded.due_ms, claimed_by = NULL, "
             "claim_until_ms = NULL",
             p)
        .status();
  }

  absl::Status DeleteTimer(const std::string& letter_id,
                           const std::string& kind) override {
    PgParams p;
    p.Text(letter_id).Text(kind);
    return C("DELETE FROM timers WHERE letter_id = $1 AND kind = $2", p)
        .status();
  }

  absl::StatusOr<bool> TakeTimer(const TimerRecord& t) override {
    PgParams p;
    p.Text(t.letter_id).Text(t.kind).Int(t.due_ms);
    ASSIGN_OR_RETURN(int64_t n, C("DELETE FROM timers WHERE letter_id = $1 "
                                  "AND kind = $2 AND due_ms = $3",
                                  p));
    return n > 0;
  }

  absl::StatusOr<std::vector<TimerRecord>> ClaimDueTimers(
      const std::string& owner, int64_t now_ms, int64_t lease_until_ms,
      int limit) override {
    PgParams p;
    p.Text(owner).Int(now_ms).Int(lease_until_ms).Int(limit);
    ASSIGN_OR_RETURN(
        PgResult r,
        Q("UPDATE timers t SET claimed_by = $1, claim_until_ms = $3 "
          "FROM (SELECT letter_id, kind FROM timers WHERE due_ms <= $2 AND "
          "(claim_until_ms IS NULL OR claim_until_ms <= $2 OR claimed_by = $1) "
          "ORDER BY due_ms, letter_id, kind LIMIT $4 FOR UPDATE SKIP LOCKED) c "
          "WHERE t.letter_id = c.letter_id AND t.kind = c.kind "
          "RETURNING t.letter_id, t.kind, t.due_ms",
          p));
    std::vector<TimerRecord> out = Timers(r);
    std::sort(out.begin(), out.end(),
              [](const TimerRecord& a, const TimerRecord& b) {
                return std::tie(a.due_ms, a.letter_id, a.kind) <
                       std::tie(b.due_ms, b.letter_id, b.kind);
              });
    return out;
  }

  absl::Status InsertProviderEvent(const ProviderEventRecord& e) override {
    PgParams p;
    p.Text(e.provider).Text(e.event_id).Text(e.letter_id).Text(e.channel);
    p.Text(e.kind).Int(e.time_ms).Text(e.reason).BytesRef(e.evidence);
    p.Int(e.received_ms).Bool(e.applied);
    return C("INSERT INTO provider_events (provider, event_id, letter_id, "
             "channel, kind, time_ms, reason, evidence, received_ms, "
             "applied) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
             p)
        .status();
  }

  absl::Status InsertFailedAttempt(const FailedAttemptRecord& a) override {
    PgParams p;
    p.Text(a.letter_id).Text(a.stage).Int(a.attempt).Int(a.time_ms);
    p.Text(a.error).Bool(a.parked);
    return C("INSERT INTO failed_attempts (letter_id, stage, attempt, "
             "time_ms, error, parked) VALUES ($1, $2, $3, $4, $5, $6)",
             p)
        .status();
  }

  absl::Status PutFeedPosition(const std::string& feed,
                               const std::string& position,
                               int64_t now_ms) override {
    PgParams p;
    p.Text(feed).Text(position).Int(now_ms);
    return C("INSERT INTO feed_positions (feed, position, updated_ms) "
             "VALUES ($1, $2, $3) ON CONFLICT (feed) DO UPDATE SET "
             "position = excluded.position, updated_ms = excluded.updated_ms",
             p)
        .status();
  }

  absl::StatusOr<int64_t> CountLetterOfDay(const std::string& tenant,
                                           int64_t day) override {
    PgParams p;
    p.Text(tenant).Int(day);
    // The row lock the upsert takes is held to the commit: concurrent api
    // processes count one after the other.
    ASSIGN_OR_RETURN(PgResult r,
                     Q("INSERT INTO tenant_days (tenant, day, letters) "
                       "VALUES ($1, $2, 1) ON CONFLICT (tenant, day) "
                       "DO UPDATE SET letters = tenant_days.letters + 1 "
                       "RETURNING letters",
                       p));
    if (r.rows() != 1) {
      return absl::InternalError("tenant_days: no count returned");
    }
    return r.Int(0, 0);
  }

  absl::Status PutUpload(const UploadRecord& u) override {
    PgParams p;
    p.Text(u.tenant)
        .Text(u.sha256_hex)
        .Text(u.media_type)
        .BytesRef(u.content)
        .Int(u.expire_time_ms);
    return C("INSERT INTO uploads (tenant, sha256, media_type, content, "
             "expire_time_ms) VALUES ($1, $2, $3, $4, $5) "
             "ON CONFLICT (tenant, sha256) DO UPDATE SET "
             "expire_time_ms = excluded.expire_time_ms",
             p)
        .status();
  }

  absl::StatusOr<int64_t> DeleteUploadsExpiredBy(int64_t now_ms) override {
    PgParams p;
    p.Int(now_ms);
    return C("DELETE FROM uploads WHERE expire_time_ms <= $1", p);
  }

  absl::Status PauseChannel(const PausedChannelRecord& pause) override {
    PgParams p;
    p.Text(pause.channel).Text(pause.paused_by).Int(pause.since_ms);
    return C("INSERT INTO paused_channels (channel, paused_by, since_ms) "
             "VALUES ($1, $2, $3) ON CONFLICT (channel) DO NOTHING",
             p)
        .status();
  }

  absl::Status ResumeChannel(const std::string& channel) override {
    PgParams p;
    p.Text(channel);
    return C("DELETE FROM paused_channels WHERE channel = $1", p).status();
  }

  absl::Status InsertProviderStats(const ProviderStatsRecord& s) override {
    PgParams p;
    p.Text(s.process_id).Text(s.channel).Int(s.window_start_ms);
    p.Int(s.window_end_ms).Int(s.sends).Int(s.errors).Int(s.latency_sum_us);
    p.Int(s.latency_max_us).Text(s.last_error);
    return C("INSERT INTO provider_stats (process_id, channel, "
             "window_start_ms, window_end_ms, sends, errors, latency_sum_us, "
             "latency_max_us, last_error) VALUES "
             "($1, $2, $3, $4, $5, $6, $7, $8, $9)",
             p)
        .status();
  }

  absl::Status DeleteProviderStatsBefore(int64_t window_end_ms) override {
    PgParams p;
    p.Int(window_end_ms);
    return C("DELETE FROM provider_stats WHERE window_end_ms < $1", p).status();
  }

 private:
  absl::StatusOr<PgResult> Q(const std::string& sql, const PgParams& p) {
    absl::StatusOr<PgResult> r = c_.Query(sql, p);
    if (!r.ok()) Note(r.status());
    return r;
  }

  absl::StatusOr<int64_t> C(const std::string& sql, const PgParams& p) {
    ASSIGN_OR_RETURN(PgResult r, Q(sql, p));
    return r.affected();
  }

  void Note(const absl::Status& s) {
    if (!fatal_.ok()) return;
    if (absl::IsAborted(s) || !c_.healthy() || absl::IsDeadlineExceeded(s)) {
      fatal_ = s;
    }
  }

  absl::StatusOr<std::optional<LetterRow>> OneLetter(const std::string& sql,
                                                     const std::string& id) {
    PgParams p;
    p.Text(id);
    ASSIGN_OR_RETURN(PgResult r, Q(sql, p));
    if (r.rows() == 0) return std::optional<LetterRow>();
    ASSIGN_OR_RETURN(LetterRow row, LetterAt(r, 0));
    return std::optional<LetterRow>(std::move(row));
  }

  // Row `i` of kLetterColumns, with the documents' descriptions unless
  // the caller reads them for many letters at once.
  absl::StatusOr<LetterRow> LetterAt(const PgResult& r, int i,
                                     bool with_documents = true) {
    LetterRow row;
    LetterRecord& l = row.record;
    l.id = r.Text(i, 0);
    l.tenant = r.Text(i, 1);
    l.client_reference = r.Text(i, 2);
    l.state = static_cast<State>(r.Int(i, 3));
    l.channel = r.Text(i, 4);
    l.reason = r.Text(i, 5);
    if (!l.spec.ParseFromString(r.Bytes(i, 6))) {
      return absl::DataLossError(
          absl::StrCat("letter ", l.id, ": stored spec does not parse"));
    }
    l.create_time_ms = r.Int(i, 7);
    l.update_time_ms = r.Int(i, 8);
    row.request_digest = r.Text(i, 9);
    row.attempt = static_cast<int>(r.Int(i, 10));
    row.handing_off = r.Int(i, 11) != 0;
    row.print_sheets = static_cast<int>(r.Int(i, 12));
    l.bulk = r.Int(i, 13) != 0;
    if (!with_documents) return row;
    ASSIGN_OR_RETURN(std::vector<StoredDocument> docs,
                     GetDocuments(l.id, /*with_content=*/false));
    for (StoredDocument& d : docs) {
      ::utpost::v1::DocumentInfo& info = l.documents.emplace_back();
      info.set_file_name(std::move(d.file_name));
      info.set_media_type(std::move(d.media_type));
      info.set_size_bytes(d.size);
      info.set_sha256(std::move(d.sha256_hex));
    }
    return row;
  }

  void AppendLogFilters(const ReceiptLogQuery& q, std::string* sql, PgParams* p,
                        int* n) {
    if (q.to_ms > 0) {
      absl::StrAppend(sql, " AND r.time_ms < $", ++*n);
      p->Int(q.to_ms);
    }
    if (!q.tenant.empty()) {
      absl::StrAppend(sql, " AND r.tenant = $", ++*n);
      p->Text(q.tenant);
    }
    if (!q.letter_id.empty()) {
      absl::StrAppend(sql, " AND r.letter_id = $", ++*n);
      p->Text(q.letter_id);
    }
  }

  PgConnection& c_;
  absl::Status fatal_;
};

class PostgresEngine final : public Engine {
 public:
  explicit PostgresEngine(std::unique_ptr<PgPool> pool)
      : pool_(std::move(pool)) {}

  absl::Status Write(std::vector<WriteOp>* ops) override {
    return RunPgTransaction(
        *pool_, PgTxMode::kWrite, [ops](PgConnection& c) -> absl::Status {
          PgTxn txn(c);
          for (WriteOp& op : *ops) {
            RETURN_IF_ERROR(c.Exec("SAVEPOINT op"));
            op.status = op.run(txn);
            // The transaction itself failed: retried or abandoned whole.
            if (!txn.fatal().ok()) return txn.fatal();
            if (op.status.ok()) {
              RETURN_IF_ERROR(c.Exec("RELEASE SAVEPOINT op"));
            } else {
              RETURN_IF_ERROR(
                  c.Exec("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op"));
            }
          }
          return absl::OkStatus();
        });
  }

  absl::Status Read(const std::function<absl::Status(ReadTxn&)>& fn) override {
    return RunPgTransaction(*pool_, PgTxMode::kReadSnapshot,
                            [&fn](PgConnection& c) -> absl::Status {
                              PgTxn txn(c);
                              absl::Status s = fn(txn);
                              if (!txn.fatal().ok()) return txn.fatal();
                              return s;
                            });
  }

  bool log_in_transaction() const override { return false; }

  absl::StatusOr<bool> HoldSequencerLease() override {
    absl::MutexLock lock(&lease_mu_);
    if (lease_conn_ != nullptr) {
      // A lost session has lost its lock too (the server frees it), and
      // another process may hold it now: ask again on a new session.
      absl::Status alive = lease_conn_->Query("SELECT 1").status();
      if (!alive.ok() || !lease_conn_->healthy()) {
        lease_conn_.reset();
        lease_held_ = false;
      } else if (lease_held_) {
        return true;
      }
    }
    if (lease_conn_ == nullptr) {
      ASSIGN_OR_RETURN(lease_conn_, pool_->OpenDedicated());
    }
    PgParams p;
    p.Int(kSequencerLockKey);
    absl::StatusOr<PgResult> r =
        lease_conn_->Query("SELECT pg_try_advisory_lock($1)", p);
    if (!r.ok()) {
      lease_conn_.reset();
      return r.status();
    }
    lease_held_ = r->rows() == 1 && r->Int(0, 0) != 0;
    if (!lease_held_) lease_conn_.reset();  // No idle session per process.
    return lease_held_;
  }

 private:
  std::unique_ptr<PgPool> pool_;
  absl::Mutex lease_mu_;
  std::unique_ptr<PgConnection> lease_conn_ ABSL_GUARDED_BY(lease_mu_);
  bool lease_held_ ABSL_GUARDED_BY(lease_mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> OpenPostgresEngine(
    const PostgresEngineOptions& options) {
  if (options.conninfo.empty()) {
    return absl::InvalidArgumentError("postgres: conninfo is required");
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("postgres: pool_size must be at least 1");
  }
  PgPool::Options pool_options;
  pool_options.connection.conninfo = options.conninfo;
  pool_options.connection.password = options.password;
  pool_options.connection.application_name = options.application_name;
  pool_options.size = options.pool_size;
  ASSIGN_OR_RETURN(std::unique_ptr<PgPool> pool, PgPool::Open(pool_options));
  RETURN_IF_ERROR(internal::MigratePgSchema(*pool).status());
  return std::unique_ptr<Engine>(new PostgresEngine(std::move(pool)));
}

}  // namespace utpost::store
