#include "gateway/api/document_upload.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gateway/api/checked_unary_call.h"
#include "google/protobuf/util/time_util.h"
#include "spdlog/spdlog.h"

namespace utpost::api {

UploadSlots::UploadSlots(int slots, const Clock* clock)
    : slots_(slots),
      per_tenant_(std::max(1, slots / 2)),
      clock_(clock != nullptr ? clock : RealClock()) {}

bool UploadSlots::TryTake(const std::string& tenant, const void* holder,
                          std::function<void()> cancel) {
  absl::MutexLock lock(&mu_);
  int& mine = by_tenant_[tenant];
  if (taken_ >= slots_ || mine >= per_tenant_) {
    if (mine == 0) by_tenant_.erase(tenant);
    return false;
  }
  ++mine;
  ++taken_;
  holders_[holder] = Holder{clock_->NowMillis(), std::move(cancel), false};
  return true;
}

void UploadSlots::Touch(const void* holder) {
  absl::MutexLock lock(&mu_);
  if (auto it = holders_.find(holder); it != holders_.end()) {
    it->second.last_ms = clock_->NowMillis();
  }
}

void UploadSlots::Give(const std::string& tenant, const void* holder) {
  absl::MutexLock lock(&mu_);
  holders_.erase(holder);
  --taken_;
  if (--by_tenant_[tenant] <= 0) by_tenant_.erase(tenant);
}

int UploadSlots::CancelIdle(int64_t idle_ms) {
  const int64_t now = clock_->NowMillis();
  std::vector<std::function<void()>> cancels;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [holder, h] : holders_) {
      if (h.cancelled || now - h.last_ms < idle_ms) continue;
      h.cancelled = true;
      cancels.push_back(h.cancel);
    }
  }
  // Outside the lock: a cancelled call may give its slot back at once.
  for (auto& cancel : cancels) cancel();
  return static_cast<int>(cancels.size());
}

UploadReactor::UploadReactor(const absl::Status& status) {
  Finish(ToGrpcStatus(status));
}

UploadReactor::UploadReactor(grpc::CallbackServerContext* ctx,
                             store::UploadStore* store, UploadSlots* slots,
                             std::string tenant, int64_t max_bytes,
                             v1::UploadedDocument* response)
    : store_(store),
      slots_(slots),
      tenant_(std::move(tenant)),
      response_(response),
      assembler_(max_bytes) {
  call_->ctx = ctx;
  StartRead(&message_);
}

void UploadReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The client half-closed (or went away: then nothing it sees matters).
    auto assembled = assembler_.Finish();
    if (!assembled.ok()) return End(assembled.status());
    store::UploadRecord upload;
    upload.tenant = tenant_;
    upload.sha256_hex = assembled->sha256_hex;
    upload.media_type = std::string(kPdfMediaType);
    upload.content = std::move(assembled->content);
    const int64_t size = static_cast<int64_t>(upload.content.size());
    const std::string digest = upload.sha256_hex;
    // The document is in memory already; storing it is one write.
    auto expires = store_->PutUpload(std::move(upload), kUploadLifetimeMs);
    if (!expires.ok()) {
      spdlog::error("upload: store failed: {}", expires.status().ToString());
      return End(expires.status());
    }
    response_->set_sha256(digest);
    response_->set_size_bytes(size);
    *response_->mutable_expire_time() =
        google::protobuf::util::TimeUtil::MillisecondsToTimestamp(*expires);
    spdlog::info("upload {} ({} bytes) stored for tenant {}", digest, size,
                 tenant_);
    return End(absl::OkStatus());
  }
  const bool first = !assembler_.has_header();
  absl::Status s = assembler_.Take(std::move(message_));
  message_.Clear();
  if (!s.ok()) return End(s);
  if (first) {
    // A document's worth of memory is taken once its header is in.
    // The stalled call is cancelled through `call`, which outlives it.
    auto cancel = [call = call_] {
      std::lock_guard<std::recursive_mutex> lock(call->mu);
      if (call->ctx != nullptr) call->ctx->TryCancel();
    };
    if (!slots_->TryTake(tenant_, this, std::move(cancel))) {
      return End(absl::ResourceExhaustedError(
          "uploads: as many in progress as this gateway holds in memory "
          "(for this tenant or for all); send it again later"));
    }
    has_slot_ = true;
  } else {
    slots_->Touch(this);
  }
  StartRead(&message_);
}

void UploadReactor::End(const absl::Status& s) {
  assembler_ = UploadAssembler(0);  // Frees the content now.
  if (has_slot_) {
    slots_->Give(tenant_, this);
    has_slot_ = false;
  }
  Finish(ToGrpcStatus(s));
}

void UploadReactor::OnDone() {
  {
    std::lock_guard<std::recursive_mutex> lock(call_->mu);
    call_->ctx = nullptr;
  }
  if (has_slot_) slots_->Give(tenant_, this);
  delete this;
}

absl::StatusOr<std::shared_ptr<v1::SubmitLetterRequest>> ResolveUploads(
    store::UploadStore* store, const std::string& tenant,
    const v1::SubmitLetterRequest& request, const ValidationLimits& limits) {
  bool any = false;
  for (const auto& d : request.documents()) any |= !d.upload_sha256().empty();
  if (!any) return std::shared_ptr<v1::SubmitLetterRequest>();
  if (store == nullptr) {
    return absl::FailedPreconditionError(
        "documents: uploads are not available here");
  }
  auto resolved = std::make_shared<v1::SubmitLetterRequest>(request);
  int64_t total = 0;
  for (int i = 0; i < resolved->documents_size(); ++i) {
    v1::Document* d = resolved->mutable_documents(i);
    if (!d->upload_sha256().empty()) {
      const std::string field =
          absl::StrCat("documents[", i, "].upload_sha256");
      auto upload = store->GetUpload(tenant, d->upload_sha256());
      if (absl::IsNotFound(upload.status())) {
        return absl::FailedPreconditionError(absl::StrCat(
            field, ": no upload ", d->upload_sha256(),
            " of this tenant (never uploaded, or older than 24 hours: "
            "upload it again)"));
      }
      RETURN_IF_ERROR(upload.status());
      if (static_cast<int64_t>(upload->content.size()) >
          limits.max_upload_bytes) {
        return InvalidField(
            field, absl::StrCat(upload->content.size(), " bytes, the limit is ",
                                limits.max_upload_bytes));
      }
      *d->mutable_content() = std::move(upload->content);
      d->clear_upload_sha256();
    }
    total += static_cast<int64_t>(d->content().size());
  }
  if (total > limits.max_upload_bytes) {
    return InvalidField("documents",
                        absl::StrCat(total,
                                     " bytes in all, the limit for a letter "
                                     "with uploads is ",
                                     limits.max_upload_bytes));
  }
  return resolved;
}

}  // namespace utpost::api
