// The narrow interface between the store's rules and a database engine.
//
// gateway/store/store_impl.cc keeps every rule of the store (which
// transitions are allowed, how receipts are built, chained and signed, how
// the receipt log grows and its heads are signed, what a page token is);
// an engine only keeps rows and answers queries over them, inside
// transactions. So a second engine is rows and SQL, not a second copy of
// the rules: SQLite (sqlite_engine.h), PostgreSQL (postgres_engine.h) and an
// in-memory one for unit tests (memory_engine.h) sit beside each other.
//
// Nothing here names SQL; an engine may be no database at all.
#ifndef UTPOST_GATEWAY_STORE_ENGINE_H_
#define UTPOST_GATEWAY_STORE_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/store.h"

namespace utpost::store {

// A letter's row: the record callers see and what only the rules use.
struct LetterRow {
  LetterRecord record;  // `documents` filled in by reads, not by writes.
  std::string request_digest;
  // Attempts made at the current stage (reset by every state change).
  int attempt = 0;
  // Set while a hand-off to a provider may be under way (ClaimHandOff).
  bool handing_off = false;
  // NewLetter::print_sheets, set once at insert. 0 for letters stored
  // before the count was kept (SQLite schema 3, PostgreSQL migration 2).
  int print_sheets = 0;
};

// The columns of a letter that change after it is created.
struct LetterUpdate {
  State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;
  std::string reason;
  int attempt = 0;
  bool handing_off = false;
  int64_t update_time_ms = 0;
};

// One document as stored. `content` is empty when not asked for.
struct StoredDocument {
  std::string file_name;
  std::string media_type;
  std::string sha256_hex;
  int64_t size = 0;
  std::string content;
};

// A page of letters, newest first, with every condition that is set.
struct LetterQuery {
  std::string tenant;
  State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;
  std::string client_reference;
  std::string reason_contains;    // Substring, case-sensitive.
  std::string id_prefix;          // Only [0-9a-f-]; case-sensitive.
  int64_t created_before_ms = 0;  // Exclusive; 0: no bound.
  int64_t created_after_ms = 0;   // Exclusive; 0: no bound.
  // Paging: only letters ordered after this (create_time_ms, id) in
  // newest-first order, that is (create_time_ms, id) < after.
  std::optional<std::pair<int64_t, std::string>> after;
  int limit = 100;
};

// The newest receipt of a letter, which the next one chains to.
struct ReceiptTip {
  int64_t sequence = 0;
  std::string sha256_hex;
};

// What the outbox knows of one message.
struct OutboxEntry {
  std::string letter_id;
  std::optional<State> state_when_sent;
  bool sent = false;
};

// A receipt not yet a leaf of the log (engines whose log is sequenced
// after commit; see Engine::log_in_transaction).
struct UnloggedReceipt {
  int64_t cursor = 0;
  std::string jws;
};

// Reads inside one transaction: every read sees one snapshot (or, inside a
// WriteTxn, the transaction's own writes). Where rows are ordered by a time,
// ties are in the order the rows were written. NOT_FOUND is never an error of
// a lookup by key: absence is an empty optional. UNAVAILABLE: the engine
// cannot answer now. DATA_LOSS: a stored row does not parse.
class ReadTxn {
 public:
  virtual ~ReadTxn() = default;

  // Letters.
  virtual absl::StatusOr<std::optional<LetterRow>> GetLetter(
      const std::string& id) = 0;
  virtual absl::StatusOr<std::optional<LetterRow>> FindLetterByReference(
      const std::string& tenant, const std::string& client_reference) = 0;
  // At most `q.limit` letters, newest first (create_time_ms, then id, both
  // descending).
  virtual absl::StatusOr<std::vector<LetterRecord>> ListLetters(
      const LetterQuery& q) = 0;
  // In their order in the letter.
  virtual absl::StatusOr<std::vector<StoredDocument>> GetDocuments(
      const std::string& letter_id, bool with_content) = 0;
  // Letters in one of `states`, changed before `updated_before_ms`, with no
  // unsent outbox message and no timer; oldest change first.
  virtual absl::StatusOr<std::vector<StuckLetter>> StuckLetters(
      const std::vector<State>& states, int64_t updated_before_ms,
      int limit) = 0;
  // Letters in one of `states`, changed before `updated_before_ms`, whose
  // documents were not purged; oldest change first.
  virtual absl::StatusOr<std::vector<std::string>> PurgeCandidates(
      const std::vector<State>& states, int64_t updated_before_ms,
      int limit) = 0;
  // When the letter's documents were purged; 0 when they were not.
  virtual absl::StatusOr<int64_t> PurgedAt(const std::string& letter_id) = 0;
  virtual absl::StatusOr<std::vector<std::pair<State, int64_t>>>
  CountByState() = 0;
  virtual absl::StatusOr<std::vector<LetterGroupCount>> CountLetterGroups() = 0;

