#include "gateway/store/pg_schema.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace utpost::store::internal {
namespace {

// Version 1: the tables of the SQLite engine in PostgreSQL types, plus the
// columns that let many processes share them.
//
// Times are milliseconds since the Unix epoch (BIGINT); states are
// utpost.v1.Letter.State numbers. Every text column uses the "C"
// collation: byte order, as SQLite compares, whatever the database's
// locale, so that newest-first paging by (create_time_ms, id) and id-prefix
// searches give the same answers on both engines (and LIKE 'prefix%' can
// use the primary key's index).
//
// Receipt cursors are not a sequence: a writer takes the next one from
// receipt_cursor, whose row it then holds locked until it commits, so that
// cursors are in commit order and a reader that sees cursor N sees every
// receipt below N (a sequence hands out numbers in call order, and a
// transaction holding a lower one may commit later). The receipt log is
// filled after commit by the sequencer (the holder of an advisory lock):
// a receipt is queued until it has a row in receipt_log_leaves, and leaves
// are appended in cursor order, so the queue is every cursor above the
// last leaf's.
//
// Outbox messages and timers carry a claim (claimed_by, claim_until_ms):
// a worker takes unclaimed or expired rows with FOR UPDATE SKIP LOCKED and
// holds them for a lease, so two workers never send one message at once and
// a dead worker's claims lapse.
constexpr char kVersion1[] = R"sql(
CREATE TABLE letters (
  id               TEXT COLLATE "C" PRIMARY KEY,
  tenant           TEXT COLLATE "C" NOT NULL,
  client_reference TEXT COLLATE "C" NOT NULL,
  request_digest   TEXT COLLATE "C" NOT NULL,
  state            INTEGER NOT NULL,
  channel          TEXT COLLATE "C" NOT NULL DEFAULT '',
  reason           TEXT COLLATE "C" NOT NULL DEFAULT '',
  spec             BYTEA NOT NULL,  -- utpost.v1.SubmitLetterRequest, no content
  attempt          INTEGER NOT NULL DEFAULT 0,
  handing_off      BOOLEAN NOT NULL DEFAULT FALSE,
  create_time_ms   BIGINT NOT NULL,
  update_time_ms   BIGINT NOT NULL,
  UNIQUE (tenant, client_reference)
);
CREATE INDEX letters_by_time ON letters (create_time_ms, id);
CREATE INDEX letters_by_tenant_time ON letters (tenant, create_time_ms, id);
CREATE INDEX letters_by_state_time ON letters (state, create_time_ms, id);
CREATE INDEX letters_by_state_update ON letters (state, update_time_ms);

CREATE TABLE documents (
  letter_id  TEXT COLLATE "C" NOT NULL REFERENCES letters (id),
  idx        INTEGER NOT NULL,
  file_name  TEXT COLLATE "C" NOT NULL,
  media_type TEXT COLLATE "C" NOT NULL,
  sha256     TEXT COLLATE "C" NOT NULL,
  size       BIGINT NOT NULL,
  content    BYTEA NOT NULL,
  PRIMARY KEY (letter_id, idx)
);
-- PDFs are compressed already: store them out of line without trying again.
ALTER TABLE documents ALTER COLUMN content SET STORAGE EXTERNAL;

CREATE TABLE outbox (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  letter_id       TEXT COLLATE "C" NOT NULL REFERENCES letters (id),
  exchange        TEXT COLLATE "C" NOT NULL,
  routing_key     TEXT COLLATE "C" NOT NULL,
  body            BYTEA NOT NULL,
  state_when_sent INTEGER,
  created_ms      BIGINT NOT NULL,
  sent_at_ms      BIGINT,
  claimed_by      TEXT COLLATE "C",
  claim_until_ms  BIGINT
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at_ms IS NULL;
CREATE INDEX outbox_unsent_by_letter ON outbox (letter_id)
  WHERE sent_at_ms IS NULL;

CREATE TABLE receipt_cursor (
  only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
  last     BIGINT NOT NULL
);
INSERT INTO receipt_cursor (only_row, last) VALUES (TRUE, 0);

CREATE TABLE receipts (
  cursor    BIGINT PRIMARY KEY,
  letter_id TEXT COLLATE "C" NOT NULL REFERENCES letters (id),
  tenant    TEXT COLLATE "C" NOT NULL,
  seq       BIGINT NOT NULL,
  state     INTEGER NOT NULL,
  channel   TEXT COLLATE "C" NOT NULL,
  reason    TEXT COLLATE "C" NOT NULL,
  time_ms   BIGINT NOT NULL,
  jws       TEXT COLLATE "C" NOT NULL,
  sha256    TEXT COLLATE "C" NOT NULL,  -- lowercase hex SHA-256 of jws
  UNIQUE (letter_id, seq)
);
CREATE INDEX receipts_by_tenant ON receipts (tenant, cursor);

CREATE TABLE timers (
  letter_id      TEXT COLLATE "C" NOT NULL REFERENCES letters (id),
  kind           TEXT COLLATE "C" NOT NULL,
  due_ms         BIGINT NOT NULL,
  claimed_by     TEXT COLLATE "C",
  claim_until_ms BIGINT,
  PRIMARY KEY (letter_id, kind)
);
CREATE INDEX timers_by_due ON timers (due_ms);

-- No foreign key: an event about an unknown letter is kept too.
CREATE TABLE provider_events (
  received_seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  provider     TEXT COLLATE "C" NOT NULL,
  event_id     TEXT COLLATE "C" NOT NULL,
  letter_id    TEXT COLLATE "C" NOT NULL,
  channel      TEXT COLLATE "C" NOT NULL,
  kind         TEXT COLLATE "C" NOT NULL,
  time_ms      BIGINT NOT NULL,
  reason       TEXT COLLATE "C" NOT NULL,
  evidence     BYTEA NOT NULL,
  received_ms  BIGINT NOT NULL,
  applied      BOOLEAN NOT NULL,
  PRIMARY KEY (provider, event_id)
);
CREATE INDEX provider_events_by_letter
  ON provider_events (letter_id, received_ms, received_seq);

-- Receipt log: one RFC 9162 Merkle tree over all receipts. Level 0 of
-- receipt_log_nodes holds the leaf hashes, level l index i the subtree over
-- leaves [i * 2^l, (i + 1) * 2^l).
CREATE TABLE receipt_log_leaves (
  leaf_index BIGINT PRIMARY KEY,  -- from 0, no gaps
  cursor     BIGINT NOT NULL UNIQUE REFERENCES receipts (cursor)
);
CREATE TABLE receipt_log_nodes (
  level INTEGER NOT NULL,
  idx   BIGINT NOT NULL,
  hash  BYTEA NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE TABLE receipt_log_heads (
  tree_size BIGINT PRIMARY KEY,
  root_hash BYTEA NOT NULL,
  time_ms   BIGINT NOT NULL,
  jws       TEXT COLLATE "C" NOT NULL
);

CREATE TABLE purged_letters (
  letter_id TEXT COLLATE "C" PRIMARY KEY REFERENCES letters (id),
  purged_ms BIGINT NOT NULL
);

CREATE TABLE feed_positions (
  feed       TEXT COLLATE "C" PRIMARY KEY,
  position   TEXT COLLATE "C" NOT NULL,
  updated_ms BIGINT NOT NULL
);

CREATE TABLE failed_attempts (
  id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  letter_id TEXT COLLATE "C" NOT NULL REFERENCES letters (id),
  stage     TEXT COLLATE "C" NOT NULL,
  attempt   INTEGER NOT NULL,
  time_ms   BIGINT NOT NULL,
  error     TEXT COLLATE "C" NOT NULL,
  parked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX failed_attempts_by_letter ON failed_attempts (letter_id, id);

CREATE TABLE paused_channels (
  channel   TEXT COLLATE "C" PRIMARY KEY,
  paused_by TEXT COLLATE "C" NOT NULL,
  since_ms  BIGINT NOT NULL
);

CREATE TABLE provider_stats (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  process_id      TEXT COLLATE "C" NOT NULL,
  channel         TEXT COLLATE "C" NOT NULL,
  window_start_ms BIGINT NOT NULL,
  window_end_ms   BIGINT NOT NULL,
  sends           BIGINT NOT NULL,
  errors          BIGINT NOT NULL,
  latency_sum_us  BIGINT NOT NULL,
  latency_max_us  BIGINT NOT NULL,
  last_error      TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX provider_stats_by_end ON provider_stats (window_end_ms);
)sql";

// Version 2: the sheets each letter takes printed, counted from its
// documents' pages at submission, for statistics (#14). Letters stored
// before it have 0: not known.
constexpr char kVersion2[] = R"sql(
ALTER TABLE letters ADD COLUMN print_sheets INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 3: letters of a bulk run (SubmitBatch), whose work items travel
// the bulk lane (#13). Letters stored before it travel the single lane.
constexpr char kVersion3[] = R"sql(
ALTER TABLE letters ADD COLUMN bulk BOOLEAN NOT NULL DEFAULT FALSE;
)sql";

// Version 4: letters stored per tenant and UTC day, counted for tenants
// with a daily quota (TenantLimits.letters_per_day, #13).
constexpr char kVersion4[] = R"sql(
CREATE TABLE tenant_days (
  tenant  TEXT COLLATE "C" NOT NULL,
  day     BIGINT NOT NULL,  -- days since the Unix epoch, UTC
  letters BIGINT NOT NULL,
  PRIMARY KEY (tenant, day)
);
)sql";

// Version 5: documents uploaded with UploadDocument, for letters of their
// tenant to reference by digest until they expire (#13).
constexpr char kVersion5[] = R"sql(
CREATE TABLE uploads (
  tenant         TEXT COLLATE "C" NOT NULL,
  sha256         TEXT COLLATE "C" NOT NULL,
  media_type     TEXT NOT NULL,
  content        BYTEA NOT NULL,
  expire_time_ms BIGINT NOT NULL,
  PRIMARY KEY (tenant, sha256)
);
CREATE INDEX uploads_by_expiry ON uploads (expire_time_ms);
)sql";

constexpr char kCreateMigrationsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
))sql";

}  // namespace

