#include "gateway/api/submit_batch_reactor.h"

#include <string>
#include <utility>

#include "common/retry_delay.h"
#include "gateway/api/checked_unary_call.h"
#include "grpcpp/impl/codegen/proto_utils.h"

namespace utpost::api {

SubmitBatchReactor::SubmitBatchReactor(Submit submit, int window)
    : submit_(std::move(submit)), window_(window) {
  Pump();
}

SubmitBatchReactor::SubmitBatchReactor(const absl::Status& status)
    : window_(0) {
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
  }
  Finish(ToGrpcStatus(status));
}

void SubmitBatchReactor::OnReadDone(bool ok) {
  auto letter = std::make_unique<Letter>();
  absl::Status parsed;
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    done_.clear();
    if (!ok) {
      reads_done_ = true;  // Half-closed by the client, or cancelled.
    } else {
      letter->index = next_index_++;
      ++open_;
      parsed = ParseByteBuffer(in_, &letter->request);
      in_.Clear();
    }
  }
  if (ok) {
    Letter* l = letter.release();
    if (!parsed.ok()) {
      Completed(l, parsed);
    } else {
      submit_(&l->request, &l->response,
              [this, l](absl::Status s) { Completed(l, s); });
    }
  }
  Pump();
}

void SubmitBatchReactor::Completed(Letter* letter, const absl::Status& status) {
  v1::SubmitBatchResult result;
  result.set_index(letter->index);
  result.set_client_reference(letter->request.client_reference());
  result.set_code(static_cast<int>(status.code()));
  result.set_message(std::string(status.message()));
  if (status.ok()) {
    *result.mutable_letter() = std::move(*letter->response.mutable_letter());
    result.set_created(letter->response.created());
  } else if (std::optional<int64_t> ms = RetryDelayMillis(status)) {
    result.mutable_retry_delay()->set_seconds(*ms / 1000);
    result.mutable_retry_delay()->set_nanos(
        static_cast<int32_t>(*ms % 1000 * 1000000));
  }
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) {
      --open_;  // Nobody to tell.
    } else {
      results_.push_back(std::move(result));
    }
    done_.emplace_back(letter);
  }
  Pump();
}

void SubmitBatchReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    --open_;
    done_.clear();
    if (!ok) {
      // The stream broke: nothing more reaches the client.
      cancelled_ = true;
      open_ -= static_cast<int>(results_.size());
      results_.clear();
    }
  }
  Pump();
}

void SubmitBatchReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    open_ -= static_cast<int>(results_.size());
    results_.clear();
  }
  Pump();
}

void SubmitBatchReactor::Pump() {
  bool read = false;
  bool write = false;
  bool finish = false;
  bool ok = true;
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (!writing_ && !results_.empty()) {
      bool own_buffer = false;
      out_.Clear();  // No write is in progress.
      grpc::Status serialized =
          grpc::SerializationTraits<v1::SubmitBatchResult>::Serialize(
              results_.front(), &out_, &own_buffer);
      results_.pop_front();
      if (serialized.ok()) {
        writing_ = write = true;
      } else {
        --open_;  // Cannot happen for a message we built; drop it.
      }
    }
    if (!reading_ && !reads_done_ && !cancelled_ && open_ < window_) {
      reading_ = read = true;
    }
    if ((reads_done_ || cancelled_) && !reading_ && !writing_ && open_ == 0) {
      finished_ = finish = true;
      ok = !cancelled_;
    }
  }
  if (write) StartWrite(&out_);
  if (read) StartRead(&in_);
  if (finish) {
    Finish(ok ? grpc::Status::OK
              : grpc::Status(grpc::StatusCode::CANCELLED,
                             "the stream was cancelled"));
  }
}

void SubmitBatchReactor::OnDone() {
  {
    absl::MutexLock lock(&mu_);
    done_.clear();
  }
  delete this;
}

}  // namespace utpost::api
