// Internal to gateway/store: the PostgreSQL engine's schema as numbered,
// forward-only migrations, and the runner that applies them at start.
//
// Every process that opens the store calls MigratePgSchema. It takes a
// transaction-scoped advisory lock first, so that processes starting at
// once apply each migration exactly once (the others wait, then find
// nothing to do); then it applies every migration newer than the database
// in that one transaction (DDL is transactional in PostgreSQL: an upgrade
// is all or nothing) and records each in schema_migrations (version, name,
// applied_at). A database whose newest recorded version is above this
// build's is refused with FAILED_PRECONDITION: an older binary must not
// write rows a newer schema gives other meanings.
//
// Migrations are never edited once released; a change is a new migration.
#ifndef UTPOST_GATEWAY_STORE_PG_SCHEMA_H_
#define UTPOST_GATEWAY_STORE_PG_SCHEMA_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/store/pg_db.h"

namespace utpost::store::internal {

struct PgMigration {
  int version;       // From 1, no gaps.
  const char* name;  // What it does, for operators (schema_migrations.name).
  const char* sql;   // May hold several statements.
};

// This build's migrations, oldest first.
const std::vector<PgMigration>& PgMigrations();

// The key of the advisory lock the runner holds (pg_advisory_xact_lock).
constexpr int64_t kPgMigrationLockKey = 0x7574706f73740001;  // "utpost" 1

// Brings the database behind `pool` to the newest of `migrations` and
// returns that version. FAILED_PRECONDITION when the database is newer,
// INTERNAL when `migrations` are not numbered 1, 2, 3 ..., other errors as
// RunPgTransaction returns them (nothing applied).
absl::StatusOr<int> MigratePgSchema(
    PgPool& pool, const std::vector<PgMigration>& migrations = PgMigrations());

}  // namespace utpost::store::internal

#endif  // UTPOST_GATEWAY_STORE_PG_SCHEMA_H_
