#include "gateway/store/sqlite_store.h"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/digest.h"
#include "common/status_macros.h"
#include "gateway/receipts/merkle.h"
#include "gateway/store/sqlite_db.h"

namespace utpost::store {
namespace {

using internal::Connection;
using internal::Statement;
using ::utpost::v1::Letter;

constexpr int kSchemaVersion = 1;
// Bounds one group commit, so that a flood of writers still sees commits.
constexpr size_t kMaxOpsPerCommit = 1024;
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

// Version 1. Times are milliseconds since the Unix epoch; states are
// utpost.v1.Letter.State numbers. Letters are never deleted, so foreign keys
// need no cascade.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS letters (
  id               TEXT PRIMARY KEY NOT NULL,
  tenant           TEXT NOT NULL,
  client_reference TEXT NOT NULL,
  request_digest   TEXT NOT NULL,
  state            INTEGER NOT NULL,
  channel          TEXT NOT NULL DEFAULT '',
  reason           TEXT NOT NULL DEFAULT '',
  spec             BLOB NOT NULL,  -- utpost.v1.SubmitLetterRequest, no content
  -- Attempts made at the current stage (reset by every state change).
  attempt          INTEGER NOT NULL DEFAULT 0,
  -- 1 while a delivery to a provider may be under way (see ClaimHandOff).
  handing_off      INTEGER NOT NULL DEFAULT 0,
  create_time_ms   INTEGER NOT NULL,
  update_time_ms   INTEGER NOT NULL,
  UNIQUE (tenant, client_reference)
);
CREATE INDEX IF NOT EXISTS letters_by_time
  ON letters (create_time_ms, id);
CREATE INDEX IF NOT EXISTS letters_by_tenant_time
  ON letters (tenant, create_time_ms, id);
CREATE INDEX IF NOT EXISTS letters_by_state_time
  ON letters (state, create_time_ms, id);

CREATE TABLE IF NOT EXISTS documents (
  letter_id  TEXT NOT NULL REFERENCES letters (id),
  idx        INTEGER NOT NULL,
  file_name  TEXT NOT NULL,
  media_type TEXT NOT NULL,
  sha256     TEXT NOT NULL,
  size       INTEGER NOT NULL,
  content    BLOB NOT NULL,
  PRIMARY KEY (letter_id, idx)
);

CREATE TABLE IF NOT EXISTS outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  letter_id       TEXT NOT NULL REFERENCES letters (id),
  exchange        TEXT NOT NULL,
  routing_key     TEXT NOT NULL,
  body            BLOB NOT NULL,
  state_when_sent INTEGER,
  created_ms      INTEGER NOT NULL,
  sent_at_ms      INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_unsent
  ON outbox (id) WHERE sent_at_ms IS NULL;

CREATE TABLE IF NOT EXISTS receipts (
  cursor    INTEGER PRIMARY KEY AUTOINCREMENT,
  letter_id TEXT NOT NULL REFERENCES letters (id),
  tenant    TEXT NOT NULL,
  seq       INTEGER NOT NULL,
  state     INTEGER NOT NULL,
  channel   TEXT NOT NULL,
  reason    TEXT NOT NULL,
  time_ms   INTEGER NOT NULL,
  jws       TEXT NOT NULL,
  sha256    TEXT NOT NULL,  -- lowercase hex SHA-256 of jws
  UNIQUE (letter_id, seq)
);
CREATE INDEX IF NOT EXISTS receipts_by_tenant
  ON receipts (tenant, cursor);

-- Channels: timers, provider receipts (#3).
-- Timers scanned by the worker role (print if unread, scheduled delivery).
CREATE TABLE IF NOT EXISTS timers (
  letter_id TEXT NOT NULL REFERENCES letters (id),
  kind      TEXT NOT NULL,
  due_ms    INTEGER NOT NULL,
  PRIMARY KEY (letter_id, kind)
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due_ms);
-- Every provider event, kept as evidence, once per (provider, event_id).
-- No foreign key: an event about an unknown letter is kept too.
CREATE TABLE IF NOT EXISTS provider_events (
  provider    TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  letter_id   TEXT NOT NULL,
  channel     TEXT NOT NULL,
  kind        TEXT NOT NULL,
  time_ms     INTEGER NOT NULL,
  reason      TEXT NOT NULL,
  evidence    BLOB NOT NULL,
  received_ms INTEGER NOT NULL,
  applied     INTEGER NOT NULL,
  PRIMARY KEY (provider, event_id)
);
CREATE INDEX IF NOT EXISTS provider_events_by_letter
  ON provider_events (letter_id, received_ms);

-- Receipt log (#4). One RFC 9162 Merkle tree over all receipts; leaf i is
-- the compact JWS of the receipt with cursor `cursor`. receipt_log_nodes
-- holds the hash of every complete subtree: level 0 the leaf hashes, level
-- l index i the subtree over leaves [i * 2^l, (i + 1) * 2^l). Any proof
-- needs O(log n) of them.
CREATE TABLE IF NOT EXISTS receipt_log_leaves (
  leaf_index INTEGER PRIMARY KEY,  -- from 0, no gaps
  cursor     INTEGER NOT NULL UNIQUE REFERENCES receipts (cursor)
);
CREATE TABLE IF NOT EXISTS receipt_log_nodes (
  level INTEGER NOT NULL,
  idx   INTEGER NOT NULL,
  hash  BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipt_log_heads (
  tree_size INTEGER PRIMARY KEY,
  root_hash BLOB NOT NULL,
  time_ms   INTEGER NOT NULL,
  jws       TEXT NOT NULL
);
-- Letters whose document content was deleted by retention.
CREATE TABLE IF NOT EXISTS purged_letters (
  letter_id TEXT PRIMARY KEY NOT NULL REFERENCES letters (id),
  purged_ms INTEGER NOT NULL
);

-- Where the workers are in each provider's event feed.
CREATE TABLE IF NOT EXISTS feed_positions (
  feed       TEXT PRIMARY KEY NOT NULL,
  position   TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);

-- Operations (#5).
-- Failed attempts, for the operators' timeline. stage as in WorkItem.
CREATE TABLE IF NOT EXISTS failed_attempts (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  letter_id TEXT NOT NULL REFERENCES letters (id),
  stage     TEXT NOT NULL,
  attempt   INTEGER NOT NULL,
  time_ms   INTEGER NOT NULL,
  error     TEXT NOT NULL,
  parked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS failed_attempts_by_letter
  ON failed_attempts (letter_id, id);
-- Channels an operator paused; every worker process reads this.
CREATE TABLE IF NOT EXISTS paused_channels (
  channel   TEXT PRIMARY KEY NOT NULL,
  paused_by TEXT NOT NULL,
  since_ms  INTEGER NOT NULL
);
-- Provider figures flushed by each worker process every few seconds.
CREATE TABLE IF NOT EXISTS provider_stats (
  process_id      TEXT NOT NULL,
  channel         TEXT NOT NULL,
  window_start_ms INTEGER NOT NULL,
  window_end_ms   INTEGER NOT NULL,
  sends           INTEGER NOT NULL,
  errors          INTEGER NOT NULL,
  latency_sum_us  INTEGER NOT NULL,
  latency_max_us  INTEGER NOT NULL,
  last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS provider_stats_by_end
  ON provider_stats (window_end_ms);
)sql";

// Columns added to version-1 tables after they shipped: each is added to a
// database that lacks it, so an older file opens with this build. Tables
// added later need no entry here (kSchema creates them when missing).
struct ColumnAddition {
  const char* table;
  const char* column;
  const char* declaration;  // As in ALTER TABLE ... ADD COLUMN.
};
const std::vector<ColumnAddition>& ColumnAdditions() {
  static const auto* additions = new std::vector<ColumnAddition>{
      // Channels (#3).
      // Receipt log (#4).
      // Operations (#5).
  };
  return *additions;
}

constexpr char kLetterColumns[] =
    "id, tenant, client_reference, state, channel, reason, spec, "
    "create_time_ms, update_time_ms";
constexpr char kReceiptSelect[] =
    "SELECT r.cursor, r.letter_id, r.tenant, l.client_reference, r.seq, "
    "r.state, r.channel, r.reason, r.time_ms, r.jws, r.sha256, "
    "(SELECT g.leaf_index FROM receipt_log_leaves g WHERE g.cursor = r.cursor) "
    "FROM receipts r JOIN letters l ON l.id = r.letter_id ";

absl::Status LetterNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("letter ", id, " not found"));
}

absl::Status EnsureColumn(Connection& c, const ColumnAddition& add) {
  ASSIGN_OR_RETURN(Statement st,
                   c.Prepare(absl::StrCat("SELECT 1 FROM pragma_table_info('",
                                          add.table, "') WHERE name = ?")));
  st.BindText(1, add.column);
  ASSIGN_OR_RETURN(bool present, st.Step());
  if (present) return absl::OkStatus();
  return c.Exec(
      absl::StrCat("ALTER TABLE ", add.table, " ADD COLUMN ", add.declaration)
          .c_str());
}

absl::Status CreateSchema(Connection& c, const std::string& path) {
  int64_t version = 0;
  {
    ASSIGN_OR_RETURN(Statement st, c.Prepare("PRAGMA user_version"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) version = st.ColumnInt64(0);
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", path, ": schema version ", version,
                     " is newer than this build's ", kSchemaVersion));
  }
  absl::Status s = c.Exec("BEGIN IMMEDIATE");
  if (s.ok()) s = c.Exec(kSchema);
  for (const ColumnAddition& add : ColumnAdditions()) {
    if (s.ok()) s = EnsureColumn(c, add);
  }
  if (s.ok()) {
    s = c.Exec(absl::StrCat("PRAGMA user_version = ", kSchemaVersion).c_str());
  }
  if (s.ok()) s = c.Exec("COMMIT");
  if (!s.ok()) c.RollbackQuietly();
  return s;
}

absl::StatusOr<std::vector<v1::DocumentInfo>> ReadDocumentInfos(
    Connection& c, const std::string& letter_id) {
  ASSIGN_OR_RETURN(Statement st,
                   c.Prepare("SELECT file_name, media_type, size, sha256 "
                             "FROM documents WHERE letter_id = ? "
                             "ORDER BY idx"));
  st.BindText(1, letter_id);
  std::vector<v1::DocumentInfo> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    v1::DocumentInfo& d = out.emplace_back();
    d.set_file_name(st.ColumnText(0));
    d.set_media_type(st.ColumnText(1));
    d.set_size_bytes(st.ColumnInt64(2));
    d.set_sha256(st.ColumnText(3));
  }
  return out;
}

// `row` holds kLetterColumns.
absl::StatusOr<LetterRecord> LetterFromRow(Connection& c,
                                           const Statement& row) {
  LetterRecord r;
  r.id = row.ColumnText(0);
  r.tenant = row.ColumnText(1);
  r.client_reference = row.ColumnText(2);
  r.state = static_cast<State>(row.ColumnInt64(3));
  r.channel = row.ColumnText(4);
  r.reason = row.ColumnText(5);
  if (!r.spec.ParseFromString(row.ColumnBlob(6))) {
    return absl::DataLossError(
        absl::StrCat("letter ", r.id, ": stored spec does not parse"));
  }
  r.create_time_ms = row.ColumnInt64(7);
  r.update_time_ms = row.ColumnInt64(8);
  ASSIGN_OR_RETURN(r.documents, ReadDocumentInfos(c, r.id));
  return r;
}

absl::StatusOr<LetterRecord> ReadLetter(Connection& c, const std::string& id) {
  ASSIGN_OR_RETURN(Statement st,
                   c.Prepare(absl::StrCat("SELECT ", kLetterColumns,
                                          " FROM letters WHERE id = ?")));
  st.BindText(1, id);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return LetterNotFound(id);
  return LetterFromRow(c, st);
}

// `row` holds the columns of kReceiptSelect.
ReceiptRecord ReceiptFromRow(const Statement& row) {
  ReceiptRecord r;
  r.cursor = row.ColumnInt64(0);
  r.letter_id = row.ColumnText(1);
  r.tenant = row.ColumnText(2);
  r.client_reference = row.ColumnText(3);
  r.sequence = row.ColumnInt64(4);
  r.state = static_cast<State>(row.ColumnInt64(5));
  r.channel = row.ColumnText(6);
  r.reason = row.ColumnText(7);
  r.time_ms = row.ColumnInt64(8);
  r.jws = row.ColumnText(9);
  r.sha256_hex = row.ColumnText(10);
  r.leaf_index = row.ColumnIsNull(11) ? -1 : row.ColumnInt64(11);
  return r;
}

absl::StatusOr<std::vector<ReceiptRecord>> CollectReceipts(Statement& st) {
  std::vector<ReceiptRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReceiptFromRow(st));
  }
  return out;
}

