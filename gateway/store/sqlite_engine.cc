#include "gateway/store/sqlite_engine.h"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "gateway/store/sqlite_db.h"

namespace utpost::store {
namespace {

using internal::Connection;
using internal::Statement;
using ::utpost::v1::Letter;
using WriteOp = Engine::WriteOp;

// Bounds one group commit, so that a flood of writers still sees commits.
constexpr size_t kMaxOpsPerCommit = 1024;

// Schema migrations, forward only: migration N brings a database from
// version N - 1 to N (PRAGMA user_version). Version 1 grew tables and
// indices while it shipped, all with IF NOT EXISTS, so it is run again on a
// database at version 1.
//
// Version 1. Times are milliseconds since the Unix epoch; states are
// utpost.v1.Letter.State numbers. Letters are never deleted, so foreign keys
// need no cascade.
constexpr char kSchemaV1[] = R"sql(
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

// Version 2: claims, so that several relays and timer scanners share one
// database (Store::ClaimOutbox, Store::ClaimDueTimers).
constexpr char kSchemaV2[] = R"sql(
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claim_until_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE timers ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE timers ADD COLUMN claim_until_ms INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 3: the sheets each letter takes printed, counted from its
// documents' pages at submission, for statistics (#14). Letters stored
// before it have 0: not known.
constexpr char kSchemaV3[] = R"sql(
ALTER TABLE letters ADD COLUMN print_sheets INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 4: letters of a bulk run (SubmitBatch), whose work items travel
// the bulk lane (#13). Letters stored before it travel the single lane.
constexpr char kSchemaV4[] = R"sql(
ALTER TABLE letters ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 5: letters stored per tenant and UTC day, counted for tenants
// with a daily quota (TenantLimits.letters_per_day, #13).
constexpr char kSchemaV5[] = R"sql(
CREATE TABLE tenant_days (
  tenant  TEXT NOT NULL,
  day     INTEGER NOT NULL,  -- days since the Unix epoch, UTC
  letters INTEGER NOT NULL,
  PRIMARY KEY (tenant, day)
);
)sql";

// Version 6: documents uploaded with UploadDocument, for letters of their
// tenant to reference by digest until they expire (#13).
constexpr char kSchemaV6[] = R"sql(
CREATE TABLE uploads (
  tenant         TEXT NOT NULL,
  sha256         TEXT NOT NULL,
  media_type     TEXT NOT NULL,
  content        BLOB NOT NULL,
  expire_time_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant, sha256)
);
CREATE INDEX uploads_by_expiry ON uploads (expire_time_ms);
)sql";

constexpr const char* kMigrations[] = {kSchemaV1, kSchemaV2, kSchemaV3,
                                       kSchemaV4, kSchemaV5, kSchemaV6};
constexpr int kSchemaVersion =
    static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

absl::Status Migrate(Connection& c, const std::string& path) {
  int64_t version = 0;
  {
    ASSIGN_OR_RETURN(Statement st, c.Prepare("PRAGMA user_version"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) version = st.ColumnInt64(0);
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store ", path, ": schema version ", version,
        " is newer than this build's ", kSchemaVersion,
        "; run the newer utpostd, or restore a backup made for this one"));
  }
  // Each migration in its own transaction, so a failure leaves the file at
  // the last version that completed.
  for (int64_t next = std::max<int64_t>(version, 1); next <= kSchemaVersion;
       ++next) {
    if (next == version && next != 1) continue;
    absl::Status s = c.Exec("BEGIN IMMEDIATE");
    if (s.ok()) s = c.Exec(kMigrations[next - 1]);
    if (s.ok()) {
      s = c.Exec(absl::StrCat("PRAGMA user_version = ", next).c_str());
    }
    if (s.ok()) s = c.Exec("COMMIT");
    if (!s.ok()) {
      c.RollbackQuietly();
      return absl::Status(
          s.code(), absl::StrCat("store ", path, ": migration to version ",
                                 next, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

constexpr char kLetterColumns[] =
    "id, tenant, client_reference, state, channel, reason, spec, "
    "create_time_ms, update_time_ms, request_digest, attempt, handing_off, "
    "print_sheets, bulk";
constexpr char kReceiptSelect[] =
    "SELECT r.cursor, r.letter_id, r.tenant, l.client_reference, r.seq, "
    "r.state, r.channel, r.reason, r.time_ms, r.jws, r.sha256, "
    "(SELECT g.leaf_index FROM receipt_log_leaves g WHERE g.cursor = r.cursor) "
    "FROM receipts r JOIN letters l ON l.id = r.letter_id ";
constexpr char kHeadColumns[] = "tree_size, root_hash, time_ms, jws";
constexpr char kOutboxColumns[] =
    "id, letter_id, exchange, routing_key, body, state_when_sent";

void BindStates(Statement& st, int* p, const std::vector<State>& states) {
  for (State s : states) st.BindInt64((*p)++, s);
}

std::string Placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) absl::StrAppend(&out, i == 0 ? "?" : ", ?");
  return out;
}

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

TreeHead HeadFromRow(const Statement& st) {
  TreeHead h;
  h.tree_size = st.ColumnInt64(0);
  h.root_hash = st.ColumnBlob(1);
  h.time_ms = st.ColumnInt64(2);
  h.jws = st.ColumnText(3);
  return h;
}

OutboxMessage OutboxFromRow(const Statement& st) {
  OutboxMessage m;
  m.id = st.ColumnInt64(0);
  m.letter_id = st.ColumnText(1);
  m.exchange = st.ColumnText(2);
  m.routing_key = st.ColumnText(3);
  m.body = st.ColumnBlob(4);
  if (!st.ColumnIsNull(5)) {
    m.state_when_sent = static_cast<State>(st.ColumnInt64(5));
  }
  return m;
}

absl::StatusOr<std::vector<TimerRecord>> CollectTimers(Statement& st) {
  std::vector<TimerRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnInt64(2)});
  }
  return out;
}