  // Receipts.
  virtual absl::StatusOr<std::optional<ReceiptTip>> LastReceipt(
      const std::string& letter_id) = 0;
  // Whether any receipt of the letter has one of `states`.
  virtual absl::StatusOr<bool> HasReceiptIn(
      const std::string& letter_id, const std::vector<State>& states) = 0;
  // By sequence; `client_reference` and `leaf_index` filled in.
  virtual absl::StatusOr<std::vector<ReceiptRecord>> GetReceipts(
      const std::string& letter_id) = 0;
  // Cursor > `after`, ascending, at most `limit`; `tenant` empty: all. An
  // engine hands out cursors so that a reader that sees cursor N also sees,
  // then and later, every receipt with a cursor below N.
  virtual absl::StatusOr<std::vector<ReceiptRecord>> ReceiptsAfter(
      int64_t after, const std::string& tenant, int limit) = 0;
  virtual absl::StatusOr<int64_t> LastReceiptCursor() = 0;
  virtual absl::StatusOr<std::vector<Store::TransitionNote>> TransitionsAfter(
      int64_t after, int limit) = 0;
  // One snapshot: the counts and the cursor of the last receipt counted.
  virtual absl::StatusOr<Store::TransitionTotals> CountTransitions() = 0;

  // Outbox.
  virtual absl::StatusOr<std::vector<OutboxMessage>> PendingOutbox(
      int limit) = 0;
  virtual absl::StatusOr<std::optional<OutboxEntry>> GetOutbox(int64_t id) = 0;
  virtual absl::StatusOr<bool> HasPendingOutbox(
      const std::string& letter_id) = 0;
  virtual absl::StatusOr<OutboxLag> GetOutboxLag() = 0;

  // Timers, provider events, feeds.
  virtual absl::StatusOr<std::vector<TimerRecord>> DueTimers(int64_t now_ms,
                                                             int limit) = 0;
  virtual absl::StatusOr<std::vector<TimerRecord>> GetTimers(
      const std::string& letter_id) = 0;
  virtual absl::StatusOr<bool> HasProviderEvent(
      const std::string& provider, const std::string& event_id) = 0;
  // In the order received.
  virtual absl::StatusOr<std::vector<ProviderEventRecord>> GetProviderEvents(
      const std::string& letter_id) = 0;
  virtual absl::StatusOr<std::optional<std::string>> GetFeedPosition(
      const std::string& feed) = 0;
  // Whatever its expiry.
  virtual absl::StatusOr<std::optional<UploadRecord>> GetUpload(
      const std::string& tenant, const std::string& sha256_hex) = 0;

  // Receipt log: leaves, complete subtrees (level 0: leaf hashes; level l
  // index i: the subtree over leaves [i * 2^l, (i + 1) * 2^l)), heads.
  virtual absl::StatusOr<int64_t> LogSize() = 0;
  virtual absl::StatusOr<std::optional<std::string>> GetLogNode(
      int level, int64_t index) = 0;
  virtual absl::StatusOr<std::optional<TreeHead>> LatestTreeHead() = 0;
  virtual absl::StatusOr<std::optional<TreeHead>> GetTreeHead(
      int64_t tree_size) = 0;
  virtual absl::StatusOr<std::vector<TreeHead>> ListTreeHeads(
      int64_t from_size, int64_t to_size) = 0;
  virtual absl::StatusOr<std::optional<ReceiptRecord>> ReceiptAtLeaf(
      int64_t leaf_index) = 0;
  // Logged receipts matching `q` (leaf > q.after_leaf), by leaf index.
  virtual absl::StatusOr<std::vector<ReceiptRecord>> LoggedReceipts(
      const ReceiptLogQuery& q) = 0;
  virtual absl::StatusOr<LoggedReceiptCount> CountLoggedReceipts(
      const ReceiptLogQuery& q, int64_t tree_size) = 0;
  // Receipts that are not leaves yet, by cursor, at most `limit`.
  virtual absl::StatusOr<std::vector<UnloggedReceipt>> UnloggedReceipts(
      int limit) = 0;