// Messages always belong to the letter whose transaction writes them.
absl::Status InsertOutbox(Connection& c, const OutboxMessage& m,
                          const std::string& letter_id, int64_t now_ms) {
  ASSIGN_OR_RETURN(
      Statement st,
      c.Prepare("INSERT INTO outbox (letter_id, exchange, routing_key, body, "
                "state_when_sent, created_ms) VALUES (?, ?, ?, ?, ?, ?)"));
  st.BindText(1, letter_id);
  st.BindText(2, m.exchange);
  st.BindText(3, m.routing_key);
  st.BindBlob(4, m.body);
  if (m.state_when_sent.has_value()) {
    st.BindInt64(5, *m.state_when_sent);
  } else {
    st.BindNull(5);
  }
  st.BindInt64(6, now_ms);
  return st.Run();
}

// The page token is opaque to callers: base64url of "<create_ms>:<id>" of
// the last letter of the previous page.
std::string MakePageToken(const LetterRecord& last) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(last.create_time_ms, ":", last.id));
}

absl::StatusOr<std::pair<int64_t, std::string>> ParsePageToken(
    const std::string& token) {
  std::string text;
  int64_t ms = 0;
  size_t colon = std::string::npos;
  if (absl::WebSafeBase64Unescape(token, &text)) colon = text.find(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(text).substr(0, colon), &ms)) {
    return absl::InvalidArgumentError("page_token is not valid");
  }
  return std::make_pair(ms, text.substr(colon + 1));
}

// ---- Receipt log helpers (#4) ----

int64_t LastInsertRowId(Connection& c) {
  auto st = c.Prepare("SELECT last_insert_rowid()");
  if (!st.ok()) return 0;
  auto row = st->Step();
  return row.ok() && *row ? st->ColumnInt64(0) : 0;
}

absl::StatusOr<int64_t> LogSizeIn(Connection& c) {
  // Exactly this shape, so that SQLite answers from the end of the primary
  // key instead of scanning the table (COALESCE around MAX defeats that).
  ASSIGN_OR_RETURN(Statement st,
                   c.Prepare("SELECT MAX(leaf_index) FROM receipt_log_leaves"));
  ASSIGN_OR_RETURN(bool row, st.Step());
  return row && !st.ColumnIsNull(0) ? st.ColumnInt64(0) + 1 : 0;
}

absl::StatusOr<std::string> NodeIn(Connection& c, int level, int64_t idx) {
  ASSIGN_OR_RETURN(Statement st, c.Prepare("SELECT hash FROM receipt_log_nodes "
                                           "WHERE level = ? AND idx = ?"));
  st.BindInt64(1, level);
  st.BindInt64(2, idx);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    return absl::DataLossError(absl::StrCat("receipt log: subtree at level ",
                                            level, " index ", idx, " missing"));
  }
  return st.ColumnBlob(0);
}

absl::Status PutNode(Connection& c, int level, int64_t idx,
                     const std::string& hash) {
  ASSIGN_OR_RETURN(Statement st,
                   c.Prepare("INSERT INTO receipt_log_nodes (level, idx, hash) "
                             "VALUES (?, ?, ?)"));
  st.BindInt64(1, level);
  st.BindInt64(2, idx);
  st.BindBlob(3, hash);
  return st.Run();
}

// Appends one leaf and every complete subtree it closes: amortised two
// node writes per leaf.
absl::Status AppendLogLeaf(Connection& c, int64_t cursor,
                           const std::string& jws) {
  ASSIGN_OR_RETURN(int64_t index, LogSizeIn(c));
  {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("INSERT INTO receipt_log_leaves "
                               "(leaf_index, cursor) VALUES (?, ?)"));
    st.BindInt64(1, index);
    st.BindInt64(2, cursor);
    RETURN_IF_ERROR(st.Run());
  }
  std::string hash = receipts::merkle::LeafHash(jws);
  RETURN_IF_ERROR(PutNode(c, 0, index, hash));
  int level = 0;
  int64_t j = index;
  while ((j & 1) == 1) {
    ASSIGN_OR_RETURN(std::string left, NodeIn(c, level, j - 1));
    hash = receipts::merkle::NodeHash(left, hash);
    ++level;
    j >>= 1;
    RETURN_IF_ERROR(PutNode(c, level, j, hash));
  }
  return absl::OkStatus();
}

// Stored subtrees of a read or write transaction's snapshot.
class StoredSubtrees final : public receipts::merkle::SubtreeSource {
 public:
  explicit StoredSubtrees(Connection& c) : c_(c) {}
  absl::StatusOr<std::string> Perfect(int level, int64_t index) override {
    return NodeIn(c_, level, index);
  }

 private:
  Connection& c_;
};

constexpr char kHeadColumns[] = "tree_size, root_hash, time_ms, jws";

TreeHead HeadFromRow(const Statement& st) {
  TreeHead h;
  h.tree_size = st.ColumnInt64(0);
  h.root_hash = st.ColumnBlob(1);
  h.time_ms = st.ColumnInt64(2);
  h.jws = st.ColumnText(3);
  return h;
}

absl::StatusOr<std::optional<TreeHead>> LatestHeadIn(Connection& c) {
  ASSIGN_OR_RETURN(Statement st,
                   c.Prepare(absl::StrCat("SELECT ", kHeadColumns,
                                          " FROM receipt_log_heads "
                                          "ORDER BY tree_size DESC LIMIT 1")));
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<TreeHead>();
  return std::optional<TreeHead>(HeadFromRow(st));
}

class SqliteStore final : public Store {
 public:
  SqliteStore(const SqliteStoreOptions& options,
              std::unique_ptr<Connection> writer)
      : path_(options.path),
        signer_(options.signer),
        clock_(options.clock != nullptr ? options.clock : RealClock()),
        busy_timeout_ms_(options.busy_timeout_ms),
        max_readers_(options.max_readers > 0 ? options.max_readers : 8),
        writer_(std::move(writer)) {}

  absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>> CreateLetters(
      std::vector<NewLetter> letters) override;
  absl::StatusOr<LetterRecord> GetLetter(const std::string& id,
                                         const std::string& tenant) override;
  absl::StatusOr<LetterPage> ListLetters(const ListFilter& filter) override;
  absl::StatusOr<std::vector<Document>> GetDocuments(
      const std::string& letter_id) override;
  absl::StatusOr<LetterRecord> ApplyTransition(const std::string& letter_id,
                                               const Transition& t) override;
  absl::Status ScheduleRetry(const std::string& letter_id,
                             const std::vector<State>& expected, int attempt,
                             const std::string& reason,
                             const OutboxMessage& retry) override;
  absl::Status ClaimHandOff(const std::string& letter_id,
                            const std::string& channel) override;
  absl::StatusOr<std::vector<OutboxMessage>> PendingOutbox(int limit) override;
  absl::Status MarkOutboxSent(const std::vector<int64_t>& ids) override;
  // Until the engine split: one relay per database file.
  absl::StatusOr<std::vector<OutboxMessage>> ClaimOutbox(const std::string&,
                                                         int limit,
                                                         int64_t) override {
    return PendingOutbox(limit);
  }
  absl::StatusOr<std::vector<TimerRecord>> ClaimDueTimers(const std::string&,
                                                          int64_t now_ms,
                                                          int limit,
                                                          int64_t) override {
    return DueTimers(now_ms, limit);
  }
  absl::StatusOr<int64_t> SequenceReceipts() override { return 0; }
  absl::StatusOr<int64_t> CountPendingOutbox() override;
  absl::StatusOr<std::vector<ReceiptRecord>> GetReceipts(
      const std::string& letter_id, const std::string& tenant) override;
  absl::StatusOr<std::vector<ReceiptRecord>> ReceiptsAfter(
      int64_t after, const std::string& tenant, int limit) override;
  absl::StatusOr<int64_t> LastReceiptCursor() override;
  absl::StatusOr<std::vector<std::pair<State, int64_t>>> CountByState()
      override;

