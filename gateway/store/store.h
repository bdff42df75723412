// The gateway's durable state: letters, their documents, the outbox of work
// items waiting to be published, and the signed receipts. The only place
// that speaks SQL is below gateway/store/. The rules live in one
// engine-neutral implementation (store_impl.h) over engines (engine.h):
// SQLite by default, PostgreSQL for several machines, memory for tests;
// make_store.h opens the one the configuration names.
#ifndef UTPOST_GATEWAY_STORE_STORE_H_
#define UTPOST_GATEWAY_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/ops_records.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::store {

using State = ::utpost::v1::Letter::State;

// A work item for the broker, written in the same transaction as the state
// change that calls for it and published by the outbox relay.
struct OutboxMessage {
  int64_t id = 0;  // Assigned by the store.
  std::string exchange;
  std::string routing_key;
  std::string body;
  // When set, the letter moves from RECEIVED to this state once the
  // message is confirmed by the broker (QUEUED for the routing item).
  std::optional<State> state_when_sent;
  std::string letter_id;
};

struct Document {
  std::string file_name;
  std::string media_type;
  std::string content;
  std::string sha256_hex;
};

// A letter to create. `request_digest` is a digest of the whole request,
// used to tell a retry from a conflicting reuse of `client_reference`.
struct NewLetter {
  std::string id;  // UUID chosen by the caller.
  std::string tenant;
  std::string client_reference;
  std::string request_digest;
  // Recipient, title, policy and print options; the documents' content is
  // carried in `documents`, not here.
  ::utpost::v1::SubmitLetterRequest spec;
  std::vector<Document> documents;
  // The sheets of paper the letter takes printed, from the page counts of
  // its inspected documents (PrintSheetsOf in gateway/api/letter_validator.h),
  // whatever its channel turns out to be; for statistics and their cost.
  // 0: not known.
  int print_sheets = 0;
  // Submitted as part of a bulk run (SubmitBatch): every work item of the
  // letter travels the bulk lane (queue::Topology).
  bool bulk = false;
  // The tenant's daily quota (config TenantLimits.letters_per_day); 0: none.
  // When set, the letter is counted against it in its own transaction, and
  // refused RESOURCE_EXHAUSTED, with the time until midnight UTC as its
  // retry delay (common/retry_delay.h), once the day's letters reach it.
  int64_t letters_per_day = 0;
  // Published after commit: the routing work item.
  OutboxMessage first_work;
};

// A letter as stored. `spec` has no document content.
struct LetterRecord {
  std::string id;
  std::string tenant;
  std::string client_reference;
  State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;
  std::string reason;
  ::utpost::v1::SubmitLetterRequest spec;
  std::vector<::utpost::v1::DocumentInfo> documents;
  int64_t create_time_ms = 0;
  int64_t update_time_ms = 0;
  // NewLetter::bulk: its work items travel the bulk lane.
  bool bulk = false;
};

struct ReceiptRecord {
  int64_t cursor = 0;  // Global, increasing: the watch cursor.
  std::string letter_id;
  std::string tenant;
  std::string client_reference;
  int64_t sequence = 0;  // Within the letter, from 1.
  State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;
  std::string reason;
  int64_t time_ms = 0;
  std::string jws;
  std::string sha256_hex;  // Of `jws`.
  // Position in the receipt log (#4), from 0; -1 while not in the log.
  int64_t leaf_index = -1;
};

// A signed tree head of the receipt log (#4).
struct TreeHead {
  int64_t tree_size = 0;
  std::string root_hash;  // Raw 32 bytes, RFC 9162.
  int64_t time_ms = 0;
  std::string jws;  // Signed by the receipt signer; see jws_receipt_signer.h.
};

// Receipts of one tenant for an export (#4).
struct ReceiptLogQuery {
  std::string tenant;       // Empty: all tenants.
  std::string letter_id;    // Empty: every letter.
  int64_t from_ms = 0;      // Receipt time, inclusive.
  int64_t to_ms = 0;        // Exclusive; 0: no upper bound.
  int64_t after_leaf = -1;  // Only leaves after this one (paging).
  int limit = 1000;
};

// How many logged receipts, of how many letters, match a ReceiptLogQuery.
struct LoggedReceiptCount {
  int64_t receipts = 0;
  int64_t letters = 0;
};

// Channels, timers, provider receipts (#3).

// A timer kept in the store: when `due_ms` passes, a timer scanner acts on
// the letter (see gateway/dispatch/timer_scanner.h). One per (letter, kind).
struct TimerRecord {
  std::string letter_id;
  // "print_if_unread" (print unless read by then) or "not_before" (route
  // when due).
  std::string kind;
  int64_t due_ms = 0;
};