  // Operations.
  virtual absl::StatusOr<std::vector<FailedAttemptRecord>> GetFailedAttempts(
      const std::string& letter_id) = 0;
  virtual absl::StatusOr<std::vector<PausedChannelRecord>> PausedChannels() = 0;
  virtual absl::StatusOr<std::vector<ProviderStatsRecord>> ProviderStatsSince(
      int64_t since_ms) = 0;
  // Letters created in [q.from_ms, q.to_ms) (of q.tenant unless empty), by
  // tenant, create_time_ms, id.
  virtual absl::StatusOr<std::vector<LetterFacts>> LetterStatistics(
      const StatsQuery& q) = 0;
};

// Writes inside one transaction (and one savepoint of a group commit: see
// Engine::Write). A failed write leaves the savepoint to be rolled back by
// the engine; the rules never retry inside a transaction. A row of a letter
// that does not exist is refused (ALREADY_EXISTS or FAILED_PRECONDITION;
// the rules never write one); an update of a missing letter changes nothing.
class WriteTxn : public ReadTxn {
 public:
  // As GetLetter, and no other transaction changes the letter (or appends
  // receipts to it) until this one ends. Engines with one writer at a time
  // need do nothing more.
  virtual absl::StatusOr<std::optional<LetterRow>> LockLetter(
      const std::string& id) = 0;
  // ALREADY_EXISTS when the id, or the tenant's client reference, exists.
  // `spec_bytes` is the serialised `row.record.spec`.
  virtual absl::Status InsertLetter(const LetterRow& row,
                                    const std::string& spec_bytes) = 0;
  // `doc.content` must stay alive until the transaction ends (no copy of
  // what may be megabytes).
  virtual absl::Status InsertDocument(const std::string& letter_id, int index,
                                      const Document& doc) = 0;
  virtual absl::Status UpdateLetter(const std::string& id,
                                    const LetterUpdate& update) = 0;
  // Sets only the update time.
  virtual absl::Status TouchLetter(const std::string& id, int64_t now_ms) = 0;
  // Empties the content of the letter's documents (names, digests and sizes
  // stay) and records when.
  virtual absl::Status PurgeDocuments(const std::string& letter_id,
                                      int64_t now_ms) = 0;

  // Writes a receipt (its `cursor` and `leaf_index` are ignored) and returns
  // its cursor. With Engine::log_in_transaction() the rules append it to the
  // log in this same transaction; else the sequencer does later.
  virtual absl::StatusOr<int64_t> InsertReceipt(const ReceiptRecord& r) = 0;
  // No other transaction appends to the log or signs a head until this one
  // ends.
  virtual absl::Status LockReceiptLog() = 0;
  // Leaf `leaf_index` (the next one) is the receipt with `cursor`.
  virtual absl::Status AppendLogLeaf(int64_t leaf_index, int64_t cursor) = 0;
  virtual absl::Status PutLogNode(int level, int64_t index,
                                  const std::string& hash) = 0;
  virtual absl::Status InsertTreeHead(const TreeHead& head) = 0;

  // Returns the message's id. The message belongs to `letter_id` whatever
  // its own `letter_id` says.
  virtual absl::StatusOr<int64_t> InsertOutbox(const std::string& letter_id,
                                               const OutboxMessage& m,
                                               int64_t now_ms) = 0;
  virtual absl::Status MarkOutboxSent(int64_t id, int64_t now_ms) = 0;
  // Up to `limit` unsent messages, oldest first, that no other owner's live
  // claim holds (a lease until T is over at T; an owner's own messages come
  // back to it, their lease renewed), now held by `owner` until
  // `lease_until_ms`. Two owners never hold one message at once.
  virtual absl::StatusOr<std::vector<OutboxMessage>> ClaimOutbox(
      const std::string& owner, int64_t now_ms, int64_t lease_until_ms,
      int limit) = 0;

