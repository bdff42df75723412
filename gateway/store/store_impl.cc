#include "gateway/store/store_impl.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/retry_delay.h"
#include "common/status_macros.h"
#include "gateway/receipts/merkle.h"
#include "gateway/store/lifecycle.h"

namespace utpost::store {
namespace {

using ::utpost::v1::Letter;
using WriteOp = Engine::WriteOp;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// Receipts a sequencer makes leaves of in one transaction.
constexpr int kSequencerBatch = 1000;
// Provider figures are kept an hour: GetStatus reads minutes; older rows
// only cost space.
constexpr int64_t kProviderStatsKeepMs = 60 * 60 * 1000;

// "2026-12-02": the UTC day of `millis`.
std::string DayOf(int64_t millis) {
  return FormatRfc3339(millis).substr(0, 10);
}

absl::Status LetterNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("letter ", id, " not found"));
}

bool In(const std::vector<State>& states, State s) {
  return std::find(states.begin(), states.end(), s) != states.end();
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

// The log's complete subtrees as one transaction sees them.
class StoredSubtrees final : public receipts::merkle::SubtreeSource {
 public:
  explicit StoredSubtrees(ReadTxn& txn) : txn_(txn) {}
  absl::StatusOr<std::string> Perfect(int level, int64_t index) override {
    ASSIGN_OR_RETURN(std::optional<std::string> hash,
                     txn_.GetLogNode(level, index));
    if (!hash.has_value()) {
      return absl::DataLossError(absl::StrCat("receipt log: subtree at level ",
                                              level, " index ", index,
                                              " missing"));
    }
    return *std::move(hash);
  }

 private:
  ReadTxn& txn_;
};

class StoreImpl final : public Store {
 public:
  StoreImpl(std::unique_ptr<Engine> engine, const StoreOptions& options)
      : engine_(std::move(engine)),
        signer_(options.signer),
        clock_(options.clock != nullptr ? options.clock : RealClock()) {}

  // Appends the receipts that are not leaves yet (an older build's); for
  // engines whose receipts become leaves as they commit. Run once at open.
  absl::Status SequenceBacklog();

  // LetterStore.
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
  absl::StatusOr<std::vector<ReceiptRecord>> GetReceipts(
      const std::string& letter_id, const std::string& tenant) override;
  absl::StatusOr<std::vector<ReceiptRecord>> ReceiptsAfter(
      int64_t after, const std::string& tenant, int limit) override;
  absl::StatusOr<int64_t> LastReceiptCursor() override;
  absl::StatusOr<ProviderEventOutcome> ApplyProviderEvent(
      const ProviderEventRecord& event,
      const std::vector<Transition>& candidates) override;
  absl::StatusOr<std::vector<ProviderEventRecord>> GetProviderEvents(
      const std::string& letter_id) override;
  absl::StatusOr<std::string> FeedPosition(const std::string& feed) override;
  absl::StatusOr<int64_t> PutUpload(UploadRecord upload,
                                    int64_t ttl_ms) override;
  absl::StatusOr<UploadRecord> GetUpload(
      const std::string& tenant, const std::string& sha256_hex) override;
  absl::StatusOr<int64_t> DeleteExpiredUploads() override;
  absl::StatusOr<bool> MoveFeedPosition(const std::string& feed,
                                        const std::string& from,
                                        const std::string& to) override;
  absl::StatusOr<int64_t> PurgeDocuments(int64_t final_before_ms,
                                         int limit) override;
  absl::StatusOr<int64_t> DocumentsPurgedAt(
      const std::string& letter_id) override;

  // OutboxStore.
  absl::StatusOr<std::vector<OutboxMessage>> PendingOutbox(int limit) override;
  absl::StatusOr<std::vector<OutboxMessage>> ClaimOutbox(
      const std::string& owner, int limit, int64_t lease_ms) override;
  absl::Status MarkOutboxSent(const std::vector<int64_t>& ids) override;
  absl::StatusOr<int64_t> CountPendingOutbox() override;
  absl::StatusOr<std::vector<StuckLetter>> StuckLetters(
      int64_t updated_before_ms, int limit) override;
  absl::StatusOr<bool> RequeueStuck(const StuckLetter& letter,
                                    const OutboxMessage& work) override;

  // TimerStore.
  absl::Status SetTimer(const TimerRecord& timer,
                        const std::vector<State>& expected) override;
  absl::StatusOr<std::vector<TimerRecord>> DueTimers(int64_t now_ms,
                                                     int limit) override;
  absl::StatusOr<std::vector<TimerRecord>> ClaimDueTimers(
      const std::string& owner, int64_t now_ms, int limit,
      int64_t lease_ms) override;
  absl::StatusOr<std::vector<TimerRecord>> GetTimers(
      const std::string& letter_id) override;
  absl::StatusOr<bool> FireTimer(
      const TimerRecord& timer, const std::vector<State>& when_in,
      const std::optional<Transition>& transition,
      const std::vector<OutboxMessage>& outbox) override;

  // ReceiptLog.
  absl::StatusOr<int64_t> SequenceReceipts() override;
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

  // OpsStore.
  absl::StatusOr<std::vector<std::pair<State, int64_t>>> CountByState()
      override;
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
  absl::StatusOr<std::vector<TransitionNote>> TransitionsAfter(
      int64_t after, int limit) override;
  absl::StatusOr<TransitionTotals> CountTransitions() override;
  absl::StatusOr<std::vector<LetterFacts>> LetterStatistics(
      const StatsQuery& q) override;

 private:
  // Runs `fn` as one write op (its own group-commit unit) and returns its
  // status, or the commit's when that failed.
  absl::Status WriteOne(std::function<absl::Status(WriteTxn&)> fn) {
    std::vector<WriteOp> ops(1);
    ops[0].run = std::move(fn);
    RETURN_IF_ERROR(engine_->Write(&ops));
    return ops[0].status;
  }

  // Runs `fn` in one read transaction and returns what it made.
  template <typename T>
  absl::StatusOr<T> ReadOne(
      const std::function<absl::StatusOr<T>(ReadTxn&)>& fn) {
    std::optional<absl::StatusOr<T>> out;
    absl::Status s = engine_->Read([&](ReadTxn& txn) -> absl::Status {
      out.emplace(fn(txn));
      return out->status();
    });
    if (!out.has_value()) return s;
    return *std::move(out);
  }

  // Inside a write transaction.
  absl::StatusOr<LetterRecord> LetterIn(ReadTxn& txn, const std::string& id);
  absl::Status CreateOne(WriteTxn& txn, const NewLetter& l,
                         const std::string& spec_bytes, CreateResult* out);
  absl::Status AppendReceipt(WriteTxn& txn, const std::string& letter_id,
                             const std::string& tenant, State state,
                             const std::string& channel,
                             const std::string& reason, int64_t now_ms,
                             const std::string& provider,
                             const std::string& provider_receipt);
  absl::Status AppendLeaf(WriteTxn& txn, int64_t cursor,
                          const std::string& jws);
  struct Move {
    std::vector<State> from;
    State to = Letter::STATE_UNSPECIFIED;
    std::string channel;  // Empty: keep the letter's.
    std::string reason;
    const std::vector<OutboxMessage>* outbox = nullptr;
    bool unless_handing_off = false;
    std::string provider;
    std::string provider_receipt;
  };
  absl::Status MoveInTxn(WriteTxn& txn, const std::string& letter_id,
                         const Move& m);
  absl::Status TransitionWithSteps(WriteTxn& txn, const std::string& letter_id,
                                   const Transition& t);
  absl::Status TimersInTxn(WriteTxn& txn, const std::string& letter_id,
                           const Transition& t);
  absl::Status MarkSentInTxn(WriteTxn& txn, const std::vector<int64_t>& ids);
  // `attempt` 0: the letter's stored attempt + 1.
  absl::Status RecordFailedAttempt(WriteTxn& txn, const std::string& letter_id,
                                   int attempt, const std::string& error,
                                   bool parked, int64_t now_ms);
  absl::StatusOr<int64_t> AppendUnlogged(WriteTxn& txn, int limit);

  const std::unique_ptr<Engine> engine_;
  receipts::ReceiptSigner* const signer_;
  Clock* const clock_;
};

// ---- Letters ----

absl::StatusOr<LetterRecord> StoreImpl::LetterIn(ReadTxn& txn,
                                                 const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<LetterRow> row, txn.GetLetter(id));
  if (!row.has_value()) return LetterNotFound(id);
  return std::move(row->record);
}