// One event a provider reported about a letter, kept as evidence.
struct ProviderEventRecord {
  std::string provider;  // Unique together with `event_id`.
  std::string event_id;
  std::string letter_id;  // The message id the event names; may be unknown.
  std::string channel;    // The channel it came from.
  std::string kind;       // "DELIVERED", "READ", "POSTED", "FAILED", ...
  int64_t time_ms = 0;    // The provider's time.
  std::string reason;
  std::string evidence;     // The provider's own receipt, verbatim.
  int64_t received_ms = 0;  // Set by the store.
  bool applied = false;     // Set by the store: it moved the letter.
};

struct ProviderEventOutcome {
  bool duplicate = false;  // Seen before: nothing was written.
  bool moved = false;      // One of the candidate transitions was applied.
};

// A letter in QUEUED or ROUTED with nothing pending for it (see
// Store::StuckLetters).
struct StuckLetter {
  std::string id;
  State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;
  int attempt = 0;
  int64_t update_time_ms = 0;
  bool bulk = false;  // LetterRecord::bulk.
};

// A state change to apply.
struct Transition {
  std::vector<State> from;  // Allowed current states.
  State to = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;  // Empty: keep the current one.
  std::string reason;
  std::vector<OutboxMessage> outbox;  // Written in the same transaction.
  // Further states reached at once, in order, each with its own receipt, in
  // the same transaction: a provider that answers "handed off and in the
  // mailbox" in one reply must not leave the letter half-way after a crash.
  struct Step {
    State to = ::utpost::v1::Letter::STATE_UNSPECIFIED;
    std::string reason;
  };
  std::vector<Step> then;
  // Fail (FAILED_PRECONDITION) while a hand-off to a provider may be under
  // way (see Store::ClaimHandOff), and once any provider has had the letter
  // (a letter ROUTED again to print after its digital delivery went
  // unread). For cancellation: only a letter no provider has seen can be.
  bool unless_handing_off = false;
  // Carried into the receipt (see receipts::ReceiptContent).
  std::string provider;
  std::string provider_receipt;
  // Timers (#3), in the same transaction, after the state changes: these
  // kinds are removed, then these timers written (replacing one of the
  // same kind).
  std::vector<std::string> clear_timers;
  std::vector<TimerRecord> set_timers;
};

struct ListFilter {
  std::string tenant;  // Empty: all tenants (operators only).
  State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;  // Unset: any.
  std::string client_reference;
  // Ids starting with this; only [0-9a-f-] (checked by the caller).
  std::string id_prefix;
  int32_t page_size = 100;
  // Exclusive upper bound for paging, from the last page; "" starts at the
  // newest.
  std::string page_token;
};

struct LetterPage {
  std::vector<LetterRecord> letters;
  std::string next_page_token;
};

struct CreateResult {
  LetterRecord letter;
  bool created = false;  // False: an earlier identical submission.
};

// What a metrics reader sees of one state change, and the totals it starts
// from (see OpsStore::TransitionsAfter).
struct TransitionNote {
  int64_t cursor = 0;  // The receipt's.
  std::string tenant;
  State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  std::string channel;
  int64_t time_ms = 0;
  int64_t letter_create_time_ms = 0;
};
struct TransitionCount {
  std::string tenant;
  std::string channel;
  State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
  int64_t count = 0;
};
struct TransitionTotals {
  int64_t cursor = 0;
  std::vector<TransitionCount> counts;
};

// The store splits by role; a component depends on the roles it uses, and
// Store (below) is all of them. Every implementation is thread-safe, and
// every method is one transaction. Errors: NOT_FOUND, ALREADY_EXISTS
// (client reference reused with another body), FAILED_PRECONDITION
// (transition from a state not allowed), UNAVAILABLE (cannot commit now;
// nothing changed).

// Letters, their documents, receipts and what providers report of them.
class LetterStore {
 public:
  virtual ~LetterStore() = default;

  // Creates all of `letters` in one transaction (group commit) with their
  // documents, their RECEIVED receipt and their first outbox message. Each
  // letter's result is independent: one conflict does not fail the others.
  // Returns UNAVAILABLE as a whole when the commit fails.
  virtual absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>>
  CreateLetters(std::vector<NewLetter> letters) = 0;

  // `tenant` empty: any tenant. Another tenant's letter is NOT_FOUND.
  virtual absl::StatusOr<LetterRecord> GetLetter(const std::string& id,
                                                 const std::string& tenant) = 0;
  // INVALID_ARGUMENT for a bad page token. `page_size` is clamped to
  // 1..1000 (0 or less means 100).
  virtual absl::StatusOr<LetterPage> ListLetters(const ListFilter& filter) = 0;
  // FAILED_PRECONDITION once retention purged them.
  virtual absl::StatusOr<std::vector<Document>> GetDocuments(
      const std::string& letter_id) = 0;