  // Writes or replaces the letter's timer of `timer.kind`.
  virtual absl::Status PutTimer(const TimerRecord& timer) = 0;
  virtual absl::Status DeleteTimer(const std::string& letter_id,
                                   const std::string& kind) = 0;
  // Removes the timer if it is still exactly `timer`; false when it is gone
  // or was replaced.
  virtual absl::StatusOr<bool> TakeTimer(const TimerRecord& timer) = 0;
  // As ClaimOutbox, for timers due at `now_ms`, earliest first.
  virtual absl::StatusOr<std::vector<TimerRecord>> ClaimDueTimers(
      const std::string& owner, int64_t now_ms, int64_t lease_until_ms,
      int limit) = 0;

  // `event.received_ms` and `event.applied` are written as given.
  virtual absl::Status InsertProviderEvent(
      const ProviderEventRecord& event) = 0;
  virtual absl::Status InsertFailedAttempt(const FailedAttemptRecord& a) = 0;
  virtual absl::Status PutFeedPosition(const std::string& feed,
                                       const std::string& position,
                                       int64_t now_ms) = 0;
  // Adds one to the letters `tenant` stored on `day` (days since the Unix
  // epoch, UTC) and returns the new count; until this transaction ends no
  // other one counts for the same tenant and day.
  virtual absl::StatusOr<int64_t> CountLetterOfDay(const std::string& tenant,
                                                   int64_t day) = 0;
  // Inserts, or replaces the expiry of the row with the same tenant and
  // digest.
  virtual absl::Status PutUpload(const UploadRecord& upload) = 0;
  // Deletes the uploads that expire at or before `now_ms`; returns how many.
  virtual absl::StatusOr<int64_t> DeleteUploadsExpiredBy(int64_t now_ms) = 0;
  // Keeps an existing pause as it is.
  virtual absl::Status PauseChannel(const PausedChannelRecord& pause) = 0;
  virtual absl::Status ResumeChannel(const std::string& channel) = 0;
  virtual absl::Status InsertProviderStats(const ProviderStatsRecord& r) = 0;
  virtual absl::Status DeleteProviderStatsBefore(int64_t window_end_ms) = 0;
};

// A database. Thread-safe.
class Engine {
 public:
  virtual ~Engine() = default;

  // One unit of a group commit.
  struct WriteOp {
    std::function<absl::Status(WriteTxn&)> run;
    absl::Status status;  // The op's own outcome, once committed.
  };

  // Runs every op of `ops`, each in its own savepoint so that an op that
  // returns an error is undone alone, and commits them, possibly together
  // with other callers' ops (one durable commit for all). Non-OK: nothing of
  // `ops` was committed (UNAVAILABLE: try again later), except when the
  // connection to a database server broke during the commit and the server
  // could not be asked afterwards: then the message says the outcome is
  // unknown (the rules are idempotent where it matters: a retried letter is
  // found by its client reference). OK: every op's
  // `status` says how it went, and the OK ones are durable.
  // An op may be run more than once (when a commit is retried), so it must
  // reset whatever it reports before it starts.
  virtual absl::Status Write(std::vector<WriteOp>* ops) = 0;

  // Runs `fn` in a read transaction (one snapshot) and returns its status.
  virtual absl::Status Read(
      const std::function<absl::Status(ReadTxn&)>& fn) = 0;

  // True: receipts become leaves of the log in the transaction that writes
  // them, so the log's order is the commit order (an engine with one
  // writer). False: receipts are queued and a sequencer makes them leaves
  // after commit (see Store::SequenceReceipts).
  virtual bool log_in_transaction() const = 0;

  // Engine-wide exclusivity for the sequencer, held across transactions:
  // true when this process holds it now (taking it if free). An engine with
  // one writer process may always return true.
  virtual absl::StatusOr<bool> HoldSequencerLease() = 0;
};

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_ENGINE_H_