absl::Status StoreImpl::AppendLeaf(WriteTxn& txn, int64_t cursor,
                                   const std::string& jws) {
  // Appends one leaf and every complete subtree it closes: amortised two
  // node writes per leaf.
  ASSIGN_OR_RETURN(int64_t index, txn.LogSize());
  RETURN_IF_ERROR(txn.AppendLogLeaf(index, cursor));
  std::string hash = receipts::merkle::LeafHash(jws);
  RETURN_IF_ERROR(txn.PutLogNode(0, index, hash));
  StoredSubtrees nodes(txn);
  int level = 0;
  int64_t j = index;
  while ((j & 1) == 1) {
    ASSIGN_OR_RETURN(std::string left, nodes.Perfect(level, j - 1));
    hash = receipts::merkle::NodeHash(left, hash);
    ++level;
    j >>= 1;
    RETURN_IF_ERROR(txn.PutLogNode(level, j, hash));
  }
  return absl::OkStatus();
}

absl::Status StoreImpl::AppendReceipt(WriteTxn& txn,
                                      const std::string& letter_id,
                                      const std::string& tenant, State state,
                                      const std::string& channel,
                                      const std::string& reason, int64_t now_ms,
                                      const std::string& provider,
                                      const std::string& provider_receipt) {
  receipts::ReceiptContent rc;
  rc.provider = provider;
  rc.provider_receipt = provider_receipt;
  ASSIGN_OR_RETURN(std::vector<StoredDocument> docs,
                   txn.GetDocuments(letter_id, /*with_content=*/false));
  for (const StoredDocument& d : docs) {
    rc.documents.push_back(
        receipts::DocumentDigest{d.file_name, d.sha256_hex, d.size});
  }
  rc.letter_id = letter_id;
  rc.tenant = tenant;
  rc.state = state;
  rc.channel = channel;
  rc.reason = reason;
  rc.time_ms = now_ms;
  rc.sequence = 1;
  ASSIGN_OR_RETURN(std::optional<ReceiptTip> tip, txn.LastReceipt(letter_id));
  if (tip.has_value()) {
    rc.sequence = tip->sequence + 1;
    rc.previous_sha256_hex = tip->sha256_hex;
  }
  // Signed inside the transaction, with the letter locked: the chain of
  // hashes cannot fork.
  ASSIGN_OR_RETURN(std::string jws, signer_->Sign(rc));
  ReceiptRecord r;
  r.letter_id = letter_id;
  r.tenant = tenant;
  r.sequence = rc.sequence;
  r.state = state;
  r.channel = channel;
  r.reason = reason;
  r.time_ms = now_ms;
  r.sha256_hex = Sha256Hex(jws);
  r.jws = std::move(jws);
  ASSIGN_OR_RETURN(int64_t cursor, txn.InsertReceipt(r));
  if (!engine_->log_in_transaction()) return absl::OkStatus();
  // In the same transaction: the log's order is the commit order.
  RETURN_IF_ERROR(txn.LockReceiptLog());
  return AppendLeaf(txn, cursor, r.jws);
}

