// The gateway's durable state: letters, their documents, the outbox of work
// items waiting to be published, and the signed receipts. The only place
// that speaks SQL is below gateway/store/; the default implementation is
// SQLite (sqlite_store.h), a PostgreSQL one will sit beside it.
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
  // way (see Store::ClaimHandOff). For cancellation.
  bool unless_handing_off = false;
  // Carried into the receipt (see receipts::ReceiptContent).
  std::string provider;
  std::string provider_receipt;
};

struct ListFilter {
  std::string tenant;  // Empty: all tenants (operators only).
  State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;  // Unset: any.
  std::string client_reference;
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

// Thread-safe. Every method is one transaction. Errors: NOT_FOUND,
// ALREADY_EXISTS (client reference reused with another body),
// FAILED_PRECONDITION (transition from a state not allowed), UNAVAILABLE
// (cannot commit now; nothing changed).
class Store {
 public:
  virtual ~Store() = default;

  // Creates all of `letters` in one transaction (group commit) with their
  // documents, their RECEIVED receipt and their first outbox message. Each
  // letter's result is independent: one conflict does not fail the others.
  // Returns UNAVAILABLE as a whole when the commit fails.
  virtual absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>>
  CreateLetters(std::vector<NewLetter> letters) = 0;

  // `tenant` empty: any tenant. Another tenant's letter is NOT_FOUND.
  virtual absl::StatusOr<LetterRecord> GetLetter(const std::string& id,
                                                 const std::string& tenant) = 0;
  virtual absl::StatusOr<LetterPage> ListLetters(const ListFilter& filter) = 0;
  virtual absl::StatusOr<std::vector<Document>> GetDocuments(
      const std::string& letter_id) = 0;

  // Applies `t` if the letter is in one of `t.from`, writing one signed
  // receipt and the outbox messages; FAILED_PRECONDITION otherwise.
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

  // Oldest unpublished outbox messages, at most `limit`.
  virtual absl::StatusOr<std::vector<OutboxMessage>> PendingOutbox(
      int limit) = 0;
  // Marks messages published (after the broker's confirm) and moves their
  // letters to `state_when_sent` where set and still RECEIVED.
  virtual absl::Status MarkOutboxSent(const std::vector<int64_t>& ids) = 0;
  virtual absl::StatusOr<int64_t> CountPendingOutbox() = 0;

  // Receipts of one letter, in sequence. `tenant` as for GetLetter.
  virtual absl::StatusOr<std::vector<ReceiptRecord>> GetReceipts(
      const std::string& letter_id, const std::string& tenant) = 0;
  // Receipts with cursor > `after`, oldest first, at most `limit`;
  // `tenant` empty: all tenants.
  virtual absl::StatusOr<std::vector<ReceiptRecord>> ReceiptsAfter(
      int64_t after, const std::string& tenant, int limit) = 0;
  virtual absl::StatusOr<int64_t> LastReceiptCursor() = 0;

  // Letters per state, over all tenants.
  virtual absl::StatusOr<std::vector<std::pair<State, int64_t>>>
  CountByState() = 0;

  // Channels, timers, provider receipts (#3).

  // Receipt log (#4).

  // Operations (#5).

  // Outbox rows not yet confirmed by the broker, and when the oldest of
  // them was written (0 when there are none): the relay's lag.
  struct OutboxLag {
    int64_t pending = 0;
    int64_t oldest_created_ms = 0;
  };
  virtual absl::StatusOr<OutboxLag> GetOutboxLag() = 0;

  // One state change as metrics count it: a receipt without its signature,
  // with its letter's submission time.
  struct TransitionNote {
    int64_t cursor = 0;  // The receipt's.
    std::string tenant;
    State state = ::utpost::v1::Letter::STATE_UNSPECIFIED;
    std::string channel;
    int64_t time_ms = 0;
    int64_t letter_create_time_ms = 0;
  };
  // Receipts with cursor > `after`, oldest first, at most `limit`.
  virtual absl::StatusOr<std::vector<TransitionNote>> TransitionsAfter(
      int64_t after, int limit) = 0;
};

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_STORE_H_