const std::vector<PgMigration>& PgMigrations() {
  static const auto* migrations = new std::vector<PgMigration>{
      {1,
       "letters, documents, outbox, receipts, timers, provider events, "
       "receipt log, operations",
       kVersion1},
      {2, "letters.print_sheets: sheets counted at submission", kVersion2},
      {3, "letters.bulk: the lane a letter's work items travel", kVersion3},
      {4, "tenant_days: letters per tenant and day, for daily quotas",
       kVersion4},
      {5, "uploads: documents uploaded ahead of their letters", kVersion5},
  };
  return *migrations;
}

absl::StatusOr<int> MigratePgSchema(
    PgPool& pool, const std::vector<PgMigration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InternalError(
          absl::StrCat("postgres: migration ", i + 1, " is numbered ",
                       migrations[i].version, " (must be 1, 2, 3 ...)"));
    }
  }
  const int latest = static_cast<int>(migrations.size());
  int result = 0;
  absl::Status s = RunPgTransaction(
      pool, PgTxMode::kWrite, [&](PgConnection& c) -> absl::Status {
        PgParams key;
        key.Int(kPgMigrationLockKey);
        RETURN_IF_ERROR(
            c.Query("SELECT pg_advisory_xact_lock($1)", key).status());
        RETURN_IF_ERROR(c.Exec(kCreateMigrationsTable));
        ASSIGN_OR_RETURN(
            PgResult r,
            c.Query("SELECT version, name, applied_at::text "
                    "FROM schema_migrations ORDER BY version DESC LIMIT 1"));
        int current = r.rows() == 0 ? 0 : static_cast<int>(r.Int(0, 0));
        if (current > latest) {
          return absl::FailedPreconditionError(absl::StrCat(
              "postgres: the database's schema is version ", current, " (\"",
              r.Text(0, 1), "\", applied ", r.Text(0, 2),
              "), newer than this build's version ", latest,
              ": run a build at least as new as the one that upgraded it "
              "(this one will not write to it)"));
        }
        for (int v = current + 1; v <= latest; ++v) {
          const PgMigration& m = migrations[v - 1];
          absl::Status applied = c.Exec(m.sql);
          if (!applied.ok()) {
            return absl::Status(applied.code(),
                                absl::StrCat("postgres: migration ", v, " (",
                                             m.name, "): ", applied.message()));
          }
          PgParams p;
          p.Int(v).Text(m.name);
          RETURN_IF_ERROR(
              c.Query("INSERT INTO schema_migrations (version, name) "
                      "VALUES ($1::int, $2)",
                      p)
                  .status());
        }
        result = latest;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return result;
}

}  // namespace utpost::store::internal