absl::Status StoreImpl::CreateOne(WriteTxn& txn, const NewLetter& l,
                                  const std::string& spec_bytes,
                                  CreateResult* out) {
  ASSIGN_OR_RETURN(std::optional<LetterRow> existing,
                   txn.FindLetterByReference(l.tenant, l.client_reference));
  if (existing.has_value()) {
    if (existing->request_digest != l.request_digest) {
      return absl::AlreadyExistsError(
          absl::StrCat("client_reference \"", l.client_reference,
                       "\" is already used by letter ", existing->record.id,
                       " with a different request"));
    }
    out->letter = std::move(existing->record);
    out->created = false;
    return absl::OkStatus();
  }
  const int64_t now = clock_->NowMillis();
  if (l.letters_per_day > 0) {
    constexpr int64_t kDayMs = 24 * 3600 * 1000;
    const int64_t day = now / kDayMs;
    ASSIGN_OR_RETURN(int64_t count, txn.CountLetterOfDay(l.tenant, day));
    if (count > l.letters_per_day) {
      // The count goes back with this letter's savepoint.
      return WithRetryDelay(
          absl::ResourceExhaustedError(absl::StrCat(
              "tenant ", l.tenant, " has used its quota of ", l.letters_per_day,
              " letters for ", DayOf(now), " (UTC); more from midnight UTC")),
          (day + 1) * kDayMs - now);
    }
  }
  LetterRow row;
  row.record.id = l.id;
  row.record.tenant = l.tenant;
  row.record.client_reference = l.client_reference;
  row.record.state = Letter::RECEIVED;
  row.record.spec = l.spec;
  row.record.create_time_ms = now;
  row.record.update_time_ms = now;
  row.request_digest = l.request_digest;
  row.print_sheets = l.print_sheets;
  row.record.bulk = l.bulk;
  absl::Status s = txn.InsertLetter(row, spec_bytes);
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(
        absl::StrCat("letter id ", l.id, " already exists"));
  }
  RETURN_IF_ERROR(s);
  for (size_t i = 0; i < l.documents.size(); ++i) {
    const Document& d = l.documents[i];
    RETURN_IF_ERROR(txn.InsertDocument(l.id, static_cast<int>(i), d));
    v1::DocumentInfo& info = row.record.documents.emplace_back();
    info.set_file_name(d.file_name);
    info.set_media_type(d.media_type);
    info.set_size_bytes(static_cast<int64_t>(d.content.size()));
    info.set_sha256(d.sha256_hex);
  }
  RETURN_IF_ERROR(AppendReceipt(txn, l.id, l.tenant, Letter::RECEIVED, "", "",
                                now, "", ""));
  RETURN_IF_ERROR(txn.InsertOutbox(l.id, l.first_work, now).status());
  out->created = true;
  out->letter = std::move(row.record);
  return absl::OkStatus();
}

absl::Status StoreImpl::MoveInTxn(WriteTxn& txn, const std::string& letter_id,
                                  const Move& m) {
  ASSIGN_OR_RETURN(std::optional<LetterRow> row, txn.LockLetter(letter_id));
  if (!row.has_value()) return LetterNotFound(letter_id);
  const State current = row->record.state;
  if (!In(m.from, current)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "letter ", letter_id, " is ", Letter::State_Name(current)));
  }
  if (!lifecycle::Allowed(current, m.to)) {
    return absl::FailedPreconditionError(
        absl::StrCat("letter ", letter_id, " is ", Letter::State_Name(current),
                     ", which ", Letter::State_Name(m.to), " cannot follow"));
  }
  if (m.unless_handing_off && row->handing_off) {
    return absl::FailedPreconditionError(
        absl::StrCat("letter ", letter_id, " is being handed to the provider"));
  }
  if (m.unless_handing_off) {
    ASSIGN_OR_RETURN(bool handed_off,
                     txn.HasReceiptIn(letter_id, {Letter::SENT_DIGITAL,
                                                  Letter::SENT_PRINT}));
    if (handed_off) {
      return absl::FailedPreconditionError(
          absl::StrCat("letter ", letter_id, " has been handed to a provider"));
    }
  }
  const std::string channel =
      m.channel.empty() ? row->record.channel : m.channel;
  const int64_t now = clock_->NowMillis();
  RETURN_IF_ERROR(AppendReceipt(txn, letter_id, row->record.tenant, m.to,
                                channel, m.reason, now, m.provider,
                                m.provider_receipt));
  LetterUpdate u;
  u.state = m.to;
  u.channel = channel;
  u.reason = m.reason;
  u.attempt = 0;
  u.handing_off = false;
  u.update_time_ms = now;
  RETURN_IF_ERROR(txn.UpdateLetter(letter_id, u));
  if (m.outbox != nullptr) {
    for (const OutboxMessage& msg : *m.outbox) {
      RETURN_IF_ERROR(txn.InsertOutbox(letter_id, msg, now).status());
    }
  }
  return absl::OkStatus();
}

absl::Status StoreImpl::TimersInTxn(WriteTxn& txn, const std::string& letter_id,
                                    const Transition& t) {
  for (const std::string& kind : t.clear_timers) {
    RETURN_IF_ERROR(txn.DeleteTimer(letter_id, kind));
  }
  for (const TimerRecord& timer : t.set_timers) {
    RETURN_IF_ERROR(txn.PutTimer({letter_id, timer.kind, timer.due_ms}));
  }
  return absl::OkStatus();
}

absl::Status StoreImpl::TransitionWithSteps(WriteTxn& txn,
                                            const std::string& letter_id,
                                            const Transition& t) {
  Move first;
  first.from = t.from;
  first.to = t.to;
  first.channel = t.channel;
  first.reason = t.reason;
  first.outbox = &t.outbox;
  first.unless_handing_off = t.unless_handing_off;
  first.provider = t.provider;
  // The provider's receipt goes with the last state it vouches for.
  if (t.then.empty()) first.provider_receipt = t.provider_receipt;
  RETURN_IF_ERROR(MoveInTxn(txn, letter_id, first));
  State reached = t.to;
  for (size_t i = 0; i < t.then.size(); ++i) {
    Move step;
    step.from = {reached};
    step.to = t.then[i].to;
    step.reason = t.then[i].reason;
    step.provider = t.provider;
    if (i + 1 == t.then.size()) step.provider_receipt = t.provider_receipt;
    RETURN_IF_ERROR(MoveInTxn(txn, letter_id, step));
    reached = step.to;
  }
  return TimersInTxn(txn, letter_id, t);
}