  // Channels, timers, provider receipts (#3).
  absl::StatusOr<ProviderEventOutcome> ApplyProviderEvent(
      const ProviderEventRecord& event,
      const std::vector<Transition>& candidates) override;
  absl::StatusOr<std::vector<ProviderEventRecord>> GetProviderEvents(
      const std::string& letter_id) override;
  absl::Status SetTimer(const TimerRecord& timer,
                        const std::vector<State>& expected) override;
  absl::StatusOr<std::vector<TimerRecord>> DueTimers(int64_t now_ms,
                                                     int limit) override;
  absl::StatusOr<std::vector<TimerRecord>> GetTimers(
      const std::string& letter_id) override;
  absl::StatusOr<bool> FireTimer(
      const TimerRecord& timer, const std::vector<State>& when_in,
      const std::optional<Transition>& transition,
      const std::vector<OutboxMessage>& outbox) override;
  absl::StatusOr<std::vector<StuckLetter>> StuckLetters(
      int64_t updated_before_ms, int limit) override;
  absl::StatusOr<bool> RequeueStuck(const StuckLetter& letter,
                                    const OutboxMessage& work) override;
  absl::StatusOr<std::string> FeedPosition(const std::string& feed) override;
  absl::StatusOr<bool> MoveFeedPosition(const std::string& feed,
                                        const std::string& from,
                                        const std::string& to) override;
  // The timer part of a transition, inside its transaction.
  absl::Status TimersInTxn(Connection& c, const std::string& letter_id,
                           const Transition& t);
  // A whole transition (with its steps and timers) inside a transaction.
  absl::Status TransitionWithStepsInTxn(Connection& c,
                                        const std::string& letter_id,
                                        const Transition& t);
  // The letter's state, or NOT_FOUND.
  absl::StatusOr<State> StateInTxn(Connection& c, const std::string& letter_id);

  // Receipt log (#4).
  absl::StatusOr<int64_t> ReceiptLogSize() override;
  absl::StatusOr<TreeHead> LatestTreeHead() override;
  absl::StatusOr<TreeHead> GetTreeHead(int64_t tree_size) override;
  absl::StatusOr<std::vector<TreeHead>> ListTreeHeads(int64_t from_size,
                                                      int64_t to_size) override;
  absl::StatusOr<TreeHead> IssueTreeHead() override;
  absl::StatusOr<std::vector<std::string>> InclusionProof(
      int64_t leaf_index, int64_t tree_size) override;
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(
      int64_t first, int64_t second) override;
  absl::StatusOr<ReceiptRecord> ReceiptAtLeaf(int64_t leaf_index) override;
  absl::StatusOr<std::vector<ReceiptRecord>> LoggedReceipts(
      const ReceiptLogQuery& q) override;
  absl::StatusOr<LoggedReceiptCount> CountLoggedReceipts(
      const ReceiptLogQuery& q, int64_t tree_size) override;
  absl::StatusOr<int64_t> PurgeDocuments(int64_t final_before_ms,
                                         int limit) override;
  absl::StatusOr<int64_t> DocumentsPurgedAt(
      const std::string& letter_id) override;
  // Appends the receipts a build without the log wrote; run once at open.
  absl::Status SequenceBacklog();

  // Operations (#5).
  absl::StatusOr<std::vector<LetterGroupCount>> CountLetterGroups() override;
  absl::StatusOr<OutboxLag> GetOutboxLag() override;
  absl::StatusOr<LetterPage> ListLettersForOps(
      const OpsListFilter& filter) override;
  absl::StatusOr<std::vector<FailedAttemptRecord>> GetFailedAttempts(
      const std::string& letter_id) override;
  absl::Status SetChannelPaused(const std::string& channel, bool paused,
                                const std::string& by) override;
  absl::StatusOr<std::vector<PausedChannelRecord>> PausedChannels() override;
  absl::Status WriteProviderStats(
      const std::vector<ProviderStatsRecord>& rows) override;
  absl::StatusOr<std::vector<ProviderStatsRecord>> ProviderStatsSince(
      int64_t since_ms) override;
  // Records a failed attempt at the letter's current stage, inside the
  // caller's transaction. `attempt` 0: the letter's stored attempt + 1.
  absl::Status RecordFailedAttemptInTxn(Connection& c,
                                        const std::string& letter_id,
                                        int attempt, const std::string& error,
                                        bool parked, int64_t now_ms);
  absl::StatusOr<TransitionTotals> CountTransitions() override;
  absl::StatusOr<std::vector<TransitionNote>> TransitionsAfter(
      int64_t after, int limit) override;

 private:
  // One unit of a group commit, run in its own savepoint on the writer
  // connection. A non-OK status rolls back only this op, unless the
  // connection broke (then the whole group fails).
  struct WriteOp {
    std::function<absl::Status(Connection&)> run;
    absl::Status status;  // The op's own outcome, once committed.
  };
  // One caller's ops, queued for the next group commit.
  struct WriteRequest {
    std::vector<WriteOp>* ops = nullptr;
    bool done = false;
    absl::Status status;  // Of the commit as a whole.
  };

  // Runs `ops` in the next group commit and waits for it. Non-OK: nothing of
  // `ops` was committed. OK: each op's status says how it went.
  absl::Status Write(std::vector<WriteOp>* ops);
  absl::Status RunGroup(const std::vector<WriteRequest*>& group);

  // Runs `fn` in a read transaction (one snapshot) on a pooled reader.
  template <typename Fn>
  std::invoke_result_t<Fn, Connection&> Read(Fn&& fn);
  absl::StatusOr<std::unique_ptr<Connection>> AcquireReader();
  void ReleaseReader(std::unique_ptr<Connection> conn);

  // The parts of write ops; called on the writer connection inside the
  // group's transaction.
  absl::Status CreateOne(Connection& c, const NewLetter& l,
                         const std::string& spec_bytes, CreateResult* out);
  absl::Status AppendReceipt(Connection& c, const std::string& letter_id,
                             const std::string& tenant, State state,
                             const std::string& channel,
                             const std::string& reason, int64_t now_ms,
                             const std::string& provider = "",
                             const std::string& provider_receipt = "");
  absl::Status TransitionInTxn(Connection& c, const std::string& letter_id,
                               const std::vector<State>& from, State to,
                               const std::string& channel,
                               const std::string& reason,
                               const std::vector<OutboxMessage>& outbox,
                               bool unless_handing_off,
                               const std::string& provider = "",
                               const std::string& provider_receipt = "");
  absl::Status MarkSentInTxn(Connection& c, const std::vector<int64_t>& ids);

  const std::string path_;
  receipts::ReceiptSigner* const signer_;
  Clock* const clock_;
  const int busy_timeout_ms_;
  const int max_readers_;

  // Writers wait here; the one at the front commits for everyone queued.
  absl::Mutex queue_mu_;
  std::deque<WriteRequest*> queue_ ABSL_GUARDED_BY(queue_mu_);

  // Held by the committing writer. Only the front of `queue_` takes it, so
  // it is never contended; it documents and checks who owns the connection.
  absl::Mutex writer_mu_;
  std::unique_ptr<Connection> writer_ ABSL_GUARDED_BY(writer_mu_);

  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_
      ABSL_GUARDED_BY(pool_mu_);
  int open_readers_ ABSL_GUARDED_BY(pool_mu_) = 0;
};

// ---- Write path ----

absl::Status SqliteStore::Write(std::vector<WriteOp>* ops) {
  WriteRequest req;
  req.ops = ops;
  queue_mu_.Lock();
  queue_.push_back(&req);
  auto my_turn = [this, &req]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
    return req.done || queue_.front() == &req;
  };
  queue_mu_.Await(absl::Condition(&my_turn));
  if (req.done) {
    // An earlier writer committed this request with its own.
    queue_mu_.Unlock();
    return req.status;
  }
  // This request leads: take everything waiting now, up to the bound.
  std::vector<WriteRequest*> group;
  size_t n = 0;
  for (WriteRequest* r : queue_) {
    if (!group.empty() && n + r->ops->size() > kMaxOpsPerCommit) break;
    group.push_back(r);
    n += r->ops->size();
  }
  queue_mu_.Unlock();

  absl::Status s = RunGroup(group);

  queue_mu_.Lock();
  // Only the leader pops, so the group is still at the front.
  for (WriteRequest* r : group) {
    queue_.pop_front();
    r->status = s;
    r->done = true;
  }
  // Unlock re-evaluates the waiters' conditions: the followers return and
  // the next request, if any, leads.
  queue_mu_.Unlock();
  return s;
}

absl::Status SqliteStore::RunGroup(const std::vector<WriteRequest*>& group) {
  absl::MutexLock lock(&writer_mu_);
  Connection& c = *writer_;
  c.clear_broken();
  absl::Status s = c.Exec("BEGIN IMMEDIATE");
  for (size_t i = 0; s.ok() && i < group.size(); ++i) {
    for (WriteOp& op : *group[i]->ops) {
      s = c.Exec("SAVEPOINT op");
      if (!s.ok()) break;
      op.status = op.run(c);
      if (c.broken()) {
        s = op.status.ok() ? absl::UnavailableError("store write failed")
                           : op.status;
      } else if (op.status.ok()) {
        s = c.Exec("RELEASE op");
      } else {
        s = c.Exec("ROLLBACK TO op; RELEASE op");
      }
      if (!s.ok()) break;
    }
  }
  if (s.ok()) s = c.Exec("COMMIT");
  if (!s.ok()) c.RollbackQuietly();
  return s;
}