  // Applies `t` if the letter is in one of `t.from` and the lifecycle
  // (gateway/store/lifecycle.h) allows every step, writing one signed
  // receipt a step and the outbox messages; FAILED_PRECONDITION otherwise.
  virtual absl::StatusOr<LetterRecord> ApplyTransition(
      const std::string& letter_id, const Transition& t) = 0;

  // Records failed attempt number `attempt` (1 for the first retry) at the
  // current stage without a state change: keeps `reason` on the letter and
  // writes `retry` (the next attempt, through a retry queue) to the outbox,
  // in one transaction. FAILED_PRECONDITION, changing nothing, when the
  // letter is in none of `expected` or this attempt was recorded before
  // (a redelivered work item must not start a second chain of retries).
  virtual absl::Status ScheduleRetry(const std::string& letter_id,
                                     const std::vector<State>& expected,
                                     int attempt, const std::string& reason,
                                     const OutboxMessage& retry) = 0;

  // Marks a ROUTED letter as possibly on its way to `channel`'s provider,
  // before the request is sent; the next state change or ScheduleRetry
  // clears the mark. While it is set, transitions with `unless_handing_off`
  // (cancel) fail, since the provider may have the letter already.
  // FAILED_PRECONDITION unless the letter is ROUTED to `channel`.
  virtual absl::Status ClaimHandOff(const std::string& letter_id,
                                    const std::string& channel) = 0;

  // Receipts of one letter, in sequence. `tenant` as for GetLetter.
  virtual absl::StatusOr<std::vector<ReceiptRecord>> GetReceipts(
      const std::string& letter_id, const std::string& tenant) = 0;
  // Receipts with cursor > `after`, oldest first, at most `limit`;
  // `tenant` empty: all tenants. A reader that sees cursor N also sees every
  // receipt below N, then and later.
  virtual absl::StatusOr<std::vector<ReceiptRecord>> ReceiptsAfter(
      int64_t after, const std::string& tenant, int limit) = 0;
  virtual absl::StatusOr<int64_t> LastReceiptCursor() = 0;

  // Keeps `event` as evidence and, in the same transaction, applies the
  // first of `candidates` whose `from` holds the letter's current state;
  // when none does (a late or out-of-order event) the event is kept and the
  // letter stays. An event already kept (same provider and event_id)
  // changes nothing and comes back as `duplicate`. An event for an unknown
  // letter is kept too (with nothing to move).
  virtual absl::StatusOr<ProviderEventOutcome> ApplyProviderEvent(
      const ProviderEventRecord& event,
      const std::vector<Transition>& candidates) = 0;
  // The provider events kept for one letter, in the order received.
  virtual absl::StatusOr<std::vector<ProviderEventRecord>> GetProviderEvents(
      const std::string& letter_id) = 0;

  // Where a worker is in a provider's event feed ("altinn:<resource>"),
  // shared by every worker process and kept across restarts. Positions are
  // the channel's own strings; "" when none was saved.
  virtual absl::StatusOr<std::string> FeedPosition(const std::string& feed) = 0;
  // Moves `feed` from `from` ("" for none) to `to`; false, changing nothing,
  // when it is no longer at `from` (another worker moved it first).
  virtual absl::StatusOr<bool> MoveFeedPosition(const std::string& feed,
                                                const std::string& from,
                                                const std::string& to) = 0;

  // Retention (#4): deletes the content of the documents of letters whose
  // last state change is older than `final_before_ms` and that can change no
  // further on their own (lifecycle.h's final states); keeps names, digests
  // and sizes. At most `limit` letters per call. Returns how many letters
  // were purged.
  virtual absl::StatusOr<int64_t> PurgeDocuments(int64_t final_before_ms,
                                                 int limit) = 0;
  // When the letter's documents were purged; 0 when they were not.
  virtual absl::StatusOr<int64_t> DocumentsPurgedAt(
      const std::string& letter_id) = 0;
};