absl::Status StoreImpl::MarkSentInTxn(WriteTxn& txn,
                                      const std::vector<int64_t>& ids) {
  const int64_t now = clock_->NowMillis();
  std::vector<std::pair<int64_t, OutboxEntry>> entries;
  std::vector<std::string> letters;
  for (int64_t id : ids) {
    ASSIGN_OR_RETURN(std::optional<OutboxEntry> entry, txn.GetOutbox(id));
    // Unknown or already marked: a repeated confirm changes nothing.
    if (!entry.has_value() || entry->sent) continue;
    if (entry->state_when_sent.has_value()) letters.push_back(entry->letter_id);
    entries.emplace_back(id, *std::move(entry));
  }
  // Every letter this moves is locked before its first receipt, in id
  // order. A receipt holds the receipt counter until commit (PostgreSQL),
  // and a worker that has locked one of these letters (its message was
  // published, so it may be there first) waits for that counter: locking
  // the letter after a receipt would deadlock with it.
  std::sort(letters.begin(), letters.end());
  letters.erase(std::unique(letters.begin(), letters.end()), letters.end());
  for (const std::string& letter_id : letters) {
    RETURN_IF_ERROR(txn.LockLetter(letter_id).status());
  }
  for (const auto& [id, entry] : entries) {
    RETURN_IF_ERROR(txn.MarkOutboxSent(id, now));
    if (!entry.state_when_sent.has_value()) continue;
    Move m;
    m.from = {Letter::RECEIVED};
    m.to = *entry.state_when_sent;
    absl::Status s = MoveInTxn(txn, entry.letter_id, m);
    // Already past RECEIVED (cancelled, or a worker got there first): the
    // confirm has nothing left to move.
    if (absl::IsFailedPrecondition(s)) continue;
    RETURN_IF_ERROR(s);
  }
  return absl::OkStatus();
}

absl::Status StoreImpl::RecordFailedAttempt(WriteTxn& txn,
                                            const std::string& letter_id,
                                            int attempt,
                                            const std::string& error,
                                            bool parked, int64_t now_ms) {
  ASSIGN_OR_RETURN(std::optional<LetterRow> row, txn.LockLetter(letter_id));
  if (!row.has_value()) return LetterNotFound(letter_id);
  FailedAttemptRecord a;
  a.letter_id = letter_id;
  // The stage is where the letter waits: routing until it has a channel.
  a.stage = lifecycle::StageOf(row->record.state, row->record.channel);
  a.attempt = attempt > 0 ? attempt : row->attempt + 1;
  a.time_ms = now_ms;
  a.error = error;
  a.parked = parked;
  return txn.InsertFailedAttempt(a);
}

absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>>
StoreImpl::CreateLetters(std::vector<NewLetter> letters) {
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
    ops.push_back(WriteOp{[this, &letters, &specs, &created, i](WriteTxn& txn) {
      created[i] = CreateResult();
      return CreateOne(txn, letters[i], specs[i], &created[i]);
    }});
    op_letter.push_back(i);
  }
  if (!ops.empty()) RETURN_IF_ERROR(engine_->Write(&ops));
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

absl::StatusOr<LetterRecord> StoreImpl::GetLetter(const std::string& id,
                                                  const std::string& tenant) {
  return ReadOne<LetterRecord>(
      [&](ReadTxn& txn) -> absl::StatusOr<LetterRecord> {
        ASSIGN_OR_RETURN(LetterRecord r, LetterIn(txn, id));
        // Another tenant's letter looks exactly like a missing one.
        if (!tenant.empty() && r.tenant != tenant) return LetterNotFound(id);
        return r;
      });
}

absl::StatusOr<LetterPage> StoreImpl::ListLetters(const ListFilter& f) {
  OpsListFilter all;
  all.tenant = f.tenant;
  all.state = f.state;
  all.client_reference = f.client_reference;
  all.id_prefix = f.id_prefix;
  all.page_size = f.page_size;
  all.page_token = f.page_token;
  return ListLettersForOps(all);
}

absl::StatusOr<LetterPage> StoreImpl::ListLettersForOps(
    const OpsListFilter& f) {
  const int page_size = f.page_size <= 0
                            ? kDefaultPageSize
                            : std::min<int>(f.page_size, kMaxPageSize);
  LetterQuery q;
  q.tenant = f.tenant;
  q.state = f.state;
  q.channel = f.channel;
  q.client_reference = f.client_reference;
  q.reason_contains = f.reason_contains;
  q.id_prefix = f.id_prefix;
  q.created_before_ms = f.created_before_ms;
  q.created_after_ms = f.created_after_ms;
  if (!f.page_token.empty()) {
    ASSIGN_OR_RETURN(q.after, ParsePageToken(f.page_token));
  }
  // One more than asked tells whether another page follows.
  q.limit = page_size + 1;
  return ReadOne<LetterPage>([&](ReadTxn& txn) -> absl::StatusOr<LetterPage> {
    LetterPage page;
    ASSIGN_OR_RETURN(page.letters, txn.ListLetters(q));
    if (page.letters.size() > static_cast<size_t>(page_size)) {
      page.letters.resize(page_size);
      page.next_page_token = MakePageToken(page.letters.back());
    }
    return page;
  });
}

absl::StatusOr<std::vector<Document>> StoreImpl::GetDocuments(
    const std::string& letter_id) {
  using Docs = std::vector<Document>;
  return ReadOne<Docs>([&](ReadTxn& txn) -> absl::StatusOr<Docs> {
    ASSIGN_OR_RETURN(std::optional<LetterRow> row, txn.GetLetter(letter_id));
    if (!row.has_value()) return LetterNotFound(letter_id);
    // Retention (#4): say so rather than hand out empty documents.
    ASSIGN_OR_RETURN(int64_t purged, txn.PurgedAt(letter_id));
    if (purged != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("documents of letter ", letter_id, " purged on ",
                       FormatRfc3339(purged)));
    }
    ASSIGN_OR_RETURN(std::vector<StoredDocument> stored,
                     txn.GetDocuments(letter_id, /*with_content=*/true));
    Docs out;
    out.reserve(stored.size());
    for (StoredDocument& d : stored) {
      out.push_back(Document{std::move(d.file_name), std::move(d.media_type),
                             std::move(d.content), std::move(d.sha256_hex)});
    }
    return out;
  });
}