// The conditions of ReceiptLogQuery, after "WHERE <leaf condition>".
std::string LogQueryConditions(const ReceiptLogQuery& q) {
  return absl::StrCat(" AND r.time_ms >= ?",
                      q.to_ms > 0 ? " AND r.time_ms < ?" : "",
                      q.tenant.empty() ? "" : " AND r.tenant = ?",
                      q.letter_id.empty() ? "" : " AND r.letter_id = ?");
}
void BindLogQuery(Statement& st, int* p, const ReceiptLogQuery& q) {
  st.BindInt64((*p)++, q.from_ms);
  if (q.to_ms > 0) st.BindInt64((*p)++, q.to_ms);
  if (!q.tenant.empty()) st.BindText((*p)++, q.tenant);
  if (!q.letter_id.empty()) st.BindText((*p)++, q.letter_id);
}

// One transaction on one connection: a reader's (query_only, so writes
// fail) or the writer's.
class SqliteTxn final : public WriteTxn {
 public:
  explicit SqliteTxn(Connection& c) : c_(c) {}

  // ---- Reads ----

  absl::StatusOr<std::optional<LetterRow>> GetLetter(
      const std::string& id) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare(absl::StrCat("SELECT ", kLetterColumns,
                                             " FROM letters WHERE id = ?")));
    st.BindText(1, id);
    return OneLetter(st);
  }

  absl::StatusOr<std::optional<LetterRow>> FindLetterByReference(
      const std::string& tenant, const std::string& client_reference) override {
    ASSIGN_OR_RETURN(Statement st, c_.Prepare(absl::StrCat(
                                       "SELECT ", kLetterColumns,
                                       " FROM letters WHERE tenant = ? AND "
                                       "client_reference = ?")));
    st.BindText(1, tenant);
    st.BindText(2, client_reference);
    return OneLetter(st);
  }

  absl::StatusOr<std::vector<LetterRecord>> ListLetters(
      const LetterQuery& q) override {
    // Only the conditions in use appear in the SQL, so that SQLite can pick
    // the matching index; the few shapes all end up in the statement cache.
    std::vector<absl::string_view> where;
    if (!q.tenant.empty()) where.push_back("tenant = ?");
    if (q.state != Letter::STATE_UNSPECIFIED) where.push_back("state = ?");
    if (!q.channel.empty()) where.push_back("channel = ?");
    if (!q.client_reference.empty()) where.push_back("client_reference = ?");
    if (!q.reason_contains.empty()) where.push_back("instr(reason, ?) > 0");
    // GLOB is case-sensitive, as ids are; the prefix has no wildcards.
    if (!q.id_prefix.empty()) where.push_back("id GLOB ?");
    if (q.created_before_ms > 0) where.push_back("create_time_ms < ?");
    if (q.created_after_ms > 0) where.push_back("create_time_ms > ?");
    if (q.after.has_value()) where.push_back("(create_time_ms, id) < (?, ?)");
    std::string sql = absl::StrCat("SELECT ", kLetterColumns, " FROM letters");
    if (!where.empty()) {
      absl::StrAppend(&sql, " WHERE ", absl::StrJoin(where, " AND "));
    }
    absl::StrAppend(&sql, " ORDER BY create_time_ms DESC, id DESC LIMIT ?");
    ASSIGN_OR_RETURN(Statement st, c_.Prepare(sql));
    int p = 1;
    if (!q.tenant.empty()) st.BindText(p++, q.tenant);
    if (q.state != Letter::STATE_UNSPECIFIED) st.BindInt64(p++, q.state);
    if (!q.channel.empty()) st.BindText(p++, q.channel);
    if (!q.client_reference.empty()) st.BindText(p++, q.client_reference);
    if (!q.reason_contains.empty()) st.BindText(p++, q.reason_contains);
    if (!q.id_prefix.empty()) st.BindText(p++, q.id_prefix + "*");
    if (q.created_before_ms > 0) st.BindInt64(p++, q.created_before_ms);
    if (q.created_after_ms > 0) st.BindInt64(p++, q.created_after_ms);
    if (q.after.has_value()) {
      st.BindInt64(p++, q.after->first);
      st.BindText(p++, q.after->second);
    }
    st.BindInt64(p++, q.limit > 0 ? q.limit : 100);
    std::vector<LetterRow> rows;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(LetterRow r, LetterFromRow(st));
      rows.push_back(std::move(r));
    }
    std::vector<LetterRecord> out;
    out.reserve(rows.size());
    for (LetterRow& r : rows) {
      RETURN_IF_ERROR(FillDocuments(&r.record));
      out.push_back(std::move(r.record));
    }
    return out;
  }

  absl::StatusOr<std::vector<StoredDocument>> GetDocuments(
      const std::string& letter_id, bool with_content) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(with_content
                       ? "SELECT file_name, media_type, sha256, size, content "
                         "FROM documents WHERE letter_id = ? ORDER BY idx"
                       : "SELECT file_name, media_type, sha256, size "
                         "FROM documents WHERE letter_id = ? ORDER BY idx"));
    st.BindText(1, letter_id);
    std::vector<StoredDocument> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      StoredDocument& d = out.emplace_back();
      d.file_name = st.ColumnText(0);
      d.media_type = st.ColumnText(1);
      d.sha256_hex = st.ColumnText(2);
      d.size = st.ColumnInt64(3);
      if (with_content) d.content = st.ColumnBlob(4);
    }
    return out;
  }

  absl::StatusOr<std::vector<StuckLetter>> StuckLetters(
      const std::vector<State>& states, int64_t updated_before_ms,
      int limit) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(absl::StrCat(
            "SELECT l.id, l.state, l.channel, l.attempt, l.update_time_ms, "
            "l.bulk FROM letters l WHERE l.state IN (",
            Placeholders(states.size()),
            ") AND l.update_time_ms < ? "
            "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE "
            "o.letter_id = l.id AND o.sent_at_ms IS NULL) "
            "AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.letter_id = l.id) "
            "ORDER BY l.update_time_ms, l.rowid LIMIT ?")));
    int p = 1;
    BindStates(st, &p, states);
    st.BindInt64(p++, updated_before_ms);
    st.BindInt64(p++, limit);
    std::vector<StuckLetter> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      StuckLetter& l = out.emplace_back();
      l.id = st.ColumnText(0);
      l.state = static_cast<State>(st.ColumnInt64(1));
      l.channel = st.ColumnText(2);
      l.attempt = static_cast<int>(st.ColumnInt64(3));
      l.update_time_ms = st.ColumnInt64(4);
      l.bulk = st.ColumnInt64(5) != 0;
    }
    return out;
  }

  absl::StatusOr<std::vector<std::string>> PurgeCandidates(
      const std::vector<State>& states, int64_t updated_before_ms,
      int limit) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(absl::StrCat("SELECT id FROM letters WHERE state IN (",
                                Placeholders(states.size()),
                                ") AND update_time_ms < ? AND id NOT IN "
                                "(SELECT letter_id FROM purged_letters) "
                                "ORDER BY update_time_ms, rowid LIMIT ?")));
    int p = 1;
    BindStates(st, &p, states);
    st.BindInt64(p++, updated_before_ms);
    st.BindInt64(p++, limit);
    std::vector<std::string> ids;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      ids.push_back(st.ColumnText(0));
    }
    return ids;
  }

  absl::StatusOr<int64_t> PurgedAt(const std::string& letter_id) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT purged_ms FROM purged_letters WHERE letter_id = ?"));
    st.BindText(1, letter_id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.ColumnInt64(0) : 0;
  }

  absl::StatusOr<std::vector<std::pair<State, int64_t>>> CountByState()
      override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("SELECT state, COUNT(*) FROM letters "
                                "GROUP BY state ORDER BY state"));
    std::vector<std::pair<State, int64_t>> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.emplace_back(static_cast<State>(st.ColumnInt64(0)),
                       st.ColumnInt64(1));
    }
    return out;
  }

  absl::StatusOr<std::vector<LetterGroupCount>> CountLetterGroups() override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("SELECT tenant, channel, state, COUNT(*), "
                                "MIN(update_time_ms) FROM letters "
                                "GROUP BY tenant, channel, state "
                                "ORDER BY tenant, channel, state"));
    std::vector<LetterGroupCount> out;
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
  }

  absl::StatusOr<std::optional<ReceiptTip>> LastReceipt(
      const std::string& letter_id) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT seq, sha256 FROM receipts "
                   "WHERE letter_id = ? ORDER BY seq DESC LIMIT 1"));
    st.BindText(1, letter_id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<ReceiptTip>();
    return std::optional<ReceiptTip>(
        ReceiptTip{st.ColumnInt64(0), st.ColumnText(1)});
  }

  absl::StatusOr<bool> HasReceiptIn(const std::string& letter_id,
                                    const std::vector<State>& states) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(absl::StrCat("SELECT 1 FROM receipts WHERE letter_id = ? "
                                "AND state IN (",
                                Placeholders(states.size()), ") LIMIT 1")));
    int p = 1;
    st.BindText(p++, letter_id);
    BindStates(st, &p, states);
    return st.Step();
  }

  absl::StatusOr<std::vector<ReceiptRecord>> GetReceipts(
      const std::string& letter_id) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare(absl::StrCat(kReceiptSelect,
                                             "WHERE r.letter_id = ? "
                                             "ORDER BY r.seq")));
    st.BindText(1, letter_id);
    return CollectReceipts(st);
  }

  absl::StatusOr<std::vector<ReceiptRecord>> ReceiptsAfter(
      int64_t after, const std::string& tenant, int limit) override {
    if (tenant.empty()) {
      ASSIGN_OR_RETURN(Statement st,
                       c_.Prepare(absl::StrCat(kReceiptSelect,
                                               "WHERE r.cursor > ? "
                                               "ORDER BY r.cursor LIMIT ?")));
      st.BindInt64(1, after);
      st.BindInt64(2, limit);
      return CollectReceipts(st);
    }
    ASSIGN_OR_RETURN(Statement st, c_.Prepare(absl::StrCat(
                                       kReceiptSelect,
                                       "WHERE r.tenant = ? AND r.cursor > ? "
                                       "ORDER BY r.cursor LIMIT ?")));
    st.BindText(1, tenant);
    st.BindInt64(2, after);
    st.BindInt64(3, limit);
    return CollectReceipts(st);
  }

  absl::StatusOr<int64_t> LastReceiptCursor() override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT COALESCE(MAX(cursor), 0) FROM receipts"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.ColumnInt64(0) : 0;
  }

  absl::StatusOr<std::vector<TransitionNote>> TransitionsAfter(
      int64_t after, int limit) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT r.cursor, r.tenant, r.state, r.channel, r.time_ms, "
                   "l.create_time_ms FROM receipts r "
                   "JOIN letters l ON l.id = r.letter_id "
                   "WHERE r.cursor > ? ORDER BY r.cursor LIMIT ?"));
    st.BindInt64(1, after);
    st.BindInt64(2, limit);
    std::vector<TransitionNote> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      TransitionNote& t = out.emplace_back();
      t.cursor = st.ColumnInt64(0);
      t.tenant = st.ColumnText(1);
      t.state = static_cast<State>(st.ColumnInt64(2));
      t.channel = st.ColumnText(3);
      t.time_ms = st.ColumnInt64(4);
      t.letter_create_time_ms = st.ColumnInt64(5);
    }
    return out;
  }

  absl::StatusOr<TransitionTotals> CountTransitions() override {
    // One statement: one snapshot for the counts and the cursor.
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT tenant, channel, state, COUNT(*), "
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
  }

  absl::StatusOr<std::vector<OutboxMessage>> PendingOutbox(int limit) override {
    ASSIGN_OR_RETURN(Statement st, c_.Prepare(absl::StrCat(
                                       "SELECT ", kOutboxColumns,
                                       " FROM outbox WHERE sent_at_ms IS NULL "
                                       "ORDER BY id LIMIT ?")));
    st.BindInt64(1, limit);
    std::vector<OutboxMessage> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(OutboxFromRow(st));
    }
    return out;
  }

  absl::StatusOr<std::optional<OutboxEntry>> GetOutbox(int64_t id) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("SELECT letter_id, state_when_sent, "
                                "sent_at_ms IS NOT NULL FROM outbox "
                                "WHERE id = ?"));
    st.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<OutboxEntry>();
    OutboxEntry e;
    e.letter_id = st.ColumnText(0);
    if (!st.ColumnIsNull(1)) {
      e.state_when_sent = static_cast<State>(st.ColumnInt64(1));
    }
    e.sent = st.ColumnInt64(2) != 0;
    return std::optional<OutboxEntry>(std::move(e));
  }

  absl::StatusOr<bool> HasPendingOutbox(const std::string& letter_id) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("SELECT 1 FROM outbox WHERE letter_id = ? "
                                "AND sent_at_ms IS NULL LIMIT 1"));
    st.BindText(1, letter_id);
    return st.Step();
  }

  absl::StatusOr<OutboxLag> GetOutboxLag() override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("SELECT COUNT(*), COALESCE(MIN(created_ms), 0) "
                                "FROM outbox WHERE sent_at_ms IS NULL"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    OutboxLag lag;
    if (row) {
      lag.pending = st.ColumnInt64(0);
      lag.oldest_pending_ms = st.ColumnInt64(1);
    }
    return lag;
  }

  absl::StatusOr<std::vector<TimerRecord>> DueTimers(int64_t now_ms,
                                                     int limit) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT letter_id, kind, due_ms FROM timers "
                   "WHERE due_ms <= ? ORDER BY due_ms, rowid LIMIT ?"));
    st.BindInt64(1, now_ms);
    st.BindInt64(2, limit);
    return CollectTimers(st);
  }

  absl::StatusOr<std::vector<TimerRecord>> GetTimers(
      const std::string& letter_id) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("SELECT letter_id, kind, due_ms FROM timers "
                                "WHERE letter_id = ? ORDER BY kind"));
    st.BindText(1, letter_id);
    return CollectTimers(st);
  }

  absl::StatusOr<bool> HasProviderEvent(const std::string& provider,
                                        const std::string& event_id) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("SELECT 1 FROM provider_events "
                                "WHERE provider = ? AND event_id = ?"));
    st.BindText(1, provider);
    st.BindText(2, event_id);
    return st.Step();
  }

  absl::StatusOr<std::vector<ProviderEventRecord>> GetProviderEvents(
      const std::string& letter_id) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT provider, event_id, letter_id, channel, kind, "
                   "time_ms, reason, evidence, received_ms, applied "
                   "FROM provider_events WHERE letter_id = ? "
                   "ORDER BY received_ms, rowid"));
    st.BindText(1, letter_id);
    std::vector<ProviderEventRecord> out;
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
  }

  absl::StatusOr<std::optional<std::string>> GetFeedPosition(
      const std::string& feed) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT position FROM feed_positions WHERE feed = ?"));
    st.BindText(1, feed);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(st.ColumnText(0));
  }

  absl::StatusOr<std::optional<UploadRecord>> GetUpload(
      const std::string& tenant, const std::string& sha256_hex) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT media_type, content, expire_time_ms "
                   "FROM uploads WHERE tenant = ? AND sha256 = ?"));
    st.BindText(1, tenant);
    st.BindText(2, sha256_hex);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<UploadRecord>();
    UploadRecord u;
    u.tenant = tenant;
    u.sha256_hex = sha256_hex;
    u.media_type = st.ColumnText(0);
    u.content = st.ColumnBlob(1);
    u.expire_time_ms = st.ColumnInt64(2);
    return std::optional<UploadRecord>(std::move(u));
  }

  absl::StatusOr<int64_t> LogSize() override {
    // Exactly this shape, so that SQLite answers from the end of the primary
    // key instead of scanning the table (COALESCE around MAX defeats that).
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT MAX(leaf_index) FROM receipt_log_leaves"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row && !st.ColumnIsNull(0) ? st.ColumnInt64(0) + 1 : 0;
  }

  absl::StatusOr<std::optional<std::string>> GetLogNode(
      int level, int64_t index) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("SELECT hash FROM receipt_log_nodes "
                                "WHERE level = ? AND idx = ?"));
    st.BindInt64(1, level);
    st.BindInt64(2, index);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(st.ColumnBlob(0));
  }

  absl::StatusOr<std::optional<TreeHead>> LatestTreeHead() override {
    ASSIGN_OR_RETURN(Statement st, c_.Prepare(absl::StrCat(
                                       "SELECT ", kHeadColumns,
                                       " FROM receipt_log_heads "
                                       "ORDER BY tree_size DESC LIMIT 1")));
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<TreeHead>();
    return std::optional<TreeHead>(HeadFromRow(st));
  }

  absl::StatusOr<std::optional<TreeHead>> GetTreeHead(
      int64_t tree_size) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare(absl::StrCat("SELECT ", kHeadColumns,
                                             " FROM receipt_log_heads "
                                             "WHERE tree_size = ?")));
    st.BindInt64(1, tree_size);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<TreeHead>();
    return std::optional<TreeHead>(HeadFromRow(st));
  }

  absl::StatusOr<std::vector<TreeHead>> ListTreeHeads(
      int64_t from_size, int64_t to_size) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(absl::StrCat("SELECT ", kHeadColumns,
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
  }

  absl::StatusOr<std::optional<ReceiptRecord>> ReceiptAtLeaf(
      int64_t leaf_index) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(absl::StrCat(kReceiptSelect,
                                "WHERE r.cursor = (SELECT cursor FROM "
                                "receipt_log_leaves WHERE leaf_index = ?)")));
    st.BindInt64(1, leaf_index);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<ReceiptRecord>();
    return std::optional<ReceiptRecord>(ReceiptFromRow(st));
  }

  absl::StatusOr<std::vector<ReceiptRecord>> LoggedReceipts(
      const ReceiptLogQuery& q) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(absl::StrCat(kReceiptSelect,
                                "JOIN receipt_log_leaves g ON g.cursor = "
                                "r.cursor WHERE g.leaf_index > ?",
                                LogQueryConditions(q),
                                " ORDER BY g.leaf_index LIMIT ?")));
    int p = 1;
    st.BindInt64(p++, q.after_leaf);
    BindLogQuery(st, &p, q);
    st.BindInt64(p++, q.limit > 0 ? q.limit : 1000);
    return CollectReceipts(st);
  }

  absl::StatusOr<LoggedReceiptCount> CountLoggedReceipts(
      const ReceiptLogQuery& q, int64_t tree_size) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(absl::StrCat(
            "SELECT COUNT(*), COUNT(DISTINCT r.letter_id) FROM receipts r "
            "JOIN receipt_log_leaves g ON g.cursor = r.cursor "
            "WHERE g.leaf_index < ?",
            LogQueryConditions(q))));
    int p = 1;
    st.BindInt64(p++, tree_size);
    BindLogQuery(st, &p, q);
    ASSIGN_OR_RETURN(bool row, st.Step());
    LoggedReceiptCount out;
    if (row) {
      out.receipts = st.ColumnInt64(0);
      out.letters = st.ColumnInt64(1);
    }
    return out;
  }

  absl::StatusOr<std::vector<UnloggedReceipt>> UnloggedReceipts(
      int limit) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT cursor, jws FROM receipts WHERE cursor > "
                   "COALESCE((SELECT MAX(cursor) FROM receipt_log_leaves), 0) "
                   "ORDER BY cursor LIMIT ?"));
    st.BindInt64(1, limit);
    std::vector<UnloggedReceipt> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.ColumnInt64(0), st.ColumnText(1)});
    }
    return out;
  }

  absl::StatusOr<std::vector<FailedAttemptRecord>> GetFailedAttempts(
      const std::string& letter_id) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT stage, attempt, time_ms, error, parked "
                   "FROM failed_attempts WHERE letter_id = ? ORDER BY id"));
    st.BindText(1, letter_id);
    std::vector<FailedAttemptRecord> out;
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
  }

  absl::StatusOr<std::vector<PausedChannelRecord>> PausedChannels() override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("SELECT channel, paused_by, since_ms "
                                "FROM paused_channels ORDER BY channel"));
    std::vector<PausedChannelRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnInt64(2)});
    }
    return out;
  }

  absl::StatusOr<std::vector<LetterFacts>> LetterStatistics(
      const StatsQuery& q) override {
    // States 5 DELIVERED, 6 READ, 7 SENT_PRINT (utpost.v1.Letter.State).
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(
            "SELECT l.tenant, l.id, l.create_time_ms, l.state, l.channel, "
            "EXISTS (SELECT 1 FROM receipts r WHERE r.letter_id = l.id "
            "AND r.state = 6), "
            "COALESCE((SELECT MIN(r.time_ms) FROM receipts r "
            "WHERE r.letter_id = l.id AND r.state IN (5, 7)), 0), "
            "EXISTS (SELECT 1 FROM provider_events e "
            "WHERE e.letter_id = l.id AND e.kind = 'RETURNED'), l.spec, "
            "l.print_sheets "
            "FROM letters l WHERE (?1 = '' OR l.tenant = ?1) "
            "AND l.create_time_ms >= ?2 AND l.create_time_ms < ?3 "
            "ORDER BY l.tenant, l.create_time_ms, l.id"));
    st.BindText(1, q.tenant);
    st.BindInt64(2, q.from_ms);
    st.BindInt64(3, q.to_ms);
    std::vector<LetterFacts> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      LetterFacts& f = out.emplace_back();
      f.tenant = st.ColumnText(0);
      f.id = st.ColumnText(1);
      f.create_time_ms = st.ColumnInt64(2);
      f.state = static_cast<State>(st.ColumnInt64(3));
      f.channel = st.ColumnText(4);
      f.read = st.ColumnInt64(5) != 0;
      f.delivered_ms = st.ColumnInt64(6);
      f.returned = st.ColumnInt64(7) != 0;
      ::utpost::v1::SubmitLetterRequest spec;
      if (!spec.ParseFromString(st.ColumnBlob(8))) {
        return absl::DataLossError(
            absl::StrCat("letter ", f.id, ": stored spec does not parse"));
      }
      f.a_post =
          spec.print_options().post_type() == ::utpost::v1::PrintOptions::A;
      f.print_sheets = static_cast<int>(st.ColumnInt64(9));
    }
    return out;
  }

  absl::StatusOr<std::vector<ProviderStatsRecord>> ProviderStatsSince(
      int64_t since_ms) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT process_id, channel, window_start_ms, "
                   "window_end_ms, sends, errors, latency_sum_us, "
                   "latency_max_us, last_error FROM provider_stats "
                   "WHERE window_end_ms > ? ORDER BY window_end_ms"));
    st.BindInt64(1, since_ms);
    std::vector<ProviderStatsRecord> out;
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
  }

  // ---- Writes ----

  // One writer at a time holds the whole database.
  absl::StatusOr<std::optional<LetterRow>> LockLetter(
      const std::string& id) override {
    return GetLetter(id);
  }

  absl::Status InsertLetter(const LetterRow& row,
                            const std::string& spec_bytes) override {
    const LetterRecord& r = row.record;
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO letters (id, tenant, client_reference, "
                   "request_digest, state, spec, create_time_ms, "
                   "update_time_ms, print_sheets, bulk) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    st.BindText(1, r.id);
    st.BindText(2, r.tenant);
    st.BindText(3, r.client_reference);
    st.BindText(4, row.request_digest);
    st.BindInt64(5, r.state);
    st.BindBlob(6, spec_bytes);
    st.BindInt64(7, r.create_time_ms);
    st.BindInt64(8, r.update_time_ms);
    st.BindInt64(9, row.print_sheets);
    st.BindInt64(10, r.bulk ? 1 : 0);
    return st.Run();
  }

  absl::Status InsertDocument(const std::string& letter_id, int index,
                              const Document& d) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO documents (letter_id, idx, file_name, "
                   "media_type, sha256, size, content) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    st.BindText(1, letter_id);
    st.BindInt64(2, index);
    st.BindText(3, d.file_name);
    st.BindText(4, d.media_type);
    st.BindText(5, d.sha256_hex);
    st.BindInt64(6, static_cast<int64_t>(d.content.size()));
    // The caller blocks until the commit, so the content outlives the
    // statement; no copy of what may be megabytes.
    st.BindBlobNoCopy(7, d.content);
    return st.Run();
  }

  absl::Status UpdateLetter(const std::string& id,
                            const LetterUpdate& u) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("UPDATE letters SET state = ?, channel = ?, "
                                "reason = ?, attempt = ?, handing_off = ?, "
                                "update_time_ms = ? WHERE id = ?"));
    st.BindInt64(1, u.state);
    st.BindText(2, u.channel);
    st.BindText(3, u.reason);
    st.BindInt64(4, u.attempt);
    st.BindInt64(5, u.handing_off ? 1 : 0);
    st.BindInt64(6, u.update_time_ms);
    st.BindText(7, id);
    return st.Run();
  }

  absl::Status TouchLetter(const std::string& id, int64_t now_ms) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("UPDATE letters SET update_time_ms = ? WHERE id = ?"));
    st.BindInt64(1, now_ms);
    st.BindText(2, id);
    return st.Run();
  }

  absl::Status PurgeDocuments(const std::string& letter_id,
                              int64_t now_ms) override {
    {
      ASSIGN_OR_RETURN(Statement st,
                       c_.Prepare("UPDATE documents SET content = x'' "
                                  "WHERE letter_id = ?"));
      st.BindText(1, letter_id);
      RETURN_IF_ERROR(st.Run());
    }
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("INSERT INTO purged_letters (letter_id, "
                                "purged_ms) VALUES (?, ?)"));
    st.BindText(1, letter_id);
    st.BindInt64(2, now_ms);
    return st.Run();
  }

  absl::StatusOr<int64_t> InsertReceipt(const ReceiptRecord& r) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO receipts (letter_id, tenant, seq, state, "
                   "channel, reason, time_ms, jws, sha256) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    st.BindText(1, r.letter_id);
    st.BindText(2, r.tenant);
    st.BindInt64(3, r.sequence);
    st.BindInt64(4, r.state);
    st.BindText(5, r.channel);
    st.BindText(6, r.reason);
    st.BindInt64(7, r.time_ms);
    st.BindText(8, r.jws);
    st.BindText(9, r.sha256_hex);
    RETURN_IF_ERROR(st.Run());
    return LastInsertRowId();
  }

  // One writer at a time holds the whole database.
  absl::Status LockReceiptLog() override { return absl::OkStatus(); }

  absl::Status AppendLogLeaf(int64_t leaf_index, int64_t cursor) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("INSERT INTO receipt_log_leaves "
                                "(leaf_index, cursor) VALUES (?, ?)"));
    st.BindInt64(1, leaf_index);
    st.BindInt64(2, cursor);
    return st.Run();
  }

  absl::Status PutLogNode(int level, int64_t index,
                          const std::string& hash) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO receipt_log_nodes (level, idx, hash) "
                   "VALUES (?, ?, ?)"));
    st.BindInt64(1, level);
    st.BindInt64(2, index);
    st.BindBlob(3, hash);
    return st.Run();
  }

  absl::Status InsertTreeHead(const TreeHead& h) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO receipt_log_heads (tree_size, "
                   "root_hash, time_ms, jws) VALUES (?, ?, ?, ?)"));
    st.BindInt64(1, h.tree_size);
    st.BindBlob(2, h.root_hash);
    st.BindInt64(3, h.time_ms);
    st.BindText(4, h.jws);
    return st.Run();
  }

  absl::StatusOr<int64_t> InsertOutbox(const std::string& letter_id,
                                       const OutboxMessage& m,
                                       int64_t now_ms) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO outbox (letter_id, exchange, routing_key, "
                   "body, state_when_sent, created_ms) "
                   "VALUES (?, ?, ?, ?, ?, ?)"));
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
    RETURN_IF_ERROR(st.Run());
    return LastInsertRowId();
  }

  absl::Status MarkOutboxSent(int64_t id, int64_t now_ms) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("UPDATE outbox SET sent_at_ms = ? WHERE id = ?"));
    st.BindInt64(1, now_ms);
    st.BindInt64(2, id);
    return st.Run();
  }

  absl::StatusOr<std::vector<OutboxMessage>> ClaimOutbox(
      const std::string& owner, int64_t now_ms, int64_t lease_until_ms,
      int limit) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(absl::StrCat("SELECT ", kOutboxColumns,
                                " FROM outbox WHERE sent_at_ms IS NULL "
                                "AND (claim_until_ms <= ? OR claimed_by = ?) "
                                "ORDER BY id LIMIT ?")));
    st.BindInt64(1, now_ms);
    st.BindText(2, owner);
    st.BindInt64(3, limit);
    std::vector<OutboxMessage> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(OutboxFromRow(st));
    }
    for (const OutboxMessage& m : out) {
      ASSIGN_OR_RETURN(Statement up,
                       c_.Prepare("UPDATE outbox SET claimed_by = ?, "
                                  "claim_until_ms = ? WHERE id = ?"));
      up.BindText(1, owner);
      up.BindInt64(2, lease_until_ms);
      up.BindInt64(3, m.id);
      RETURN_IF_ERROR(up.Run());
    }
    return out;
  }

  absl::Status PutTimer(const TimerRecord& t) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("INSERT OR REPLACE INTO timers "
                                "(letter_id, kind, due_ms) VALUES (?, ?, ?)"));
    st.BindText(1, t.letter_id);
    st.BindText(2, t.kind);
    st.BindInt64(3, t.due_ms);
    return st.Run();
  }

  absl::Status DeleteTimer(const std::string& letter_id,
                           const std::string& kind) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("DELETE FROM timers WHERE letter_id = ? AND kind = ?"));
    st.BindText(1, letter_id);
    st.BindText(2, kind);
    return st.Run();
  }

  absl::StatusOr<bool> TakeTimer(const TimerRecord& t) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("DELETE FROM timers WHERE letter_id = ? "
                                "AND kind = ? AND due_ms = ?"));
    st.BindText(1, t.letter_id);
    st.BindText(2, t.kind);
    st.BindInt64(3, t.due_ms);
    RETURN_IF_ERROR(st.Run());
    return c_.Changes() > 0;
  }

  absl::StatusOr<std::vector<TimerRecord>> ClaimDueTimers(
      const std::string& owner, int64_t now_ms, int64_t lease_until_ms,
      int limit) override {
    std::vector<TimerRecord> out;
    {
      ASSIGN_OR_RETURN(
          Statement st,
          c_.Prepare("SELECT letter_id, kind, due_ms FROM timers "
                     "WHERE due_ms <= ? AND (claim_until_ms <= ? OR "
                     "claimed_by = ?) ORDER BY due_ms, rowid LIMIT ?"));
      st.BindInt64(1, now_ms);
      st.BindInt64(2, now_ms);
      st.BindText(3, owner);
      st.BindInt64(4, limit);
      ASSIGN_OR_RETURN(out, CollectTimers(st));
    }
    for (const TimerRecord& t : out) {
      ASSIGN_OR_RETURN(Statement up,
                       c_.Prepare("UPDATE timers SET claimed_by = ?, "
                                  "claim_until_ms = ? WHERE letter_id = ? "
                                  "AND kind = ?"));
      up.BindText(1, owner);
      up.BindInt64(2, lease_until_ms);
      up.BindText(3, t.letter_id);
      up.BindText(4, t.kind);
      RETURN_IF_ERROR(up.Run());
    }
    return out;
  }

  absl::Status InsertProviderEvent(const ProviderEventRecord& e) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO provider_events (provider, event_id, "
                   "letter_id, channel, kind, time_ms, reason, evidence, "
                   "received_ms, applied) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                   "?)"));
    st.BindText(1, e.provider);
    st.BindText(2, e.event_id);
    st.BindText(3, e.letter_id);
    st.BindText(4, e.channel);
    st.BindText(5, e.kind);
    st.BindInt64(6, e.time_ms);
    st.BindText(7, e.reason);
    st.BindBlob(8, e.evidence);
    st.BindInt64(9, e.received_ms);
    st.BindInt64(10, e.applied ? 1 : 0);
    return st.Run();
  }

  absl::Status InsertFailedAttempt(const FailedAttemptRecord& a) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO failed_attempts (letter_id, stage, attempt, "
                   "time_ms, error, parked) VALUES (?, ?, ?, ?, ?, ?)"));
    st.BindText(1, a.letter_id);
    st.BindText(2, a.stage);
    st.BindInt64(3, a.attempt);
    st.BindInt64(4, a.time_ms);
    st.BindText(5, a.error);
    st.BindInt64(6, a.parked ? 1 : 0);
    return st.Run();
  }

  absl::Status PutFeedPosition(const std::string& feed,
                               const std::string& position,
                               int64_t now_ms) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("INSERT INTO feed_positions "
                                "(feed, position, updated_ms) VALUES (?, ?, ?) "
                                "ON CONFLICT (feed) DO UPDATE SET "
                                "position = excluded.position, "
                                "updated_ms = excluded.updated_ms"));
    st.BindText(1, feed);
    st.BindText(2, position);
    st.BindInt64(3, now_ms);
    return st.Run();
  }

  absl::StatusOr<int64_t> CountLetterOfDay(const std::string& tenant,
                                           int64_t day) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO tenant_days (tenant, day, letters) "
                   "VALUES (?, ?, 1) ON CONFLICT (tenant, day) "
                   "DO UPDATE SET letters = letters + 1 "
                   "RETURNING letters"));
    st.BindText(1, tenant);
    st.BindInt64(2, day);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return absl::InternalError("tenant_days: no count returned");
    const int64_t count = st.ColumnInt64(0);
    // RETURNING hands the row over before the statement is done.
    RETURN_IF_ERROR(st.Step().status());
    return count;
  }

  absl::Status PutUpload(const UploadRecord& u) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO uploads (tenant, sha256, media_type, "
                   "content, expire_time_ms) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT (tenant, sha256) DO UPDATE SET "
                   "expire_time_ms = excluded.expire_time_ms"));
    st.BindText(1, u.tenant);
    st.BindText(2, u.sha256_hex);
    st.BindText(3, u.media_type);
    st.BindBlobNoCopy(4, u.content);
    st.BindInt64(5, u.expire_time_ms);
    return st.Run();
  }

  absl::StatusOr<int64_t> DeleteUploadsExpiredBy(int64_t now_ms) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("DELETE FROM uploads WHERE expire_time_ms <= ?"));
    st.BindInt64(1, now_ms);
    RETURN_IF_ERROR(st.Run());
    return c_.Changes();
  }

  absl::Status PauseChannel(const PausedChannelRecord& p) override {
    ASSIGN_OR_RETURN(Statement st,
                     c_.Prepare("INSERT OR IGNORE INTO paused_channels "
                                "(channel, paused_by, since_ms) "
                                "VALUES (?, ?, ?)"));
    st.BindText(1, p.channel);
    st.BindText(2, p.paused_by);
    st.BindInt64(3, p.since_ms);
    return st.Run();
  }

  absl::Status ResumeChannel(const std::string& channel) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("DELETE FROM paused_channels WHERE channel = ?"));
    st.BindText(1, channel);
    return st.Run();
  }

  absl::Status InsertProviderStats(const ProviderStatsRecord& r) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO provider_stats (process_id, channel, "
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
    return st.Run();
  }

  absl::Status DeleteProviderStatsBefore(int64_t window_end_ms) override {
    ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("DELETE FROM provider_stats WHERE window_end_ms < ?"));
    st.BindInt64(1, window_end_ms);
    return st.Run();
  }

 private:
  int64_t LastInsertRowId() {
    auto st = c_.Prepare("SELECT last_insert_rowid()");
    if (!st.ok()) return 0;
    auto row = st->Step();
    return row.ok() && *row ? st->ColumnInt64(0) : 0;
  }

  // `row` holds kLetterColumns.
  absl::StatusOr<LetterRow> LetterFromRow(const Statement& row) {
    LetterRow out;
    LetterRecord& r = out.record;
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
    out.request_digest = row.ColumnText(9);
    out.attempt = static_cast<int>(row.ColumnInt64(10));
    out.handing_off = row.ColumnInt64(11) != 0;
    out.print_sheets = static_cast<int>(row.ColumnInt64(12));
    r.bulk = row.ColumnInt64(13) != 0;
    return out;
  }

  absl::Status FillDocuments(LetterRecord* r) {
    ASSIGN_OR_RETURN(std::vector<StoredDocument> docs,
                     GetDocuments(r->id, /*with_content=*/false));
    r->documents.clear();
    for (const StoredDocument& d : docs) {
      v1::DocumentInfo& info = r->documents.emplace_back();
      info.set_file_name(d.file_name);
      info.set_media_type(d.media_type);
      info.set_size_bytes(d.size);
      info.set_sha256(d.sha256_hex);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<LetterRow>> OneLetter(Statement& st) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<LetterRow>();
    ASSIGN_OR_RETURN(LetterRow r, LetterFromRow(st));
    RETURN_IF_ERROR(FillDocuments(&r.record));
    return std::optional<LetterRow>(std::move(r));
  }

  Connection& c_;
};

