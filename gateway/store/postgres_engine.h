// The PostgreSQL engine: one database shared by any number of api and
// worker processes on any number of machines.
//
// Ordering and latency it promises:
//  - Writes commit with the server's durability (fsync, synchronous_commit
//    as the server is configured); each Engine::Write is one transaction on
//    one pooled connection, its ops in savepoints. Concurrent writers run
//    in parallel; those that change one letter wait for each other (the
//    letter's row is locked), and deadlocks or serialization failures are
//    retried from the start of the transaction.
//  - Receipt cursors are the commit order of receipt-writing transactions:
//    a writer holds the cursor counter's row from its first receipt until
//    it commits. So receipt writers commit one after another (the cost of
//    one commit each, about one fsync); everything else they do runs in
//    parallel.
//  - Receipts are queued, not logged, when they commit: the process that
//    holds the sequencer lease (a session-level pg_try_advisory_lock, as
//    Trillian's sequencer holds its election) makes them leaves of the log
//    in cursor order, in batches. A receipt's leaf index is therefore known
//    only after the next sequencing pass (the rules' SequenceReceipts, run
//    every 100 ms by every utpostd: gateway/maintenance.h), so a receipt is
//    in the log about 100 ms plus one commit after its own commit; until
//    then its `leaf_index` is -1. Tree heads are signed under the log's lock
//    (LockReceiptLog) by whichever process's timer comes first. Should the
//    lease holder die, its session ends, the lock is freed and another process
//    takes it on its next try.
//  - Outbox messages and timers are claimed with FOR UPDATE SKIP LOCKED and
//    a lease (claimed_by, claim_until_ms): a claim is exclusive until its
//    lease ends, and claimers never wait for each other.
//  - Reads run in REPEATABLE READ, READ ONLY transactions: one snapshot.
#ifndef UTPOST_GATEWAY_STORE_POSTGRES_ENGINE_H_
#define UTPOST_GATEWAY_STORE_POSTGRES_ENGINE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/store/engine.h"

namespace utpost::store {

struct PostgresEngineOptions {
  // libpq connection string or URI ("host=db dbname=utpost user=utpost
  // sslmode=verify-full"). Required.
  std::string conninfo;
  // When not empty, overrides any password in `conninfo`.
  std::string password;
  // Connections this process opens at most (plus one for the sequencer
  // lease while it is held).
  int pool_size = 8;
  // Reported in pg_stat_activity unless `conninfo` names one.
  std::string application_name = "utpostd";
};

// Connects, then brings the schema up to this build's version (numbered
// forward-only migrations in one transaction under an advisory lock, so
// processes may start at once). INVALID_ARGUMENT for missing options,
// UNAVAILABLE when the server cannot be reached or refuses the login,
// FAILED_PRECONDITION when the database's schema is newer than this build.
absl::StatusOr<std::unique_ptr<Engine>> OpenPostgresEngine(
    const PostgresEngineOptions& options);

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_POSTGRES_ENGINE_H_