absl::StatusOr<LetterRecord> StoreImpl::ApplyTransition(
    const std::string& letter_id, const Transition& t) {
  if (t.to == Letter::STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError("transition has no target state");
  }
  LetterRecord record;
  RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
    if (t.to == Letter::PARKED) {
      // The last failure, at the stage it parked at (read before the move).
      RETURN_IF_ERROR(RecordFailedAttempt(txn, letter_id, 0, t.reason, true,
                                          clock_->NowMillis()));
    }
    RETURN_IF_ERROR(TransitionWithSteps(txn, letter_id, t));
    ASSIGN_OR_RETURN(record, LetterIn(txn, letter_id));
    return absl::OkStatus();
  }));
  return record;
}

absl::Status StoreImpl::ScheduleRetry(const std::string& letter_id,
                                      const std::vector<State>& expected,
                                      int attempt, const std::string& reason,
                                      const OutboxMessage& retry) {
  return WriteOne([&](WriteTxn& txn) -> absl::Status {
    const int64_t now = clock_->NowMillis();
    ASSIGN_OR_RETURN(std::optional<LetterRow> row, txn.LockLetter(letter_id));
    if (!row.has_value()) return LetterNotFound(letter_id);
    // Only once per attempt and only in the stage the failure was seen in:
    // a redelivered work item must not start a second retry chain.
    const State state = row->record.state;
    if (!In(expected, state) || row->attempt >= attempt) {
      return absl::FailedPreconditionError(absl::StrCat(
          "letter ", letter_id, " is ", Letter::State_Name(state), "; attempt ",
          attempt, " moved on or was scheduled already"));
    }
    LetterUpdate u;
    u.state = state;
    u.channel = row->record.channel;
    u.reason = reason;
    u.attempt = attempt;
    u.handing_off = false;
    u.update_time_ms = now;
    RETURN_IF_ERROR(txn.UpdateLetter(letter_id, u));
    RETURN_IF_ERROR(
        RecordFailedAttempt(txn, letter_id, attempt, reason, false, now));
    return txn.InsertOutbox(letter_id, retry, now).status();
  });
}

absl::Status StoreImpl::ClaimHandOff(const std::string& letter_id,
                                     const std::string& channel) {
  return WriteOne([&](WriteTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<LetterRow> row, txn.LockLetter(letter_id));
    if (!row.has_value() || row->record.state != Letter::ROUTED ||
        row->record.channel != channel) {
      return absl::FailedPreconditionError(
          absl::StrCat("letter ", letter_id, " is not waiting for ", channel));
    }
    LetterUpdate u;
    u.state = row->record.state;
    u.channel = row->record.channel;
    u.reason = row->record.reason;
    u.attempt = row->attempt;
    u.handing_off = true;
    u.update_time_ms = row->record.update_time_ms;
    return txn.UpdateLetter(letter_id, u);
  });
}

absl::StatusOr<std::vector<ReceiptRecord>> StoreImpl::GetReceipts(
    const std::string& letter_id, const std::string& tenant) {
  using Receipts = std::vector<ReceiptRecord>;
  return ReadOne<Receipts>([&](ReadTxn& txn) -> absl::StatusOr<Receipts> {
    ASSIGN_OR_RETURN(std::optional<LetterRow> row, txn.GetLetter(letter_id));
    if (!row.has_value() || (!tenant.empty() && row->record.tenant != tenant)) {
      return LetterNotFound(letter_id);
    }
    return txn.GetReceipts(letter_id);
  });
}

absl::StatusOr<std::vector<ReceiptRecord>> StoreImpl::ReceiptsAfter(
    int64_t after, const std::string& tenant, int limit) {
  using Receipts = std::vector<ReceiptRecord>;
  if (limit <= 0) return Receipts();
  return ReadOne<Receipts>(
      [&](ReadTxn& txn) { return txn.ReceiptsAfter(after, tenant, limit); });
}

absl::StatusOr<int64_t> StoreImpl::LastReceiptCursor() {
  return ReadOne<int64_t>(
      [&](ReadTxn& txn) { return txn.LastReceiptCursor(); });
}

absl::StatusOr<ProviderEventOutcome> StoreImpl::ApplyProviderEvent(
    const ProviderEventRecord& event,
    const std::vector<Transition>& candidates) {
  if (event.provider.empty() || event.event_id.empty()) {
    return absl::InvalidArgumentError("provider event needs provider and id");
  }
  ProviderEventOutcome outcome;
  RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
    outcome = ProviderEventOutcome();
    // The letter first: workers polling one feed take the same event at
    // once, and the one that waited for the lock then sees the other's
    // copy kept, a duplicate rather than a conflicting insert.
    ASSIGN_OR_RETURN(std::optional<LetterRow> row,
                     txn.LockLetter(event.letter_id));
    ASSIGN_OR_RETURN(bool seen,
                     txn.HasProviderEvent(event.provider, event.event_id));
    if (seen) {
      outcome.duplicate = true;
      return absl::OkStatus();
    }
    if (row.has_value()) {
      for (const Transition& t : candidates) {
        if (!In(t.from, row->record.state)) continue;
        RETURN_IF_ERROR(TransitionWithSteps(txn, event.letter_id, t));
        outcome.moved = true;
        break;
      }
    }
    ProviderEventRecord kept = event;
    kept.received_ms = clock_->NowMillis();
    kept.applied = outcome.moved;
    return txn.InsertProviderEvent(kept);
  }));
  return outcome;
}

absl::StatusOr<std::vector<ProviderEventRecord>> StoreImpl::GetProviderEvents(
    const std::string& letter_id) {
  using Events = std::vector<ProviderEventRecord>;
  return ReadOne<Events>(
      [&](ReadTxn& txn) { return txn.GetProviderEvents(letter_id); });
}

absl::StatusOr<std::string> StoreImpl::FeedPosition(const std::string& feed) {
  return ReadOne<std::string>([&](ReadTxn& txn) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(std::optional<std::string> at, txn.GetFeedPosition(feed));
    return at.value_or("");
  });
}

absl::StatusOr<int64_t> StoreImpl::PutUpload(UploadRecord upload,
                                             int64_t ttl_ms) {
  if (upload.tenant.empty() || upload.sha256_hex.empty()) {
    return absl::InvalidArgumentError("upload without tenant or digest");
  }
  upload.expire_time_ms = clock_->NowMillis() + ttl_ms;
  RETURN_IF_ERROR(WriteOne(
      [&](WriteTxn& txn) -> absl::Status { return txn.PutUpload(upload); }));
  return upload.expire_time_ms;
}

