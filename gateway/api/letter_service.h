// utpost.v1.LetterService: the tenants' API. Callback API, so a slow client
// holds no thread. Every method identifies the caller from its client
// certificate and sees only that tenant's letters.
#ifndef UTPOST_GATEWAY_API_LETTER_SERVICE_H_
#define UTPOST_GATEWAY_API_LETTER_SERVICE_H_

#include <functional>
#include <map>
#include <memory>

#include "common/periodic.h"
#include "gateway/api/caller.h"
#include "gateway/api/checked_unary_call.h"
#include "gateway/api/document_upload.h"
#include "gateway/api/letter_validator.h"
#include "gateway/api/preflight_service.h"
#include "gateway/api/submit_batcher.h"
#include "gateway/api/tenant_limiter.h"
#include "gateway/api/watch_hub.h"
#include "gateway/inspect/document_inspector.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/store.h"
#include "queue/queue.h"
#include "utpost/v1/letter.grpc.pb.h"

namespace utpost::api {

struct LetterServiceOptions {
  AccessPolicy access;
  ValidationLimits limits;
  // Where a new letter's first work item goes.
  queue::Topology topology;
  // Called after letters were committed (wakes the outbox relay).
  std::function<void()> on_commit;
  // Checks the documents of every submitted letter. Not owned; outlives the
  // service. Null: an in-process inspector (for tests only; a daemon that
  // serves tenants passes an isolated one).
  inspect::DocumentInspector* inspector = nullptr;
  // Signs the receipt log export embedded in a letter's evidence document.
  // Not owned; outlives the service. Null: GetReceipts answers
  // evidence_bundle requests with FAILED_PRECONDITION.
  receipts::ReceiptSigner* signer = nullptr;
  // Tenants' names by organisation number, shown as the sender.
  std::map<std::string, std::string> tenant_names;
  // Answers PreflightLetters. Not owned; outlives the service. Null:
  // PreflightLetters fails UNIMPLEMENTED (a process without registries).
  PreflightService* preflight = nullptr;
  // Tenants' limits by organisation number (config Tenant.limits), and
  // those of every other tenant (config tenant_limits).
  std::map<std::string, TenantLimit> tenant_limits;
  TenantLimit other_tenants_limit;
  // The clock of the rate limits. Null: the real one.
  const Clock* clock = nullptr;
  // UploadDocument calls holding a document in memory at once (each up to
  // limits.max_upload_bytes); more are refused RESOURCE_EXHAUSTED.
  int uploads_in_memory = 4;
  // An upload that receives nothing this long is cancelled (its slot back).
  int64_t upload_idle_ms = 60'000;
};

// The unary methods and SubmitBatch are registered raw: their requests are
// parsed by ParseRequest, so that invalid UTF-8 gets INVALID_ARGUMENT with
// the field path (see request_parser.h). Every method is a callback one
// (WatchLetters typed), built on Service rather than CallbackService, whose
// typed SubmitBatch the raw one could not override.
using LetterServiceBase = v1::LetterService::WithRawCallbackMethod_SubmitLetter<
    v1::LetterService::WithRawCallbackMethod_SubmitBatch<
        v1::LetterService::WithRawCallbackMethod_GetLetter<
            v1::LetterService::WithRawCallbackMethod_ListLetters<
                v1::LetterService::WithRawCallbackMethod_CancelLetter<
                    v1::LetterService::WithRawCallbackMethod_GetReceipts<
                        v1::LetterService::
                            WithRawCallbackMethod_PreflightLetters<
                                v1::LetterService::
                                    WithCallbackMethod_WatchLetters<
                                        v1::LetterService::
                                            WithCallbackMethod_UploadDocument<
                                                v1::LetterService::
                                                    Service>>>>>>>>>;

class LetterServiceImpl final : public LetterServiceBase {
 public:
  // `store` is not owned and outlives this.
  LetterServiceImpl(store::Store* store, LetterServiceOptions options);
  ~LetterServiceImpl() override;