absl::Status SqliteStore::AppendReceipt(
    Connection& c, const std::string& letter_id, const std::string& tenant,
    State state, const std::string& channel, const std::string& reason,
    int64_t now_ms, const std::string& provider,
    const std::string& provider_receipt) {
  receipts::ReceiptContent rc;
  rc.provider = provider;
  rc.provider_receipt = provider_receipt;
  {
    ASSIGN_OR_RETURN(Statement docs,
                     c.Prepare("SELECT file_name, sha256, size FROM documents "
                               "WHERE letter_id = ? ORDER BY idx"));
    docs.BindText(1, letter_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, docs.Step());
      if (!row) break;
      rc.documents.push_back(receipts::DocumentDigest{
          docs.ColumnText(0), docs.ColumnText(1), docs.ColumnInt64(2)});
    }
  }
  rc.letter_id = letter_id;
  rc.tenant = tenant;
  rc.state = state;
  rc.channel = channel;
  rc.reason = reason;
  rc.time_ms = now_ms;
  rc.sequence = 1;
  {
    ASSIGN_OR_RETURN(
        Statement last,
        c.Prepare("SELECT seq, sha256 FROM receipts "
                  "WHERE letter_id = ? ORDER BY seq DESC LIMIT 1"));
    last.BindText(1, letter_id);
    ASSIGN_OR_RETURN(bool row, last.Step());
    if (row) {
      rc.sequence = last.ColumnInt64(0) + 1;
      rc.previous_sha256_hex = last.ColumnText(1);
    }
  }
  // Signed inside the transaction: the chain of hashes cannot fork, because
  // the writer is the only one appending.
  ASSIGN_OR_RETURN(std::string jws, signer_->Sign(rc));
  ASSIGN_OR_RETURN(
      Statement st,
      c.Prepare("INSERT INTO receipts (letter_id, tenant, seq, state, "
                "channel, reason, time_ms, jws, sha256) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st.BindText(1, letter_id);
  st.BindText(2, tenant);
  st.BindInt64(3, rc.sequence);
  st.BindInt64(4, state);
  st.BindText(5, channel);
  st.BindText(6, reason);
  st.BindInt64(7, now_ms);
  st.BindText(8, jws);
  st.BindText(9, Sha256Hex(jws));
  RETURN_IF_ERROR(st.Run());
  // In the same transaction: the log's order is the commit order.
  return AppendLogLeaf(c, LastInsertRowId(c), jws);
}

absl::Status SqliteStore::CreateOne(Connection& c, const NewLetter& l,
                                    const std::string& spec_bytes,
                                    CreateResult* out) {
  {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("SELECT id, request_digest FROM letters "
                               "WHERE tenant = ? AND client_reference = ?"));
    st.BindText(1, l.tenant);
    st.BindText(2, l.client_reference);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) {
      std::string id = st.ColumnText(0);
      if (st.ColumnText(1) != l.request_digest) {
        return absl::AlreadyExistsError(absl::StrCat(
            "client_reference \"", l.client_reference,
            "\" is already used by letter ", id, " with a different request"));
      }
      ASSIGN_OR_RETURN(out->letter, ReadLetter(c, id));
      out->created = false;
      return absl::OkStatus();
    }
  }
  const int64_t now = clock_->NowMillis();
  {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("INSERT INTO letters (id, tenant, client_reference, "
                  "request_digest, state, spec, create_time_ms, "
                  "update_time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    st.BindText(1, l.id);
    st.BindText(2, l.tenant);
    st.BindText(3, l.client_reference);
    st.BindText(4, l.request_digest);
    st.BindInt64(5, Letter::RECEIVED);
    st.BindBlob(6, spec_bytes);
    st.BindInt64(7, now);
    st.BindInt64(8, now);
    absl::Status s = st.Run();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(
          absl::StrCat("letter id ", l.id, " already exists"));
    }
    RETURN_IF_ERROR(s);
  }
  out->letter.documents.clear();
  for (size_t i = 0; i < l.documents.size(); ++i) {
    const Document& d = l.documents[i];
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("INSERT INTO documents (letter_id, idx, file_name, "
                  "media_type, sha256, size, content) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    st.BindText(1, l.id);
    st.BindInt64(2, static_cast<int64_t>(i));
    st.BindText(3, d.file_name);
    st.BindText(4, d.media_type);
    st.BindText(5, d.sha256_hex);
    st.BindInt64(6, static_cast<int64_t>(d.content.size()));
    // The caller blocks until the commit, so the content outlives the
    // statement; no copy of what may be megabytes.
    st.BindBlobNoCopy(7, d.content);
    RETURN_IF_ERROR(st.Run());
    v1::DocumentInfo& info = out->letter.documents.emplace_back();
    info.set_file_name(d.file_name);
    info.set_media_type(d.media_type);
    info.set_size_bytes(static_cast<int64_t>(d.content.size()));
    info.set_sha256(d.sha256_hex);
  }
  RETURN_IF_ERROR(
      AppendReceipt(c, l.id, l.tenant, Letter::RECEIVED, "", "", now));
  RETURN_IF_ERROR(InsertOutbox(c, l.first_work, l.id, now));

  out->created = true;
  out->letter.id = l.id;
  out->letter.tenant = l.tenant;
  out->letter.client_reference = l.client_reference;
  out->letter.state = Letter::RECEIVED;
  out->letter.channel.clear();
  out->letter.reason.clear();
  out->letter.spec = l.spec;
  out->letter.create_time_ms = now;
  out->letter.update_time_ms = now;
  return absl::OkStatus();
}

absl::Status SqliteStore::TransitionInTxn(
    Connection& c, const std::string& letter_id, const std::vector<State>& from,
    State to, const std::string& channel, const std::string& reason,
    const std::vector<OutboxMessage>& outbox, bool unless_handing_off,
    const std::string& provider, const std::string& provider_receipt) {
  std::string tenant;
  std::string new_channel = channel;
  {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT tenant, state, channel, handing_off FROM letters "
                  "WHERE id = ?"));
    st.BindText(1, letter_id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return LetterNotFound(letter_id);
    tenant = st.ColumnText(0);
    auto current = static_cast<State>(st.ColumnInt64(1));
    if (std::find(from.begin(), from.end(), current) == from.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "letter ", letter_id, " is ", Letter::State_Name(current)));
    }
    if (unless_handing_off && st.ColumnInt64(3) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "letter ", letter_id, " is being handed to the provider"));
    }
    if (new_channel.empty()) new_channel = st.ColumnText(2);
  }
  if (unless_handing_off) {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("SELECT 1 FROM receipts WHERE letter_id = ? "
                               "AND state IN (?, ?) LIMIT 1"));
    st.BindText(1, letter_id);
    st.BindInt64(2, Letter::SENT_DIGITAL);
    st.BindInt64(3, Letter::SENT_PRINT);
    ASSIGN_OR_RETURN(bool handed_off, st.Step());
    if (handed_off) {
      return absl::FailedPreconditionError(
          absl::StrCat("letter ", letter_id, " has been handed to a provider"));
    }
  }
  const int64_t now = clock_->NowMillis();
  RETURN_IF_ERROR(AppendReceipt(c, letter_id, tenant, to, new_channel, reason,
                                now, provider, provider_receipt));
  {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("UPDATE letters SET state = ?, channel = ?, "
                               "reason = ?, update_time_ms = ?, attempt = 0, "
                               "handing_off = 0 WHERE id = ?"));
    st.BindInt64(1, to);
    st.BindText(2, new_channel);
    st.BindText(3, reason);
    st.BindInt64(4, now);
    st.BindText(5, letter_id);
    RETURN_IF_ERROR(st.Run());
  }
  for (const OutboxMessage& m : outbox) {
    RETURN_IF_ERROR(InsertOutbox(c, m, letter_id, now));
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::MarkSentInTxn(Connection& c,
                                        const std::vector<int64_t>& ids) {
  const int64_t now = clock_->NowMillis();
  for (int64_t id : ids) {
    std::string letter_id;
    std::optional<State> next;
    {
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare("SELECT letter_id, state_when_sent FROM "
                                 "outbox WHERE id = ? AND sent_at_ms IS NULL"));
      st.BindInt64(1, id);
      ASSIGN_OR_RETURN(bool row, st.Step());
      // Unknown or already marked: a repeated confirm changes nothing.
      if (!row) continue;
      letter_id = st.ColumnText(0);
      if (!st.ColumnIsNull(1)) next = static_cast<State>(st.ColumnInt64(1));
    }
    {
      ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("UPDATE outbox SET sent_at_ms = ? WHERE id = ?"));
      st.BindInt64(1, now);
      st.BindInt64(2, id);
      RETURN_IF_ERROR(st.Run());
    }
    if (!next.has_value()) continue;
    absl::Status s = TransitionInTxn(c, letter_id, {Letter::RECEIVED}, *next,
                                     "", "", {}, false);
    // Already past RECEIVED (cancelled, or a worker got there first): the
    // confirm has nothing left to move.
    if (absl::IsFailedPrecondition(s)) continue;
    RETURN_IF_ERROR(s);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>>
SqliteStore::CreateLetters(std::vector<NewLetter> letters) {
  const size_t n = letters.size();
  std::vector<absl::StatusOr<CreateResult>> results(
      n, absl::UnknownError("not written"));
  std::vector<std::string> specs(n);
  std::vector<CreateResult> created(n);
  std::vector<WriteOp> ops;
  std::vector<size_t> op_letter;
  ops.reserve(n);
  // Validation, hashing and serialisation happen here, in the caller's
  // thread, to keep the shared commit short.
  for (size_t i = 0; i < n; ++i) {
    NewLetter& l = letters[i];
    if (l.id.empty() || l.tenant.empty() || l.client_reference.empty()) {
      results[i] = absl::InvalidArgumentError(
          "letter id, tenant and client_reference are required");
      continue;
    }
    for (auto& d : *l.spec.mutable_documents()) d.clear_content();
    for (Document& d : l.documents) {
      if (d.sha256_hex.empty()) d.sha256_hex = Sha256Hex(d.content);
    }
    specs[i] = l.spec.SerializeAsString();
    ops.push_back(WriteOp{[this, &letters, &specs, &created, i](Connection& c) {
      return CreateOne(c, letters[i], specs[i], &created[i]);
    }});
    op_letter.push_back(i);
  }
  if (!ops.empty()) RETURN_IF_ERROR(Write(&ops));
  for (size_t k = 0; k < ops.size(); ++k) {
    size_t i = op_letter[k];
    if (ops[k].status.ok()) {
      results[i] = std::move(created[i]);
    } else {
      results[i] = ops[k].status;
    }
  }
  return results;
}

absl::StatusOr<LetterRecord> SqliteStore::ApplyTransition(
    const std::string& letter_id, const Transition& t) {
  if (t.to == Letter::STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError("transition has no target state");
  }
  LetterRecord record;
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    if (t.to == Letter::PARKED) {
      // The last failure, at the stage it parked at (read before the move).
      RETURN_IF_ERROR(RecordFailedAttemptInTxn(c, letter_id, 0, t.reason, true,
                                               clock_->NowMillis()));
    }
    RETURN_IF_ERROR(TransitionWithStepsInTxn(c, letter_id, t));
    ASSIGN_OR_RETURN(record, ReadLetter(c, letter_id));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(Write(&ops));
  RETURN_IF_ERROR(ops[0].status);
  return record;
}

absl::Status SqliteStore::ScheduleRetry(const std::string& letter_id,
                                        const std::vector<State>& expected,
                                        int attempt, const std::string& reason,
                                        const OutboxMessage& retry) {
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    const int64_t now = clock_->NowMillis();
    {
      // Only once per attempt and only in the stage the failure was seen
      // in: a redelivered work item must not start a second retry chain.
      ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("SELECT state, attempt FROM letters WHERE id = ?"));
      st.BindText(1, letter_id);
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return LetterNotFound(letter_id);
      const auto state = static_cast<State>(st.ColumnInt64(0));
      if (std::find(expected.begin(), expected.end(), state) ==
              expected.end() ||
          st.ColumnInt64(1) >= attempt) {
        return absl::FailedPreconditionError(absl::StrCat(
            "letter ", letter_id, " is ", Letter::State_Name(state),
            "; attempt ", attempt, " moved on or was scheduled already"));
      }
    }
    {
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare("UPDATE letters SET reason = ?, "
                                 "update_time_ms = ?, attempt = ?, "
                                 "handing_off = 0 WHERE id = ?"));
      st.BindText(1, reason);
      st.BindInt64(2, now);
      st.BindInt64(3, attempt);
      st.BindText(4, letter_id);
      RETURN_IF_ERROR(st.Run());
    }
    RETURN_IF_ERROR(
        RecordFailedAttemptInTxn(c, letter_id, attempt, reason, false, now));
    return InsertOutbox(c, retry, letter_id, now);
  };
  RETURN_IF_ERROR(Write(&ops));
  return ops[0].status;
}