absl::StatusOr<UploadRecord> StoreImpl::GetUpload(
    const std::string& tenant, const std::string& sha256_hex) {
  const int64_t now = clock_->NowMillis();
  return ReadOne<UploadRecord>(
      [&](ReadTxn& txn) -> absl::StatusOr<UploadRecord> {
        ASSIGN_OR_RETURN(std::optional<UploadRecord> u,
                         txn.GetUpload(tenant, sha256_hex));
        if (!u.has_value() || u->expire_time_ms <= now) {
          return absl::NotFoundError(
              absl::StrCat("no upload ", sha256_hex, " of tenant ", tenant));
        }
        return *std::move(u);
      });
}

absl::StatusOr<int64_t> StoreImpl::DeleteExpiredUploads() {
  int64_t n = 0;
  const int64_t now = clock_->NowMillis();
  RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(n, txn.DeleteUploadsExpiredBy(now));
    return absl::OkStatus();
  }));
  return n;
}

absl::StatusOr<bool> StoreImpl::MoveFeedPosition(const std::string& feed,
                                                 const std::string& from,
                                                 const std::string& to) {
  if (feed.empty()) return absl::InvalidArgumentError("feed is empty");
  bool moved = false;
  RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
    moved = false;
    ASSIGN_OR_RETURN(std::optional<std::string> at, txn.GetFeedPosition(feed));
    if (at.value_or("") != from) return absl::OkStatus();
    RETURN_IF_ERROR(txn.PutFeedPosition(feed, to, clock_->NowMillis()));
    moved = true;
    return absl::OkStatus();
  }));
  return moved;
}

absl::StatusOr<int64_t> StoreImpl::PurgeDocuments(int64_t final_before_ms,
                                                  int limit) {
  int64_t purged = 0;
  RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
    purged = 0;
    ASSIGN_OR_RETURN(std::vector<std::string> ids,
                     txn.PurgeCandidates(lifecycle::Settled(), final_before_ms,
                                         limit > 0 ? limit : 1000));
    const int64_t now = clock_->NowMillis();
    for (const std::string& id : ids) {
      RETURN_IF_ERROR(txn.PurgeDocuments(id, now));
    }
    purged = static_cast<int64_t>(ids.size());
    return absl::OkStatus();
  }));
  return purged;
}

absl::StatusOr<int64_t> StoreImpl::DocumentsPurgedAt(
    const std::string& letter_id) {
  return ReadOne<int64_t>(
      [&](ReadTxn& txn) { return txn.PurgedAt(letter_id); });
}

// ---- Outbox ----

absl::StatusOr<std::vector<OutboxMessage>> StoreImpl::PendingOutbox(int limit) {
  using Messages = std::vector<OutboxMessage>;
  if (limit <= 0) return Messages();
  return ReadOne<Messages>(
      [&](ReadTxn& txn) { return txn.PendingOutbox(limit); });
}

absl::StatusOr<std::vector<OutboxMessage>> StoreImpl::ClaimOutbox(
    const std::string& owner, int limit, int64_t lease_ms) {
  std::vector<OutboxMessage> claimed;
  if (limit <= 0) return claimed;
  if (owner.empty()) return absl::InvalidArgumentError("claim needs an owner");
  RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
    const int64_t now = clock_->NowMillis();
    ASSIGN_OR_RETURN(
        claimed, txn.ClaimOutbox(owner, now,
                                 now + std::max<int64_t>(lease_ms, 1), limit));
    return absl::OkStatus();
  }));
  return claimed;
}

absl::Status StoreImpl::MarkOutboxSent(const std::vector<int64_t>& ids) {
  if (ids.empty()) return absl::OkStatus();
  return WriteOne([&](WriteTxn& txn) { return MarkSentInTxn(txn, ids); });
}

absl::StatusOr<int64_t> StoreImpl::CountPendingOutbox() {
  return ReadOne<int64_t>([&](ReadTxn& txn) -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(OutboxLag lag, txn.GetOutboxLag());
    return lag.pending;
  });
}

absl::StatusOr<std::vector<StuckLetter>> StoreImpl::StuckLetters(
    int64_t updated_before_ms, int limit) {
  using Stuck = std::vector<StuckLetter>;
  if (limit <= 0) return Stuck();
  return ReadOne<Stuck>([&](ReadTxn& txn) {
    return txn.StuckLetters({Letter::QUEUED, Letter::ROUTED}, updated_before_ms,
                            limit);
  });
}

absl::StatusOr<bool> StoreImpl::RequeueStuck(const StuckLetter& letter,
                                             const OutboxMessage& work) {
  bool written = false;
  RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
    written = false;
    ASSIGN_OR_RETURN(std::optional<LetterRow> row, txn.LockLetter(letter.id));
    if (!row.has_value() || row->record.state != letter.state ||
        row->record.update_time_ms != letter.update_time_ms) {
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(bool pending, txn.HasPendingOutbox(letter.id));
    if (pending) return absl::OkStatus();
    const int64_t now = clock_->NowMillis();
    RETURN_IF_ERROR(txn.TouchLetter(letter.id, now));
    RETURN_IF_ERROR(txn.InsertOutbox(letter.id, work, now).status());
    written = true;
    return absl::OkStatus();
  }));
  return written;
}

// ---- Timers ----

absl::Status StoreImpl::SetTimer(const TimerRecord& timer,
                                 const std::vector<State>& expected) {
  return WriteOne([&](WriteTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<LetterRow> row,
                     txn.LockLetter(timer.letter_id));
    if (!row.has_value()) return LetterNotFound(timer.letter_id);
    if (!In(expected, row->record.state)) {
      return absl::FailedPreconditionError(
          absl::StrCat("letter ", timer.letter_id, " is ",
                       Letter::State_Name(row->record.state)));
    }
    return txn.PutTimer(timer);
  });
}

absl::StatusOr<std::vector<TimerRecord>> StoreImpl::DueTimers(int64_t now_ms,
                                                              int limit) {
  using Timers = std::vector<TimerRecord>;
  if (limit <= 0) return Timers();
  return ReadOne<Timers>(
      [&](ReadTxn& txn) { return txn.DueTimers(now_ms, limit); });
}