  grpc::ServerUnaryReactor* SubmitLetter(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  // Each letter as SubmitLetter (see submit_batch_reactor.h), its
  // inspection waiting rather than refused when the sandbox is busy.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* SubmitBatch(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* GetLetter(grpc::CallbackServerContext* ctx,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListLetters(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  // See document_upload.h.
  grpc::ServerReadReactor<v1::UploadDocumentRequest>* UploadDocument(
      grpc::CallbackServerContext* ctx,
      v1::UploadedDocument* response) override;
  grpc::ServerWriteReactor<v1::LetterEvent>* WatchLetters(
      grpc::CallbackServerContext* ctx,
      const v1::WatchLettersRequest* request) override;
  grpc::ServerUnaryReactor* CancelLetter(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetReceipts(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  // Delegates to options.preflight, on its own thread (see
  // preflight_service.h): nothing is stored.
  grpc::ServerUnaryReactor* PreflightLetters(
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

  // Wakes watchers early (after a local state change).
  void NotifyChange() { watch_hub_.Wake(); }

 private:
  absl::StatusOr<std::string> TenantOf(grpc::CallbackServerContext* ctx) const;

  using SubmitCall =
      CheckedUnaryCall<v1::SubmitLetterRequest, v1::SubmitLetterResponse>;
  // SubmitLetter once its request is parsed: SubmitOne, then the reply.
  void Submit(grpc::CallbackServerContext* ctx, SubmitCall* call);
  // The trace id of the client's traceparent header; empty without one.
  static std::string TraceIdOf(grpc::CallbackServerContext* ctx);
  // One letter of `tenant`, from SubmitLetter or a SubmitBatch stream
  // (`bulk`): validates, has the documents inspected, stores the letter
  // (group commit), fills `response` and calls `done` once, on any thread.
  // `request` and `response` stay valid until then.
  void SubmitOne(const std::string& tenant, const std::string& trace_id,
                 bool bulk, const v1::SubmitLetterRequest* request,
                 v1::SubmitLetterResponse* response,
                 std::function<void(absl::Status)> done);
  // SubmitOne after the documents passed inspection; `bulk` and
  // `print_sheets` as store::NewLetter (sheets 0: not counted).
  void Accept(const std::string& tenant, const std::string& trace_id, bool bulk,
              int print_sheets, const v1::SubmitLetterRequest* request,
              v1::SubmitLetterResponse* response,
              std::function<void(absl::Status)> done);
  absl::Status DoGetLetter(grpc::CallbackServerContext* ctx,
                           const v1::GetLetterRequest& request,
                           v1::Letter* response);
  absl::Status DoListLetters(grpc::CallbackServerContext* ctx,
                             const v1::ListLettersRequest& request,
                             v1::ListLettersResponse* response);
  absl::Status DoCancelLetter(grpc::CallbackServerContext* ctx,
                              const v1::CancelLetterRequest& request,
                              v1::Letter* response);
  absl::Status DoGetReceipts(grpc::CallbackServerContext* ctx,
                             const v1::GetReceiptsRequest& request,
                             v1::GetReceiptsResponse* response);

  struct OwnedLetter {
    std::string tenant;
    store::LetterRecord letter;
  };
  // The caller's tenant and its letter named by `name`; NOT_FOUND for an
  // unknown letter and for another tenant's alike.
  absl::StatusOr<OwnedLetter> OwnLetter(grpc::CallbackServerContext* ctx,
                                        const std::string& name) const;

  store::Store* const store_;
  const LetterServiceOptions options_;
  // Set when options_.inspector is null.
  std::unique_ptr<inspect::DocumentInspector> own_inspector_;
  inspect::DocumentInspector* const inspector_;
  SubmitBatcher batcher_;
  WatchHub watch_hub_;
  TenantLimiter limiter_;
  UploadSlots upload_slots_;
  // Cancels uploads that stall (CancelIdle); last, so that it stops first.
  PeriodicTask upload_sweep_;
};

// "letters/{id}" or "{id}" -> "{id}"; INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> LetterIdFromName(const std::string& name,
                                             const std::string& field);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_LETTER_SERVICE_H_
