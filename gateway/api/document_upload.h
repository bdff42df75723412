// UploadDocument (utpost.v1.LetterService): one document too large for a
// SubmitLetter request, received in chunks and stored for letters of the
// same tenant to reference by digest (Document.upload_sha256).
//
// UploadReactor runs an UploadAssembler (upload_assembler.h) on a gRPC
// stream and stores the result. ResolveUploads puts uploaded documents into a
// letter before it is inspected and stored as any other.
#ifndef UTPOST_GATEWAY_API_DOCUMENT_UPLOAD_H_
#define UTPOST_GATEWAY_API_DOCUMENT_UPLOAD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "gateway/api/letter_validator.h"
#include "gateway/api/upload_assembler.h"
#include "gateway/store/store.h"
#include "grpcpp/grpcpp.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {

// How long an upload may be referenced (documented in letter.proto).
inline constexpr int64_t kUploadLifetimeMs = int64_t{24} * 3600 * 1000;

// Uploads in memory at once in one process, each at most max_upload_bytes;
// one tenant holds at most half of them (at least one), so that a tenant's
// slow uploads do not shut out the others, and an upload that stalls is
// cancelled (CancelIdle). Thread-safe.
class UploadSlots {
 public:
  // `clock` is not owned; null: the real clock.
  explicit UploadSlots(int slots, const Clock* clock = nullptr);
  // A slot for the call `holder` of `tenant`; `cancel` ends that call (it
  // must be safe to run until Give). False when all are taken, or `tenant`
  // holds its share.
  bool TryTake(const std::string& tenant, const void* holder,
               std::function<void()> cancel);
  // `holder` received something.
  void Touch(const void* holder);
  void Give(const std::string& tenant, const void* holder);
  // Cancels, once each, the holders that received nothing for `idle_ms`,
  // outside the lock; returns how many. Each gives its slot back as its
  // call ends.
  int CancelIdle(int64_t idle_ms);

 private:
  struct Holder {
    int64_t last_ms = 0;
    std::function<void()> cancel;
    bool cancelled = false;
  };
  const int slots_;
  const int per_tenant_;
  const Clock* const clock_;
  absl::Mutex mu_;
  int taken_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> by_tenant_ ABSL_GUARDED_BY(mu_);
  std::map<const void*, Holder> holders_ ABSL_GUARDED_BY(mu_);
};

// One UploadDocument call. Deletes itself when gRPC is done.
class UploadReactor final
    : public grpc::ServerReadReactor<v1::UploadDocumentRequest> {
 public:
  // Refused before the first message: finishes at once with `status`.
  explicit UploadReactor(const absl::Status& status);
  // Reads at once. `store` and `slots` are not owned and outlive the call;
  // `ctx` and `response` are gRPC's.
  UploadReactor(grpc::CallbackServerContext* ctx, store::UploadStore* store,
                UploadSlots* slots, std::string tenant, int64_t max_bytes,
                v1::UploadedDocument* response);

  void OnReadDone(bool ok) override;
  void OnDone() override;

 private:
  // What CancelIdle reaches the call through, from another thread: the
  // context until the call is done. Recursive: a cancellation may finish
  // the call on the cancelling thread.
  struct Call {
    std::recursive_mutex mu;
    grpc::CallbackServerContext* ctx = nullptr;
  };

  ~UploadReactor() override = default;
  void End(const absl::Status& s);

  const std::shared_ptr<Call> call_ = std::make_shared<Call>();
  store::UploadStore* const store_ = nullptr;
  UploadSlots* const slots_ = nullptr;
  const std::string tenant_;
  v1::UploadedDocument* const response_ = nullptr;
  UploadAssembler assembler_{0};
  v1::UploadDocumentRequest message_;
  bool has_slot_ = false;
};

// `request` with every document given by upload_sha256 replaced by the
// tenant's upload (content set, upload_sha256 cleared), checked against
// limits.max_upload_bytes; null when it references no upload.
// FAILED_PRECONDITION "documents[i].upload_sha256: no upload ..." for an
// upload the tenant does not have, and for any when `store` is null (a
// service without uploads); INVALID_ARGUMENT for sizes over the limit.
// `request` passed ValidateSubmitLetter.
absl::StatusOr<std::shared_ptr<v1::SubmitLetterRequest>> ResolveUploads(
    store::UploadStore* store, const std::string& tenant,
    const v1::SubmitLetterRequest& request, const ValidationLimits& limits);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_DOCUMENT_UPLOAD_H_