absl::Status SqliteStore::ClaimHandOff(const std::string& letter_id,
                                       const std::string& channel) {
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    {
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare("UPDATE letters SET handing_off = 1 "
                                 "WHERE id = ? AND state = ? AND channel = ?"));
      st.BindText(1, letter_id);
      st.BindInt64(2, Letter::ROUTED);
      st.BindText(3, channel);
      RETURN_IF_ERROR(st.Run());
    }
    if (c.Changes() == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("letter ", letter_id, " is not waiting for ", channel));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(Write(&ops));
  return ops[0].status;
}

absl::Status SqliteStore::MarkOutboxSent(const std::vector<int64_t>& ids) {
  if (ids.empty()) return absl::OkStatus();
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) { return MarkSentInTxn(c, ids); };
  RETURN_IF_ERROR(Write(&ops));
  return ops[0].status;
}

// ---- Read path ----

absl::StatusOr<std::unique_ptr<Connection>> SqliteStore::AcquireReader() {
  {
    absl::MutexLock lock(&pool_mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool_mu_) {
      return !idle_readers_.empty() || open_readers_ < max_readers_;
    };
    pool_mu_.Await(absl::Condition(&available));
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return c;
    }
    ++open_readers_;
  }
  // Opened outside the lock: opening touches the file system.
  absl::StatusOr<std::unique_ptr<Connection>> c =
      Connection::Open(path_, Connection::Mode::kReader, busy_timeout_ms_);
  if (!c.ok()) {
    absl::MutexLock lock(&pool_mu_);
    --open_readers_;
  }
  return c;
}

void SqliteStore::ReleaseReader(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&pool_mu_);
  if (conn->broken()) {
    // Closed rather than reused; the next reader opens a fresh one.
    --open_readers_;
    return;
  }
  idle_readers_.push_back(std::move(conn));
}

template <typename Fn>
std::invoke_result_t<Fn, Connection&> SqliteStore::Read(Fn&& fn) {
  using Result = std::invoke_result_t<Fn, Connection&>;
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, AcquireReader());
  Result result = [&]() -> Result {
    RETURN_IF_ERROR(conn->Exec("BEGIN"));
    return fn(*conn);
  }();
  // Ending a read transaction only drops its snapshot.
  if (conn->InTransaction() && !conn->Exec("COMMIT").ok()) {
    conn->RollbackQuietly();
  }
  ReleaseReader(std::move(conn));
  return result;
}

absl::StatusOr<LetterRecord> SqliteStore::GetLetter(const std::string& id,
                                                    const std::string& tenant) {
  return Read([&](Connection& c) -> absl::StatusOr<LetterRecord> {
    ASSIGN_OR_RETURN(LetterRecord r, ReadLetter(c, id));
    // Another tenant's letter looks exactly like a missing one.
    if (!tenant.empty() && r.tenant != tenant) return LetterNotFound(id);
    return r;
  });
}

absl::StatusOr<LetterPage> SqliteStore::ListLetters(const ListFilter& f) {
  OpsListFilter all;
  all.tenant = f.tenant;
  all.state = f.state;
  all.client_reference = f.client_reference;
  all.id_prefix = f.id_prefix;
  all.page_size = f.page_size;
  all.page_token = f.page_token;
  return ListLettersForOps(all);
}

absl::StatusOr<std::vector<Document>> SqliteStore::GetDocuments(
    const std::string& letter_id) {
  return Read([&](Connection& c) -> absl::StatusOr<std::vector<Document>> {
    {
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare("SELECT 1 FROM letters WHERE id = ?"));
      st.BindText(1, letter_id);
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return LetterNotFound(letter_id);
    }
    {
      // Retention (#4): say so rather than hand out empty documents.
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare("SELECT purged_ms FROM purged_letters "
                                 "WHERE letter_id = ?"));
      st.BindText(1, letter_id);
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (row) {
        return absl::FailedPreconditionError(
            absl::StrCat("documents of letter ", letter_id, " purged on ",
                         FormatRfc3339(st.ColumnInt64(0))));
      }
    }
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("SELECT file_name, media_type, sha256, content "
                               "FROM documents WHERE letter_id = ? "
                               "ORDER BY idx"));
    st.BindText(1, letter_id);
    std::vector<Document> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      Document& d = out.emplace_back();
      d.file_name = st.ColumnText(0);
      d.media_type = st.ColumnText(1);
      d.sha256_hex = st.ColumnText(2);
      d.content = st.ColumnBlob(3);
    }
    return out;
  });
}

absl::StatusOr<std::vector<OutboxMessage>> SqliteStore::PendingOutbox(
    int limit) {
  if (limit <= 0) return std::vector<OutboxMessage>();
  return Read([&](Connection& c) -> absl::StatusOr<std::vector<OutboxMessage>> {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT id, letter_id, exchange, routing_key, body, "
                  "state_when_sent FROM outbox WHERE sent_at_ms IS NULL "
                  "ORDER BY id LIMIT ?"));
    st.BindInt64(1, limit);
    std::vector<OutboxMessage> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      OutboxMessage& m = out.emplace_back();
      m.id = st.ColumnInt64(0);
      m.letter_id = st.ColumnText(1);
      m.exchange = st.ColumnText(2);
      m.routing_key = st.ColumnText(3);
      m.body = st.ColumnBlob(4);
      if (!st.ColumnIsNull(5)) {
        m.state_when_sent = static_cast<State>(st.ColumnInt64(5));
      }
    }
    return out;
  });
}

absl::StatusOr<int64_t> SqliteStore::CountPendingOutbox() {
  return Read([&](Connection& c) -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT COUNT(*) FROM outbox WHERE sent_at_ms IS NULL"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.ColumnInt64(0) : 0;
  });
}

absl::StatusOr<std::vector<ReceiptRecord>> SqliteStore::GetReceipts(
    const std::string& letter_id, const std::string& tenant) {
  return Read([&](Connection& c) -> absl::StatusOr<std::vector<ReceiptRecord>> {
    {
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare("SELECT tenant FROM letters WHERE id = ?"));
      st.BindText(1, letter_id);
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row || (!tenant.empty() && st.ColumnText(0) != tenant)) {
        return LetterNotFound(letter_id);
      }
    }
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare(absl::StrCat(kReceiptSelect,
                                            "WHERE r.letter_id = ? "
                                            "ORDER BY r.seq")));
    st.BindText(1, letter_id);
    return CollectReceipts(st);
  });
}

absl::StatusOr<std::vector<ReceiptRecord>> SqliteStore::ReceiptsAfter(
    int64_t after, const std::string& tenant, int limit) {
  if (limit <= 0) return std::vector<ReceiptRecord>();
  return Read([&](Connection& c) -> absl::StatusOr<std::vector<ReceiptRecord>> {
    if (tenant.empty()) {
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare(absl::StrCat(kReceiptSelect,
                                              "WHERE r.cursor > ? "
                                              "ORDER BY r.cursor LIMIT ?")));
      st.BindInt64(1, after);
      st.BindInt64(2, limit);
      return CollectReceipts(st);
    }
    ASSIGN_OR_RETURN(Statement st, c.Prepare(absl::StrCat(
                                       kReceiptSelect,
                                       "WHERE r.tenant = ? AND r.cursor > ? "
                                       "ORDER BY r.cursor LIMIT ?")));
    st.BindText(1, tenant);
    st.BindInt64(2, after);
    st.BindInt64(3, limit);
    return CollectReceipts(st);
  });
}

absl::StatusOr<int64_t> SqliteStore::LastReceiptCursor() {
  return Read([&](Connection& c) -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT COALESCE(MAX(cursor), 0) FROM receipts"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.ColumnInt64(0) : 0;
  });
}

absl::StatusOr<std::vector<std::pair<State, int64_t>>>
SqliteStore::CountByState() {
  using Counts = std::vector<std::pair<State, int64_t>>;
  return Read([&](Connection& c) -> absl::StatusOr<Counts> {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("SELECT state, COUNT(*) FROM letters "
                               "GROUP BY state ORDER BY state"));
    Counts out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.emplace_back(static_cast<State>(st.ColumnInt64(0)),
                       st.ColumnInt64(1));
    }
    return out;
  });
}

// ---- Channels, timers, provider receipts (#3) ----

absl::StatusOr<State> SqliteStore::StateInTxn(Connection& c,
                                              const std::string& letter_id) {
  ASSIGN_OR_RETURN(Statement st,
                   c.Prepare("SELECT state FROM letters WHERE id = ?"));
  st.BindText(1, letter_id);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return LetterNotFound(letter_id);
  return static_cast<State>(st.ColumnInt64(0));
}

absl::Status SqliteStore::TimersInTxn(Connection& c,
                                      const std::string& letter_id,
                                      const Transition& t) {
  for (const std::string& kind : t.clear_timers) {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("DELETE FROM timers WHERE letter_id = ? AND kind = ?"));
    st.BindText(1, letter_id);
    st.BindText(2, kind);
    RETURN_IF_ERROR(st.Run());
  }
  for (const TimerRecord& timer : t.set_timers) {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("INSERT OR REPLACE INTO timers "
                               "(letter_id, kind, due_ms) VALUES (?, ?, ?)"));
    st.BindText(1, letter_id);
    st.BindText(2, timer.kind);
    st.BindInt64(3, timer.due_ms);
    RETURN_IF_ERROR(st.Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::TransitionWithStepsInTxn(Connection& c,
                                                   const std::string& letter_id,
                                                   const Transition& t) {
  // The provider's receipt goes with the last state it vouches for.
  RETURN_IF_ERROR(
      TransitionInTxn(c, letter_id, t.from, t.to, t.channel, t.reason, t.outbox,
                      t.unless_handing_off, t.provider,
                      t.then.empty() ? t.provider_receipt : std::string()));
  State reached = t.to;
  for (size_t i = 0; i < t.then.size(); ++i) {
    const Transition::Step& step = t.then[i];
    RETURN_IF_ERROR(TransitionInTxn(
        c, letter_id, {reached}, step.to, "", step.reason, {}, false,
        t.provider,
        i + 1 == t.then.size() ? t.provider_receipt : std::string()));
    reached = step.to;
  }
  return TimersInTxn(c, letter_id, t);
}

absl::StatusOr<ProviderEventOutcome> SqliteStore::ApplyProviderEvent(
    const ProviderEventRecord& event,
    const std::vector<Transition>& candidates) {
  if (event.provider.empty() || event.event_id.empty()) {
    return absl::InvalidArgumentError("provider event needs provider and id");
  }
  ProviderEventOutcome outcome;
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    outcome = ProviderEventOutcome();
    {
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare("SELECT 1 FROM provider_events "
                                 "WHERE provider = ? AND event_id = ?"));
      st.BindText(1, event.provider);
      st.BindText(2, event.event_id);
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (row) {
        outcome.duplicate = true;
        return absl::OkStatus();
      }
    }
    absl::StatusOr<State> state = StateInTxn(c, event.letter_id);
    if (!state.ok() && !absl::IsNotFound(state.status())) {
      return state.status();
    }
    if (state.ok()) {
      for (const Transition& t : candidates) {
        if (std::find(t.from.begin(), t.from.end(), *state) == t.from.end()) {
          continue;
        }
        RETURN_IF_ERROR(TransitionWithStepsInTxn(c, event.letter_id, t));
        outcome.moved = true;
        break;
      }
    }
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("INSERT INTO provider_events (provider, event_id, "
                  "letter_id, channel, kind, time_ms, reason, evidence, "
                  "received_ms, applied) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                  "?)"));
    st.BindText(1, event.provider);
    st.BindText(2, event.event_id);
    st.BindText(3, event.letter_id);
    st.BindText(4, event.channel);
    st.BindText(5, event.kind);
    st.BindInt64(6, event.time_ms);
    st.BindText(7, event.reason);
    st.BindBlob(8, event.evidence);
    st.BindInt64(9, clock_->NowMillis());
    st.BindInt64(10, outcome.moved ? 1 : 0);
    return st.Run();
  };
  RETURN_IF_ERROR(Write(&ops));
  RETURN_IF_ERROR(ops[0].status);
  return outcome;
}