// Work items waiting to be published, written with the state changes that
// call for them.
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  // Oldest unpublished outbox messages, at most `limit`, claimed or not.
  virtual absl::StatusOr<std::vector<OutboxMessage>> PendingOutbox(
      int limit) = 0;
  // Oldest unpublished messages that no other relay holds, at most
  // `limit`, now held by `owner` for `lease_ms`: several relays on one
  // database publish each message once while their leases last, and a relay
  // that dies lets its messages go when its lease ends.
  virtual absl::StatusOr<std::vector<OutboxMessage>> ClaimOutbox(
      const std::string& owner, int limit, int64_t lease_ms) = 0;
  // Marks messages published (after the broker's confirm) and moves their
  // letters to `state_when_sent` where set and still RECEIVED.
  virtual absl::Status MarkOutboxSent(const std::vector<int64_t>& ids) = 0;
  virtual absl::StatusOr<int64_t> CountPendingOutbox() = 0;

  // Letters in QUEUED or ROUTED not changed since `updated_before_ms`,
  // with no unpublished outbox message and no timer: their work item was
  // lost (or the letter waits in a retry queue far longer than it should).
  virtual absl::StatusOr<std::vector<StuckLetter>> StuckLetters(
      int64_t updated_before_ms, int limit) = 0;
  // Writes `work` for `letter` if it is still as StuckLetters saw it (same
  // state and update time, nothing pending), touching its update time.
  // False when it moved meanwhile.
  virtual absl::StatusOr<bool> RequeueStuck(const StuckLetter& letter,
                                            const OutboxMessage& work) = 0;
};

// Timers kept with the letters (#3).
class TimerStore {
 public:
  virtual ~TimerStore() = default;

  // Writes (or replaces) a timer while the letter is in one of `expected`;
  // FAILED_PRECONDITION otherwise.
  virtual absl::Status SetTimer(const TimerRecord& timer,
                                const std::vector<State>& expected) = 0;
  // Timers with due_ms <= now_ms, earliest first, at most `limit`.
  virtual absl::StatusOr<std::vector<TimerRecord>> DueTimers(int64_t now_ms,
                                                             int limit) = 0;
  // As DueTimers, leaving out those another scanner holds, and held by
  // `owner` for `lease_ms`: several scanners share the due timers instead of
  // all racing for the same ones. FireTimer still decides who acts.
  virtual absl::StatusOr<std::vector<TimerRecord>> ClaimDueTimers(
      const std::string& owner, int64_t now_ms, int limit,
      int64_t lease_ms) = 0;
  virtual absl::StatusOr<std::vector<TimerRecord>> GetTimers(
      const std::string& letter_id) = 0;
  // Claims `timer` and acts on it in one transaction: removes the row
  // (false, changing nothing, when it is gone or was replaced: another
  // scanner had it), then, when the letter is in one of `when_in`, applies
  // `transition` if set, else writes `outbox` (without a state change).
  // Returns true when the timer was claimed, whether or not it acted.
  virtual absl::StatusOr<bool> FireTimer(
      const TimerRecord& timer, const std::vector<State>& when_in,
      const std::optional<Transition>& transition,
      const std::vector<OutboxMessage>& outbox) = 0;
};

// The receipt log (#4): every receipt is a leaf of one append-only Merkle
// tree (RFC 9162); the leaf is the receipt's compact JWS bytes.
class ReceiptLog {
 public:
  virtual ~ReceiptLog() = default;

  // Makes queued receipts leaves, in batches, while this process holds the
  // sequencer lease; returns how many it added (0 without the lease, and
  // always 0 for an engine whose receipts become leaves as they commit).
  virtual absl::StatusOr<int64_t> SequenceReceipts() = 0;
  // Leaves in the log now.
  virtual absl::StatusOr<int64_t> ReceiptLogSize() = 0;
  // The newest signed tree head; NOT_FOUND before the first.
  virtual absl::StatusOr<TreeHead> LatestTreeHead() = 0;
  // A published head by size; NOT_FOUND when none has that size.
  virtual absl::StatusOr<TreeHead> GetTreeHead(int64_t tree_size) = 0;
  // Published heads with from_size <= tree_size <= to_size, ascending.
  virtual absl::StatusOr<std::vector<TreeHead>> ListTreeHeads(
      int64_t from_size, int64_t to_size) = 0;
  // Signs and publishes a head of the log as it is now; when the log has
  // not grown since the newest head, returns that head instead.
  virtual absl::StatusOr<TreeHead> IssueTreeHead() = 0;
  // RFC 9162 proofs, hashes raw. INVALID_ARGUMENT when a size exceeds the
  // log or the leaf is not inside `tree_size`.
  virtual absl::StatusOr<std::vector<std::string>> InclusionProof(
      int64_t leaf_index, int64_t tree_size) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ConsistencyProof(
      int64_t first, int64_t second) = 0;
  // The receipt at a leaf; NOT_FOUND past the end.
  virtual absl::StatusOr<ReceiptRecord> ReceiptAtLeaf(int64_t leaf_index) = 0;
  // Logged receipts matching `q`, by leaf index.
  virtual absl::StatusOr<std::vector<ReceiptRecord>> LoggedReceipts(
      const ReceiptLogQuery& q) = 0;
  // How many of them (tenant and time range of `q`, paging ignored) are
  // leaves below `tree_size`, and of how many letters.
  virtual absl::StatusOr<LoggedReceiptCount> CountLoggedReceipts(
      const ReceiptLogQuery& q, int64_t tree_size) = 0;
};