absl::StatusOr<std::vector<TimerRecord>> StoreImpl::ClaimDueTimers(
    const std::string& owner, int64_t now_ms, int limit, int64_t lease_ms) {
  std::vector<TimerRecord> claimed;
  if (limit <= 0) return claimed;
  if (owner.empty()) return absl::InvalidArgumentError("claim needs an owner");
  // Leases in the caller's time, as `now_ms` is.
  RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(
        claimed,
        txn.ClaimDueTimers(owner, now_ms,
                           now_ms + std::max<int64_t>(lease_ms, 1), limit));
    return absl::OkStatus();
  }));
  return claimed;
}

absl::StatusOr<std::vector<TimerRecord>> StoreImpl::GetTimers(
    const std::string& letter_id) {
  using Timers = std::vector<TimerRecord>;
  return ReadOne<Timers>(
      [&](ReadTxn& txn) { return txn.GetTimers(letter_id); });
}

absl::StatusOr<bool> StoreImpl::FireTimer(
    const TimerRecord& timer, const std::vector<State>& when_in,
    const std::optional<Transition>& transition,
    const std::vector<OutboxMessage>& outbox) {
  bool claimed = false;
  RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
    claimed = false;
    ASSIGN_OR_RETURN(bool taken, txn.TakeTimer(timer));
    if (!taken) return absl::OkStatus();
    claimed = true;
    ASSIGN_OR_RETURN(std::optional<LetterRow> row,
                     txn.LockLetter(timer.letter_id));
    if (!row.has_value()) return LetterNotFound(timer.letter_id);
    if (!In(when_in, row->record.state)) return absl::OkStatus();
    if (transition.has_value()) {
      return TransitionWithSteps(txn, timer.letter_id, *transition);
    }
    const int64_t now = clock_->NowMillis();
    for (const OutboxMessage& m : outbox) {
      RETURN_IF_ERROR(txn.InsertOutbox(timer.letter_id, m, now).status());
    }
    return txn.TouchLetter(timer.letter_id, now);
  }));
  return claimed;
}

// ---- Receipt log ----

absl::StatusOr<int64_t> StoreImpl::AppendUnlogged(WriteTxn& txn, int limit) {
  RETURN_IF_ERROR(txn.LockReceiptLog());
  ASSIGN_OR_RETURN(std::vector<UnloggedReceipt> queued,
                   txn.UnloggedReceipts(limit));
  for (const UnloggedReceipt& r : queued) {
    RETURN_IF_ERROR(AppendLeaf(txn, r.cursor, r.jws));
  }
  return static_cast<int64_t>(queued.size());
}

absl::Status StoreImpl::SequenceBacklog() {
  while (true) {
    int64_t added = 0;
    RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(added, AppendUnlogged(txn, kSequencerBatch));
      return absl::OkStatus();
    }));
    if (added < kSequencerBatch) return absl::OkStatus();
  }
}

absl::StatusOr<int64_t> StoreImpl::SequenceReceipts() {
  if (engine_->log_in_transaction()) return 0;
  ASSIGN_OR_RETURN(bool holder, engine_->HoldSequencerLease());
  if (!holder) return 0;
  int64_t total = 0;
  while (true) {
    int64_t added = 0;
    RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(added, AppendUnlogged(txn, kSequencerBatch));
      return absl::OkStatus();
    }));
    total += added;
    if (added < kSequencerBatch) return total;
  }
}

absl::StatusOr<int64_t> StoreImpl::ReceiptLogSize() {
  return ReadOne<int64_t>([&](ReadTxn& txn) { return txn.LogSize(); });
}

absl::StatusOr<TreeHead> StoreImpl::LatestTreeHead() {
  return ReadOne<TreeHead>([&](ReadTxn& txn) -> absl::StatusOr<TreeHead> {
    ASSIGN_OR_RETURN(std::optional<TreeHead> h, txn.LatestTreeHead());
    if (!h.has_value()) {
      return absl::NotFoundError("no tree head has been signed yet");
    }
    return *std::move(h);
  });
}

absl::StatusOr<TreeHead> StoreImpl::GetTreeHead(int64_t tree_size) {
  return ReadOne<TreeHead>([&](ReadTxn& txn) -> absl::StatusOr<TreeHead> {
    ASSIGN_OR_RETURN(std::optional<TreeHead> h, txn.GetTreeHead(tree_size));
    if (!h.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("no tree head of size ", tree_size));
    }
    return *std::move(h);
  });
}

absl::StatusOr<std::vector<TreeHead>> StoreImpl::ListTreeHeads(
    int64_t from_size, int64_t to_size) {
  using Heads = std::vector<TreeHead>;
  return ReadOne<Heads>(
      [&](ReadTxn& txn) { return txn.ListTreeHeads(from_size, to_size); });
}

absl::StatusOr<TreeHead> StoreImpl::IssueTreeHead() {
  TreeHead head;
  RETURN_IF_ERROR(WriteOne([&](WriteTxn& txn) -> absl::Status {
    RETURN_IF_ERROR(txn.LockReceiptLog());
    ASSIGN_OR_RETURN(int64_t size, txn.LogSize());
    ASSIGN_OR_RETURN(std::optional<TreeHead> latest, txn.LatestTreeHead());
    if (latest.has_value() && latest->tree_size == size) {
      head = *latest;
      return absl::OkStatus();
    }
    StoredSubtrees nodes(txn);
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
    head = TreeHead{size, root, content.time_ms, jws};
    return txn.InsertTreeHead(head);
  }));
  return head;
}

absl::StatusOr<std::vector<std::string>> StoreImpl::InclusionProof(
    int64_t leaf_index, int64_t tree_size) {
  using Proof = std::vector<std::string>;
  return ReadOne<Proof>([&](ReadTxn& txn) -> absl::StatusOr<Proof> {
    ASSIGN_OR_RETURN(int64_t size, txn.LogSize());
    if (tree_size > size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tree_size: ", tree_size, " exceeds the log's ", size, " leaves"));
    }
    StoredSubtrees nodes(txn);
    return receipts::merkle::InclusionProof(nodes, leaf_index, tree_size);
  });
}

