// utpost.v1.LetterService: the tenants' API. Callback API, so a slow client
// holds no thread. Every method identifies the caller from its client
// certificate and sees only that tenant's letters.
#ifndef UTPOST_GATEWAY_API_LETTER_SERVICE_H_
#define UTPOST_GATEWAY_API_LETTER_SERVICE_H_

#include <functional>
#include <memory>

#include "gateway/api/caller.h"
#include "gateway/api/letter_validator.h"
#include "gateway/api/submit_batcher.h"
#include "gateway/api/watch_hub.h"
#include "gateway/inspect/document_inspector.h"
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
};

class LetterServiceImpl final : public v1::LetterService::CallbackService {
 public:
  // `store` is not owned and outlives this.
  LetterServiceImpl(store::Store* store, LetterServiceOptions options);
  ~LetterServiceImpl() override;

  grpc::ServerUnaryReactor* SubmitLetter(
      grpc::CallbackServerContext* ctx, const v1::SubmitLetterRequest* request,
      v1::SubmitLetterResponse* response) override;
  grpc::ServerUnaryReactor* GetLetter(grpc::CallbackServerContext* ctx,
                                      const v1::GetLetterRequest* request,
                                      v1::Letter* response) override;
  grpc::ServerUnaryReactor* ListLetters(
      grpc::CallbackServerContext* ctx, const v1::ListLettersRequest* request,
      v1::ListLettersResponse* response) override;
  grpc::ServerWriteReactor<v1::LetterEvent>* WatchLetters(
      grpc::CallbackServerContext* ctx,
      const v1::WatchLettersRequest* request) override;
  grpc::ServerUnaryReactor* CancelLetter(grpc::CallbackServerContext* ctx,
                                         const v1::CancelLetterRequest* request,
                                         v1::Letter* response) override;
  grpc::ServerUnaryReactor* GetReceipts(
      grpc::CallbackServerContext* ctx, const v1::GetReceiptsRequest* request,
      v1::GetReceiptsResponse* response) override;

  // Wakes watchers early (after a local state change).
  void NotifyChange() { watch_hub_.Wake(); }

 private:
  absl::StatusOr<std::string> TenantOf(grpc::CallbackServerContext* ctx) const;

  // SubmitLetter after its documents passed inspection: stores the letter
  // (group commit) and finishes `reactor`.
  void Accept(grpc::CallbackServerContext* ctx,
              grpc::ServerUnaryReactor* reactor,
              const v1::SubmitLetterRequest* request,
              v1::SubmitLetterResponse* response, const std::string& tenant);

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
};

// absl::Status -> grpc::Status, keeping code and message.
grpc::Status ToGrpcStatus(const absl::Status& s);

// "letters/{id}" or "{id}" -> "{id}"; INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> LetterIdFromName(const std::string& name,
                                             const std::string& field);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_LETTER_SERVICE_H_