class SqliteEngine final : public Engine {
 public:
  SqliteEngine(const SqliteEngineOptions& options,
               std::unique_ptr<Connection> writer)
      : path_(options.path),
        busy_timeout_ms_(options.busy_timeout_ms),
        max_readers_(options.max_readers > 0 ? options.max_readers : 8),
        writer_(std::move(writer)) {}

  absl::Status Write(std::vector<WriteOp>* ops) override;
  absl::Status Read(const std::function<absl::Status(ReadTxn&)>& fn) override;
  bool log_in_transaction() const override { return true; }
  absl::StatusOr<bool> HoldSequencerLease() override { return true; }

 private:
  // One caller's ops, queued for the next group commit.
  struct WriteRequest {
    std::vector<WriteOp>* ops = nullptr;
    bool done = false;
    absl::Status status;  // Of the commit as a whole.
  };
  absl::Status RunGroup(const std::vector<WriteRequest*>& group);
  absl::StatusOr<std::unique_ptr<Connection>> AcquireReader();
  void ReleaseReader(std::unique_ptr<Connection> conn);

  const std::string path_;
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

absl::Status SqliteEngine::Write(std::vector<WriteOp>* ops) {
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

absl::Status SqliteEngine::RunGroup(const std::vector<WriteRequest*>& group) {
  absl::MutexLock lock(&writer_mu_);
  Connection& c = *writer_;
  SqliteTxn txn(c);
  c.clear_broken();
  absl::Status s = c.Exec("BEGIN IMMEDIATE");
  for (size_t i = 0; s.ok() && i < group.size(); ++i) {
    for (WriteOp& op : *group[i]->ops) {
      s = c.Exec("SAVEPOINT op");
      if (!s.ok()) break;
      op.status = op.run(txn);
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

absl::StatusOr<std::unique_ptr<Connection>> SqliteEngine::AcquireReader() {
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

void SqliteEngine::ReleaseReader(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&pool_mu_);
  if (conn->broken()) {
    // Closed rather than reused; the next reader opens a fresh one.
    --open_readers_;
    return;
  }
  idle_readers_.push_back(std::move(conn));
}

absl::Status SqliteEngine::Read(
    const std::function<absl::Status(ReadTxn&)>& fn) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, AcquireReader());
  absl::Status result = conn->Exec("BEGIN");
  if (result.ok()) {
    SqliteTxn txn(*conn);
    result = fn(txn);
  }
  // Ending a read transaction only drops its snapshot.
  if (conn->InTransaction() && !conn->Exec("COMMIT").ok()) {
    conn->RollbackQuietly();
  }
  ReleaseReader(std::move(conn));
  return result;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> OpenSqliteEngine(
    const SqliteEngineOptions& options) {
  if (options.path.empty() || options.path == ":memory:") {
    return absl::InvalidArgumentError("store path must name a database file");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                   Connection::Open(options.path, Connection::Mode::kWriter,
                                    options.busy_timeout_ms));
  RETURN_IF_ERROR(Migrate(*writer, options.path));
  return std::unique_ptr<Engine>(
      std::make_unique<SqliteEngine>(options, std::move(writer)));
}

}  // namespace utpost::store