absl::StatusOr<std::vector<std::string>> StoreImpl::ConsistencyProof(
    int64_t first, int64_t second) {
  using Proof = std::vector<std::string>;
  return ReadOne<Proof>([&](ReadTxn& txn) -> absl::StatusOr<Proof> {
    ASSIGN_OR_RETURN(int64_t size, txn.LogSize());
    if (second > size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "second: ", second, " exceeds the log's ", size, " leaves"));
    }
    StoredSubtrees nodes(txn);
    return receipts::merkle::ConsistencyProof(nodes, first, second);
  });
}

absl::StatusOr<ReceiptRecord> StoreImpl::ReceiptAtLeaf(int64_t leaf_index) {
  return ReadOne<ReceiptRecord>(
      [&](ReadTxn& txn) -> absl::StatusOr<ReceiptRecord> {
        ASSIGN_OR_RETURN(std::optional<ReceiptRecord> r,
                         txn.ReceiptAtLeaf(leaf_index));
        if (!r.has_value()) {
          return absl::NotFoundError(
              absl::StrCat("no receipt at leaf ", leaf_index));
        }
        return *std::move(r);
      });
}

absl::StatusOr<std::vector<ReceiptRecord>> StoreImpl::LoggedReceipts(
    const ReceiptLogQuery& q) {
  ReceiptLogQuery bounded = q;
  if (bounded.limit <= 0) bounded.limit = 1000;
  using Receipts = std::vector<ReceiptRecord>;
  return ReadOne<Receipts>(
      [&](ReadTxn& txn) { return txn.LoggedReceipts(bounded); });
}

absl::StatusOr<LoggedReceiptCount> StoreImpl::CountLoggedReceipts(
    const ReceiptLogQuery& q, int64_t tree_size) {
  return ReadOne<LoggedReceiptCount>(
      [&](ReadTxn& txn) { return txn.CountLoggedReceipts(q, tree_size); });
}

// ---- Operations ----

absl::StatusOr<std::vector<std::pair<State, int64_t>>>
StoreImpl::CountByState() {
  using Counts = std::vector<std::pair<State, int64_t>>;
  return ReadOne<Counts>([&](ReadTxn& txn) { return txn.CountByState(); });
}

absl::StatusOr<std::vector<LetterGroupCount>> StoreImpl::CountLetterGroups() {
  using Groups = std::vector<LetterGroupCount>;
  return ReadOne<Groups>([&](ReadTxn& txn) { return txn.CountLetterGroups(); });
}

absl::StatusOr<OutboxLag> StoreImpl::GetOutboxLag() {
  return ReadOne<OutboxLag>([&](ReadTxn& txn) { return txn.GetOutboxLag(); });
}

absl::StatusOr<std::vector<FailedAttemptRecord>> StoreImpl::GetFailedAttempts(
    const std::string& letter_id) {
  using Attempts = std::vector<FailedAttemptRecord>;
  return ReadOne<Attempts>([&](ReadTxn& txn) -> absl::StatusOr<Attempts> {
    ASSIGN_OR_RETURN(std::optional<LetterRow> row, txn.GetLetter(letter_id));
    if (!row.has_value()) return LetterNotFound(letter_id);
    return txn.GetFailedAttempts(letter_id);
  });
}

absl::Status StoreImpl::SetChannelPaused(const std::string& channel,
                                         bool paused, const std::string& by) {
  if (channel.empty()) return absl::InvalidArgumentError("channel is empty");
  return WriteOne([&](WriteTxn& txn) -> absl::Status {
    if (!paused) return txn.ResumeChannel(channel);
    return txn.PauseChannel({channel, by, clock_->NowMillis()});
  });
}

absl::StatusOr<std::vector<PausedChannelRecord>> StoreImpl::PausedChannels() {
  using Paused = std::vector<PausedChannelRecord>;
  return ReadOne<Paused>([&](ReadTxn& txn) { return txn.PausedChannels(); });
}

absl::Status StoreImpl::WriteProviderStats(
    const std::vector<ProviderStatsRecord>& rows) {
  return WriteOne([&](WriteTxn& txn) -> absl::Status {
    for (const ProviderStatsRecord& r : rows) {
      RETURN_IF_ERROR(txn.InsertProviderStats(r));
    }
    return txn.DeleteProviderStatsBefore(clock_->NowMillis() -
                                         kProviderStatsKeepMs);
  });
}

absl::StatusOr<std::vector<ProviderStatsRecord>> StoreImpl::ProviderStatsSince(
    int64_t since_ms) {
  using Rows = std::vector<ProviderStatsRecord>;
  return ReadOne<Rows>(
      [&](ReadTxn& txn) { return txn.ProviderStatsSince(since_ms); });
}

absl::StatusOr<std::vector<LetterFacts>> StoreImpl::LetterStatistics(
    const StatsQuery& q) {
  if (q.to_ms <= q.from_ms) {
    return absl::InvalidArgumentError("statistics: the period is empty");
  }
  using Rows = std::vector<LetterFacts>;
  return ReadOne<Rows>([&](ReadTxn& txn) { return txn.LetterStatistics(q); });
}

absl::StatusOr<std::vector<TransitionNote>> StoreImpl::TransitionsAfter(
    int64_t after, int limit) {
  using Notes = std::vector<TransitionNote>;
  if (limit <= 0) return Notes();
  return ReadOne<Notes>(
      [&](ReadTxn& txn) { return txn.TransitionsAfter(after, limit); });
}

absl::StatusOr<TransitionTotals> StoreImpl::CountTransitions() {
  return ReadOne<TransitionTotals>(
      [&](ReadTxn& txn) { return txn.CountTransitions(); });
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::unique_ptr<Engine> engine,
                                                 const StoreOptions& options) {
  if (engine == nullptr) {
    return absl::InvalidArgumentError("store needs an engine");
  }
  if (options.signer == nullptr) {
    return absl::InvalidArgumentError("store needs a receipt signer");
  }
  const bool in_transaction = engine->log_in_transaction();
  auto store = std::make_unique<StoreImpl>(std::move(engine), options);
  if (in_transaction) RETURN_IF_ERROR(store->SequenceBacklog());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace utpost::store