absl::StatusOr<std::vector<ProviderEventRecord>> SqliteStore::GetProviderEvents(
    const std::string& letter_id) {
  using Events = std::vector<ProviderEventRecord>;
  return Read([&](Connection& c) -> absl::StatusOr<Events> {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT provider, event_id, letter_id, channel, kind, "
                  "time_ms, reason, evidence, received_ms, applied "
                  "FROM provider_events WHERE letter_id = ? "
                  "ORDER BY received_ms, rowid"));
    st.BindText(1, letter_id);
    Events out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      ProviderEventRecord& e = out.emplace_back();
      e.provider = st.ColumnText(0);
      e.event_id = st.ColumnText(1);
      e.letter_id = st.ColumnText(2);
      e.channel = st.ColumnText(3);
      e.kind = st.ColumnText(4);
      e.time_ms = st.ColumnInt64(5);
      e.reason = st.ColumnText(6);
      e.evidence = st.ColumnBlob(7);
      e.received_ms = st.ColumnInt64(8);
      e.applied = st.ColumnInt64(9) != 0;
    }
    return out;
  });
}

absl::Status SqliteStore::SetTimer(const TimerRecord& timer,
                                   const std::vector<State>& expected) {
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(State state, StateInTxn(c, timer.letter_id));
    if (std::find(expected.begin(), expected.end(), state) == expected.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "letter ", timer.letter_id, " is ", Letter::State_Name(state)));
    }
    Transition t;
    t.set_timers = {timer};
    return TimersInTxn(c, timer.letter_id, t);
  };
  RETURN_IF_ERROR(Write(&ops));
  return ops[0].status;
}

absl::StatusOr<std::vector<TimerRecord>> SqliteStore::DueTimers(int64_t now_ms,
                                                                int limit) {
  using Timers = std::vector<TimerRecord>;
  if (limit <= 0) return Timers();
  return Read([&](Connection& c) -> absl::StatusOr<Timers> {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("SELECT letter_id, kind, due_ms FROM timers "
                               "WHERE due_ms <= ? ORDER BY due_ms LIMIT ?"));
    st.BindInt64(1, now_ms);
    st.BindInt64(2, limit);
    Timers out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnInt64(2)});
    }
    return out;
  });
}

absl::StatusOr<std::vector<TimerRecord>> SqliteStore::GetTimers(
    const std::string& letter_id) {
  using Timers = std::vector<TimerRecord>;
  return Read([&](Connection& c) -> absl::StatusOr<Timers> {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("SELECT letter_id, kind, due_ms FROM timers "
                               "WHERE letter_id = ? ORDER BY kind"));
    st.BindText(1, letter_id);
    Timers out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnInt64(2)});
    }
    return out;
  });
}

absl::StatusOr<bool> SqliteStore::FireTimer(
    const TimerRecord& timer, const std::vector<State>& when_in,
    const std::optional<Transition>& transition,
    const std::vector<OutboxMessage>& outbox) {
  bool claimed = false;
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    claimed = false;
    {
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare("DELETE FROM timers WHERE letter_id = ? "
                                 "AND kind = ? AND due_ms = ?"));
      st.BindText(1, timer.letter_id);
      st.BindText(2, timer.kind);
      st.BindInt64(3, timer.due_ms);
      RETURN_IF_ERROR(st.Run());
    }
    if (c.Changes() == 0) return absl::OkStatus();
    claimed = true;
    ASSIGN_OR_RETURN(State state, StateInTxn(c, timer.letter_id));
    if (std::find(when_in.begin(), when_in.end(), state) == when_in.end()) {
      return absl::OkStatus();
    }
    if (transition.has_value()) {
      return TransitionWithStepsInTxn(c, timer.letter_id, *transition);
    }
    const int64_t now = clock_->NowMillis();
    for (const OutboxMessage& m : outbox) {
      RETURN_IF_ERROR(InsertOutbox(c, m, timer.letter_id, now));
    }
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("UPDATE letters SET update_time_ms = ? WHERE id = ?"));
    st.BindInt64(1, now);
    st.BindText(2, timer.letter_id);
    return st.Run();
  };
  RETURN_IF_ERROR(Write(&ops));
  RETURN_IF_ERROR(ops[0].status);
  return claimed;
}

absl::StatusOr<std::vector<StuckLetter>> SqliteStore::StuckLetters(
    int64_t updated_before_ms, int limit) {
  using Stuck = std::vector<StuckLetter>;
  if (limit <= 0) return Stuck();
  return Read([&](Connection& c) -> absl::StatusOr<Stuck> {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT l.id, l.state, l.channel, l.attempt, "
                  "l.update_time_ms FROM letters l "
                  "WHERE l.state IN (?, ?) AND l.update_time_ms < ? "
                  "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE "
                  "o.letter_id = l.id AND o.sent_at_ms IS NULL) "
                  "AND NOT EXISTS (SELECT 1 FROM timers t WHERE "
                  "t.letter_id = l.id) "
                  "ORDER BY l.update_time_ms LIMIT ?"));
    st.BindInt64(1, Letter::QUEUED);
    st.BindInt64(2, Letter::ROUTED);
    st.BindInt64(3, updated_before_ms);
    st.BindInt64(4, limit);
    Stuck out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      StuckLetter& l = out.emplace_back();
      l.id = st.ColumnText(0);
      l.state = static_cast<State>(st.ColumnInt64(1));
      l.channel = st.ColumnText(2);
      l.attempt = static_cast<int>(st.ColumnInt64(3));
      l.update_time_ms = st.ColumnInt64(4);
    }
    return out;
  });
}

absl::StatusOr<bool> SqliteStore::RequeueStuck(const StuckLetter& letter,
                                               const OutboxMessage& work) {
  bool written = false;
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    written = false;
    const int64_t now = clock_->NowMillis();
    {
      ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("UPDATE letters SET update_time_ms = ? WHERE id = ? "
                    "AND state = ? AND update_time_ms = ? "
                    "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE "
                    "o.letter_id = letters.id AND o.sent_at_ms IS NULL)"));
      st.BindInt64(1, now);
      st.BindText(2, letter.id);
      st.BindInt64(3, letter.state);
      st.BindInt64(4, letter.update_time_ms);
      RETURN_IF_ERROR(st.Run());
    }
    if (c.Changes() == 0) return absl::OkStatus();
    written = true;
    return InsertOutbox(c, work, letter.id, now);
  };
  RETURN_IF_ERROR(Write(&ops));
  RETURN_IF_ERROR(ops[0].status);
  return written;
}

// ---- Receipt log (#4) ----

absl::Status SqliteStore::SequenceBacklog() {
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT cursor, jws FROM receipts WHERE cursor > "
                  "COALESCE((SELECT MAX(cursor) FROM receipt_log_leaves), 0) "
                  "ORDER BY cursor"));
    std::vector<std::pair<int64_t, std::string>> backlog;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      backlog.emplace_back(st.ColumnInt64(0), st.ColumnText(1));
    }
    for (const auto& [cursor, jws] : backlog) {
      RETURN_IF_ERROR(AppendLogLeaf(c, cursor, jws));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(Write(&ops));
  return ops[0].status;
}

absl::StatusOr<int64_t> SqliteStore::ReceiptLogSize() {
  return Read([&](Connection& c) { return LogSizeIn(c); });
}

absl::StatusOr<TreeHead> SqliteStore::LatestTreeHead() {
  return Read([&](Connection& c) -> absl::StatusOr<TreeHead> {
    ASSIGN_OR_RETURN(std::optional<TreeHead> h, LatestHeadIn(c));
    if (!h.has_value()) {
      return absl::NotFoundError("no tree head has been signed yet");
    }
    return *h;
  });
}

absl::StatusOr<TreeHead> SqliteStore::GetTreeHead(int64_t tree_size) {
  return Read([&](Connection& c) -> absl::StatusOr<TreeHead> {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare(absl::StrCat("SELECT ", kHeadColumns,
                                            " FROM receipt_log_heads "
                                            "WHERE tree_size = ?")));
    st.BindInt64(1, tree_size);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      return absl::NotFoundError(
          absl::StrCat("no tree head of size ", tree_size));
    }
    return HeadFromRow(st);
  });
}

absl::StatusOr<std::vector<TreeHead>> SqliteStore::ListTreeHeads(
    int64_t from_size, int64_t to_size) {
  return Read([&](Connection& c) -> absl::StatusOr<std::vector<TreeHead>> {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare(absl::StrCat("SELECT ", kHeadColumns,
                               " FROM receipt_log_heads WHERE tree_size >= ? "
                               "AND tree_size <= ? ORDER BY tree_size")));
    st.BindInt64(1, from_size);
    st.BindInt64(2, to_size);
    std::vector<TreeHead> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(HeadFromRow(st));
    }
    return out;
  });
}