// A document uploaded with UploadDocument (#13), for letters of its tenant
// to reference by digest.
struct UploadRecord {
  std::string tenant;
  std::string sha256_hex;  // Of `content`: the caller checks it.
  std::string media_type;
  std::string content;
  int64_t expire_time_ms = 0;
};

// Documents uploaded ahead of the letters that reference them.
class UploadStore {
 public:
  virtual ~UploadStore() = default;

  // Stores `upload` (its tenant, digest, media type and content) until
  // `ttl_ms` from now, or renews the tenant's upload of the same digest
  // (the content is the same). Returns when it expires.
  virtual absl::StatusOr<int64_t> PutUpload(UploadRecord upload,
                                            int64_t ttl_ms) = 0;
  // `tenant`'s upload of `sha256_hex`; NOT_FOUND when the tenant has none
  // that has not expired (another tenant's is none).
  virtual absl::StatusOr<UploadRecord> GetUpload(
      const std::string& tenant, const std::string& sha256_hex) = 0;
  // Forgets the expired uploads; returns how many.
  virtual absl::StatusOr<int64_t> DeleteExpiredUploads() = 0;
};

// What operators see and steer (#5).
class OpsStore {
 public:
  virtual ~OpsStore() = default;

  // Letters per state, over all tenants.
  virtual absl::StatusOr<std::vector<std::pair<State, int64_t>>>
  CountByState() = 0;
  // Letters counted by tenant, channel and state.
  virtual absl::StatusOr<std::vector<LetterGroupCount>> CountLetterGroups() = 0;
  virtual absl::StatusOr<OutboxLag> GetOutboxLag() = 0;
  // All tenants' letters, newest first. INVALID_ARGUMENT for a bad token.
  virtual absl::StatusOr<LetterPage> ListLettersForOps(
      const OpsListFilter& filter) = 0;
  // Failed attempts of a letter, oldest first (recorded by ScheduleRetry
  // and by a transition to PARKED). NOT_FOUND for an unknown letter.
  virtual absl::StatusOr<std::vector<FailedAttemptRecord>> GetFailedAttempts(
      const std::string& letter_id) = 0;
  // Pauses (`paused`) or resumes a channel; idempotent. A pause keeps the
  // first `by` and time.
  virtual absl::Status SetChannelPaused(const std::string& channel, bool paused,
                                        const std::string& by) = 0;
  virtual absl::StatusOr<std::vector<PausedChannelRecord>> PausedChannels() = 0;
  // Appends one process's figures and forgets rows older than an hour.
  virtual absl::Status WriteProviderStats(
      const std::vector<ProviderStatsRecord>& rows) = 0;
  // Rows whose window ended after `since_ms`, of all processes.
  virtual absl::StatusOr<std::vector<ProviderStatsRecord>> ProviderStatsSince(
      int64_t since_ms) = 0;
  // Receipts with cursor > `after`, oldest first, at most `limit`, without
  // their signatures, with their letters' submission times.
  virtual absl::StatusOr<std::vector<TransitionNote>> TransitionsAfter(
      int64_t after, int limit) = 0;
  // Every receipt so far counted by (tenant, channel, state), and the
  // cursor of the last one counted: one consistent snapshot, from which
  // TransitionsAfter(cursor) goes on.
  virtual absl::StatusOr<TransitionTotals> CountTransitions() = 0;
  // The figures of every letter `q` selects, by tenant, then creation time,
  // then id. INVALID_ARGUMENT when q.to_ms <= q.from_ms.
  virtual absl::StatusOr<std::vector<LetterFacts>> LetterStatistics(
      const StatsQuery& q) = 0;
};

// Every role: what the daemon opens (make_store.h) and hands out.
class Store : public LetterStore,
              public OutboxStore,
              public TimerStore,
              public ReceiptLog,
              public OpsStore,
              public UploadStore {
 public:
  // Kept for callers that name them through Store.
  using TransitionNote = ::utpost::store::TransitionNote;
  using TransitionCount = ::utpost::store::TransitionCount;
  using TransitionTotals = ::utpost::store::TransitionTotals;
};

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_STORE_H_