absl::StatusOr<TreeHead> SqliteStore::IssueTreeHead() {
  TreeHead head;
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(int64_t size, LogSizeIn(c));
    ASSIGN_OR_RETURN(std::optional<TreeHead> latest, LatestHeadIn(c));
    if (latest.has_value() && latest->tree_size == size) {
      head = *latest;
      return absl::OkStatus();
    }
    StoredSubtrees nodes(c);
    ASSIGN_OR_RETURN(std::string root, receipts::merkle::RootHash(nodes, size));
    receipts::TreeHeadContent content;
    content.tree_size = size;
    content.root_hash = root;
    // Never before the previous head, whatever the clocks of several
    // processes say.
    content.time_ms = clock_->NowMillis();
    if (latest.has_value()) {
      content.time_ms = std::max(content.time_ms, latest->time_ms);
    }
    ASSIGN_OR_RETURN(std::string jws, signer_->SignTreeHead(content));
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("INSERT INTO receipt_log_heads (tree_size, "
                               "root_hash, time_ms, jws) VALUES (?, ?, ?, ?)"));
    st.BindInt64(1, size);
    st.BindBlob(2, root);
    st.BindInt64(3, content.time_ms);
    st.BindText(4, jws);
    RETURN_IF_ERROR(st.Run());
    head = TreeHead{size, root, content.time_ms, jws};
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(Write(&ops));
  RETURN_IF_ERROR(ops[0].status);
  return head;
}

absl::StatusOr<std::vector<std::string>> SqliteStore::InclusionProof(
    int64_t leaf_index, int64_t tree_size) {
  return Read([&](Connection& c) -> absl::StatusOr<std::vector<std::string>> {
    ASSIGN_OR_RETURN(int64_t size, LogSizeIn(c));
    if (tree_size > size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tree_size: ", tree_size, " exceeds the log's ", size, " leaves"));
    }
    StoredSubtrees nodes(c);
    return receipts::merkle::InclusionProof(nodes, leaf_index, tree_size);
  });
}

absl::StatusOr<std::vector<std::string>> SqliteStore::ConsistencyProof(
    int64_t first, int64_t second) {
  return Read([&](Connection& c) -> absl::StatusOr<std::vector<std::string>> {
    ASSIGN_OR_RETURN(int64_t size, LogSizeIn(c));
    if (second > size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "second: ", second, " exceeds the log's ", size, " leaves"));
    }
    StoredSubtrees nodes(c);
    return receipts::merkle::ConsistencyProof(nodes, first, second);
  });
}

absl::StatusOr<ReceiptRecord> SqliteStore::ReceiptAtLeaf(int64_t leaf_index) {
  return Read([&](Connection& c) -> absl::StatusOr<ReceiptRecord> {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare(absl::StrCat(kReceiptSelect,
                               "WHERE r.cursor = (SELECT cursor FROM "
                               "receipt_log_leaves WHERE leaf_index = ?)")));
    st.BindInt64(1, leaf_index);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      return absl::NotFoundError(
          absl::StrCat("no receipt at leaf ", leaf_index));
    }
    return ReceiptFromRow(st);
  });
}

absl::StatusOr<std::vector<ReceiptRecord>> SqliteStore::LoggedReceipts(
    const ReceiptLogQuery& q) {
  std::string sql =
      absl::StrCat(kReceiptSelect,
                   "JOIN receipt_log_leaves g ON g.cursor = r.cursor "
                   "WHERE g.leaf_index > ? AND r.time_ms >= ?",
                   q.to_ms > 0 ? " AND r.time_ms < ?" : "",
                   q.tenant.empty() ? "" : " AND r.tenant = ?",
                   q.letter_id.empty() ? "" : " AND r.letter_id = ?",
                   " ORDER BY g.leaf_index LIMIT ?");
  return Read([&](Connection& c) -> absl::StatusOr<std::vector<ReceiptRecord>> {
    ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
    int p = 1;
    st.BindInt64(p++, q.after_leaf);
    st.BindInt64(p++, q.from_ms);
    if (q.to_ms > 0) st.BindInt64(p++, q.to_ms);
    if (!q.tenant.empty()) st.BindText(p++, q.tenant);
    if (!q.letter_id.empty()) st.BindText(p++, q.letter_id);
    st.BindInt64(p++, q.limit > 0 ? q.limit : 1000);
    return CollectReceipts(st);
  });
}

absl::StatusOr<LoggedReceiptCount> SqliteStore::CountLoggedReceipts(
    const ReceiptLogQuery& q, int64_t tree_size) {
  std::string sql = absl::StrCat(
      "SELECT COUNT(*), COUNT(DISTINCT r.letter_id) FROM receipts r "
      "JOIN receipt_log_leaves g ON g.cursor = r.cursor "
      "WHERE g.leaf_index < ? AND r.time_ms >= ?",
      q.to_ms > 0 ? " AND r.time_ms < ?" : "",
      q.tenant.empty() ? "" : " AND r.tenant = ?",
      q.letter_id.empty() ? "" : " AND r.letter_id = ?");
  return Read([&](Connection& c) -> absl::StatusOr<LoggedReceiptCount> {
    ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
    int p = 1;
    st.BindInt64(p++, tree_size);
    st.BindInt64(p++, q.from_ms);
    if (q.to_ms > 0) st.BindInt64(p++, q.to_ms);
    if (!q.tenant.empty()) st.BindText(p++, q.tenant);
    if (!q.letter_id.empty()) st.BindText(p++, q.letter_id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    LoggedReceiptCount out;
    if (row) {
      out.receipts = st.ColumnInt64(0);
      out.letters = st.ColumnInt64(1);
    }
    return out;
  });
}

absl::StatusOr<int64_t> SqliteStore::PurgeDocuments(int64_t final_before_ms,
                                                    int limit) {
  int64_t purged = 0;
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    std::vector<std::string> ids;
    {
      ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("SELECT id FROM letters WHERE state IN (?, ?, ?, ?, ?, ?) "
                    "AND update_time_ms < ? AND id NOT IN "
                    "(SELECT letter_id FROM purged_letters) LIMIT ?"));
      int p = 1;
      for (State s : {Letter::DELIVERED, Letter::READ, Letter::SENT_PRINT,
                      Letter::PRINTED, Letter::FAILED, Letter::CANCELLED}) {
        st.BindInt64(p++, s);
      }
      st.BindInt64(p++, final_before_ms);
      st.BindInt64(p++, limit > 0 ? limit : 1000);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        ids.push_back(st.ColumnText(0));
      }
    }
    const int64_t now = clock_->NowMillis();
    for (const std::string& id : ids) {
      {
        ASSIGN_OR_RETURN(Statement st,
                         c.Prepare("UPDATE documents SET content = x'' "
                                   "WHERE letter_id = ?"));
        st.BindText(1, id);
        RETURN_IF_ERROR(st.Run());
      }
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare("INSERT INTO purged_letters (letter_id, "
                                 "purged_ms) VALUES (?, ?)"));
      st.BindText(1, id);
      st.BindInt64(2, now);
      RETURN_IF_ERROR(st.Run());
    }
    purged = static_cast<int64_t>(ids.size());
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(Write(&ops));
  RETURN_IF_ERROR(ops[0].status);
  return purged;
}

absl::StatusOr<int64_t> SqliteStore::DocumentsPurgedAt(
    const std::string& letter_id) {
  return Read([&](Connection& c) -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT purged_ms FROM purged_letters WHERE letter_id = ?"));
    st.BindText(1, letter_id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.ColumnInt64(0) : 0;
  });
}

// ---- Operations (#5) ----

absl::Status SqliteStore::RecordFailedAttemptInTxn(
    Connection& c, const std::string& letter_id, int attempt,
    const std::string& error, bool parked, int64_t now_ms) {
  std::string stage;
  {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT state, channel, attempt FROM letters WHERE id = ?"));
    st.BindText(1, letter_id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return LetterNotFound(letter_id);
    const auto state = static_cast<State>(st.ColumnInt64(0));
    const std::string channel = st.ColumnText(1);
    // The stage is where the letter waits: routing until it has a channel.
    stage = state == Letter::ROUTED && !channel.empty()
                ? absl::StrCat("deliver.", channel)
                : "route";
    if (attempt <= 0) attempt = static_cast<int>(st.ColumnInt64(2)) + 1;
  }
  ASSIGN_OR_RETURN(
      Statement st,
      c.Prepare("INSERT INTO failed_attempts (letter_id, stage, attempt, "
                "time_ms, error, parked) VALUES (?, ?, ?, ?, ?, ?)"));
  st.BindText(1, letter_id);
  st.BindText(2, stage);
  st.BindInt64(3, attempt);
  st.BindInt64(4, now_ms);
  st.BindText(5, error);
  st.BindInt64(6, parked ? 1 : 0);
  return st.Run();
}

absl::StatusOr<std::vector<LetterGroupCount>> SqliteStore::CountLetterGroups() {
  using Groups = std::vector<LetterGroupCount>;
  return Read([&](Connection& c) -> absl::StatusOr<Groups> {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("SELECT tenant, channel, state, COUNT(*), "
                               "MIN(update_time_ms) FROM letters "
                               "GROUP BY tenant, channel, state "
                               "ORDER BY tenant, channel, state"));
    Groups out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      LetterGroupCount& g = out.emplace_back();
      g.tenant = st.ColumnText(0);
      g.channel = st.ColumnText(1);
      g.state = static_cast<State>(st.ColumnInt64(2));
      g.count = st.ColumnInt64(3);
      g.oldest_update_time_ms = st.ColumnInt64(4);
    }
    return out;
  });
}

absl::StatusOr<OutboxLag> SqliteStore::GetOutboxLag() {
  return Read([&](Connection& c) -> absl::StatusOr<OutboxLag> {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("SELECT COUNT(*), COALESCE(MIN(created_ms), 0) "
                               "FROM outbox WHERE sent_at_ms IS NULL"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    OutboxLag lag;
    if (row) {
      lag.pending = st.ColumnInt64(0);
      lag.oldest_pending_ms = st.ColumnInt64(1);
    }
    return lag;
  });
}

absl::StatusOr<LetterPage> SqliteStore::ListLettersForOps(
    const OpsListFilter& f) {
  const int page_size = f.page_size <= 0
                            ? kDefaultPageSize
                            : std::min<int>(f.page_size, kMaxPageSize);
  std::optional<std::pair<int64_t, std::string>> after;
  if (!f.page_token.empty()) {
    ASSIGN_OR_RETURN(after, ParsePageToken(f.page_token));
  }
  // Only the conditions in use appear in the SQL, so that SQLite can pick
  // the matching index; the few shapes all end up in the statement cache.
  std::vector<absl::string_view> where;
  if (!f.tenant.empty()) where.push_back("tenant = ?");
  if (f.state != Letter::STATE_UNSPECIFIED) where.push_back("state = ?");
  if (!f.channel.empty()) where.push_back("channel = ?");
  if (!f.client_reference.empty()) where.push_back("client_reference = ?");
  if (!f.reason_contains.empty()) where.push_back("instr(reason, ?) > 0");
  // GLOB is case-sensitive, as ids are; the prefix has no wildcards.
  if (!f.id_prefix.empty()) where.push_back("id GLOB ?");
  if (f.created_before_ms > 0) where.push_back("create_time_ms < ?");
  if (f.created_after_ms > 0) where.push_back("create_time_ms > ?");
  if (after.has_value()) where.push_back("(create_time_ms, id) < (?, ?)");
  std::string sql = absl::StrCat("SELECT ", kLetterColumns, " FROM letters");
  if (!where.empty())
    absl::StrAppend(&sql, " WHERE ", absl::StrJoin(where, " AND "));
  absl::StrAppend(&sql, " ORDER BY create_time_ms DESC, id DESC LIMIT ?");

  return Read([&](Connection& c) -> absl::StatusOr<LetterPage> {
    ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
    int p = 1;
    if (!f.tenant.empty()) st.BindText(p++, f.tenant);
    if (f.state != Letter::STATE_UNSPECIFIED) st.BindInt64(p++, f.state);
    if (!f.channel.empty()) st.BindText(p++, f.channel);
    if (!f.client_reference.empty()) st.BindText(p++, f.client_reference);
    if (!f.reason_contains.empty()) st.BindText(p++, f.reason_contains);
    if (!f.id_prefix.empty()) st.BindText(p++, f.id_prefix + "*");
    if (f.created_before_ms > 0) st.BindInt64(p++, f.created_before_ms);
    if (f.created_after_ms > 0) st.BindInt64(p++, f.created_after_ms);
    if (after.has_value()) {
      st.BindInt64(p++, after->first);
      st.BindText(p++, after->second);
    }
    // One more than asked tells whether another page follows.
    st.BindInt64(p++, page_size + 1);
    LetterPage page;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      if (page.letters.size() == static_cast<size_t>(page_size)) {
        page.next_page_token = MakePageToken(page.letters.back());
        break;
      }
      ASSIGN_OR_RETURN(LetterRecord r, LetterFromRow(c, st));
      page.letters.push_back(std::move(r));
    }
    return page;
  });
}

absl::StatusOr<std::vector<FailedAttemptRecord>> SqliteStore::GetFailedAttempts(
    const std::string& letter_id) {
  using Attempts = std::vector<FailedAttemptRecord>;
  return Read([&](Connection& c) -> absl::StatusOr<Attempts> {
    {
      ASSIGN_OR_RETURN(Statement st,
                       c.Prepare("SELECT 1 FROM letters WHERE id = ?"));
      st.BindText(1, letter_id);
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return LetterNotFound(letter_id);
    }
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT stage, attempt, time_ms, error, parked "
                  "FROM failed_attempts WHERE letter_id = ? ORDER BY id"));
    st.BindText(1, letter_id);
    Attempts out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      FailedAttemptRecord& a = out.emplace_back();
      a.letter_id = letter_id;
      a.stage = st.ColumnText(0);
      a.attempt = static_cast<int>(st.ColumnInt64(1));
      a.time_ms = st.ColumnInt64(2);
      a.error = st.ColumnText(3);
      a.parked = st.ColumnInt64(4) != 0;
    }
    return out;
  });
}

absl::StatusOr<std::string> SqliteStore::FeedPosition(const std::string& feed) {
  return Read([&](Connection& c) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT position FROM feed_positions WHERE feed = ?"));
    st.BindText(1, feed);
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.ColumnText(0) : std::string();
  });
}

absl::StatusOr<bool> SqliteStore::MoveFeedPosition(const std::string& feed,
                                                   const std::string& from,
                                                   const std::string& to) {
  if (feed.empty()) return absl::InvalidArgumentError("feed is empty");
  bool moved = false;
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    moved = false;  // Should the group commit run this again.
    ASSIGN_OR_RETURN(
        Statement read,
        c.Prepare("SELECT position FROM feed_positions WHERE feed = ?"));
    read.BindText(1, feed);
    ASSIGN_OR_RETURN(bool row, read.Step());
    if ((row ? read.ColumnText(0) : std::string()) != from) {
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("INSERT INTO feed_positions "
                               "(feed, position, updated_ms) VALUES (?, ?, ?) "
                               "ON CONFLICT (feed) DO UPDATE SET "
                               "position = excluded.position, "
                               "updated_ms = excluded.updated_ms"));
    st.BindText(1, feed);
    st.BindText(2, to);
    st.BindInt64(3, clock_->NowMillis());
    RETURN_IF_ERROR(st.Run());
    moved = true;
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(Write(&ops));
  RETURN_IF_ERROR(ops[0].status);
  return moved;
}

absl::Status SqliteStore::SetChannelPaused(const std::string& channel,
                                           bool paused, const std::string& by) {
  if (channel.empty()) return absl::InvalidArgumentError("channel is empty");
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    if (!paused) {
      ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("DELETE FROM paused_channels WHERE channel = ?"));
      st.BindText(1, channel);
      return st.Run();
    }
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("INSERT OR IGNORE INTO paused_channels "
                               "(channel, paused_by, since_ms) "
                               "VALUES (?, ?, ?)"));
    st.BindText(1, channel);
    st.BindText(2, by);
    st.BindInt64(3, clock_->NowMillis());
    return st.Run();
  };
  RETURN_IF_ERROR(Write(&ops));
  return ops[0].status;
}

absl::StatusOr<std::vector<PausedChannelRecord>> SqliteStore::PausedChannels() {
  using Paused = std::vector<PausedChannelRecord>;
  return Read([&](Connection& c) -> absl::StatusOr<Paused> {
    ASSIGN_OR_RETURN(Statement st,
                     c.Prepare("SELECT channel, paused_by, since_ms "
                               "FROM paused_channels ORDER BY channel"));
    Paused out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      PausedChannelRecord& p = out.emplace_back();
      p.channel = st.ColumnText(0);
      p.paused_by = st.ColumnText(1);
      p.since_ms = st.ColumnInt64(2);
    }
    return out;
  });
}

absl::Status SqliteStore::WriteProviderStats(
    const std::vector<ProviderStatsRecord>& rows) {
  // Kept an hour: GetStatus reads minutes; older rows only cost space.
  constexpr int64_t kKeepMs = 60 * 60 * 1000;
  std::vector<WriteOp> ops(1);
  ops[0].run = [&](Connection& c) -> absl::Status {
    for (const ProviderStatsRecord& r : rows) {
      ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("INSERT INTO provider_stats (process_id, channel, "
                    "window_start_ms, window_end_ms, sends, errors, "
                    "latency_sum_us, latency_max_us, last_error) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      st.BindText(1, r.process_id);
      st.BindText(2, r.channel);
      st.BindInt64(3, r.window_start_ms);
      st.BindInt64(4, r.window_end_ms);
      st.BindInt64(5, r.sends);
      st.BindInt64(6, r.errors);
      st.BindInt64(7, r.latency_sum_us);
      st.BindInt64(8, r.latency_max_us);
      st.BindText(9, r.last_error);
      RETURN_IF_ERROR(st.Run());
    }
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("DELETE FROM provider_stats WHERE window_end_ms < ?"));
    st.BindInt64(1, clock_->NowMillis() - kKeepMs);
    return st.Run();
  };
  RETURN_IF_ERROR(Write(&ops));
  return ops[0].status;
}

absl::StatusOr<std::vector<ProviderStatsRecord>>
SqliteStore::ProviderStatsSince(int64_t since_ms) {
  using Rows = std::vector<ProviderStatsRecord>;
  return Read([&](Connection& c) -> absl::StatusOr<Rows> {
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT process_id, channel, window_start_ms, "
                  "window_end_ms, sends, errors, latency_sum_us, "
                  "latency_max_us, last_error FROM provider_stats "
                  "WHERE window_end_ms > ? ORDER BY window_end_ms"));
    st.BindInt64(1, since_ms);
    Rows out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      ProviderStatsRecord& r = out.emplace_back();
      r.process_id = st.ColumnText(0);
      r.channel = st.ColumnText(1);
      r.window_start_ms = st.ColumnInt64(2);
      r.window_end_ms = st.ColumnInt64(3);
      r.sends = st.ColumnInt64(4);
      r.errors = st.ColumnInt64(5);
      r.latency_sum_us = st.ColumnInt64(6);
      r.latency_max_us = st.ColumnInt64(7);
      r.last_error = st.ColumnText(8);
    }
    return out;
  });
}

absl::StatusOr<Store::TransitionTotals> SqliteStore::CountTransitions() {
  return Read([&](Connection& c) -> absl::StatusOr<TransitionTotals> {
    // One statement: one snapshot for the counts and the cursor.
    ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT tenant, channel, state, COUNT(*), "
                  "(SELECT COALESCE(MAX(cursor), 0) FROM receipts) "
                  "FROM receipts GROUP BY tenant, channel, state"));
    TransitionTotals out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      TransitionCount& t = out.counts.emplace_back();
      t.tenant = st.ColumnText(0);
      t.channel = st.ColumnText(1);
      t.state = static_cast<State>(st.ColumnInt64(2));
      t.count = st.ColumnInt64(3);
      out.cursor = st.ColumnInt64(4);
    }
    return out;
  });
}

absl::StatusOr<std::vector<Store::TransitionNote>>
SqliteStore::TransitionsAfter(int64_t after, int limit) {
  if (limit <= 0) return std::vector<TransitionNote>();
  return Read(
      [&](Connection& c) -> absl::StatusOr<std::vector<TransitionNote>> {
        ASSIGN_OR_RETURN(
            Statement st,
            c.Prepare(
                "SELECT r.cursor, r.tenant, r.state, r.channel, r.time_ms, "
                "l.create_time_ms FROM receipts r "
                "JOIN letters l ON l.id = r.letter_id "
                "WHERE r.cursor > ? ORDER BY r.cursor LIMIT ?"));
        st.BindInt64(1, after);
        st.BindInt64(2, limit);
        std::vector<TransitionNote> out;
        while (true) {
          ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) break;
          TransitionNote t;
          t.cursor = st.ColumnInt64(0);
          t.tenant = st.ColumnText(1);
          t.state = static_cast<State>(st.ColumnInt64(2));
          t.channel = st.ColumnText(3);
          t.time_ms = st.ColumnInt64(4);
          t.letter_create_time_ms = st.ColumnInt64(5);
          out.push_back(std::move(t));
        }
        return out;
      });
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(
    const SqliteStoreOptions& options) {
  if (options.path.empty() || options.path == ":memory:") {
    return absl::InvalidArgumentError("store path must name a database file");
  }
  if (options.signer == nullptr) {
    return absl::InvalidArgumentError("store needs a receipt signer");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                   Connection::Open(options.path, Connection::Mode::kWriter,
                                    options.busy_timeout_ms));
  RETURN_IF_ERROR(CreateSchema(*writer, options.path));
  auto store = std::make_unique<SqliteStore>(options, std::move(writer));
  RETURN_IF_ERROR(store->SequenceBacklog());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace utpost::store
