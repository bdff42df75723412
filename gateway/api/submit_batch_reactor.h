// One SubmitBatch stream (utpost.v1.LetterService): letters in, one result
// per letter out, with the server reading at most a window of letters ahead
// of the results the client has taken.
//
// Each letter read is handed to `submit` (the same path as SubmitLetter);
// its result is written when `submit` completes, in completion order, with
// the letter's index in the stream. The stream finishes OK once the client has
// half-closed and every result is written; after a cancellation (the client
// went away) it waits for the letters already handed to `submit`, drops
// their results and finishes CANCELLED.
//
// Memory: at most `window` letters (their requests and results) at a time,
// whatever the length of the stream. Deletes itself when gRPC is done.
#ifndef UTPOST_GATEWAY_API_SUBMIT_BATCH_REACTOR_H_
#define UTPOST_GATEWAY_API_SUBMIT_BATCH_REACTOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {

class SubmitBatchReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // Submits one letter; `done` runs once, on any thread, after `response`
  // is filled (when OK). `request` and `response` stay valid until then.
  using Submit = std::function<void(const v1::SubmitLetterRequest* request,
                                    v1::SubmitLetterResponse* response,
                                    std::function<void(absl::Status)> done)>;

  static constexpr int kWindow = 64;

  // Starts reading at once.
  explicit SubmitBatchReactor(Submit submit, int window = kWindow);
  // A stream refused before its first letter (e.g. the caller is no
  // tenant): finishes at once with `status`.
  explicit SubmitBatchReactor(const absl::Status& status);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  struct Letter {
    int64_t index = 0;
    v1::SubmitLetterRequest request;
    v1::SubmitLetterResponse response;
  };
  ~SubmitBatchReactor() override = default;

  void Completed(Letter* letter, const absl::Status& status);
  // Starts whatever can start now (a read, a write, the finish); call
  // without mu_ held.
  void Pump();

  const Submit submit_;
  const int window_;

  absl::Mutex mu_;
  grpc::ByteBuffer in_;   // The read in progress.
  grpc::ByteBuffer out_;  // The write in progress.
  // Letters whose result is made; freed on the next reaction, when no
  // callback of theirs can still be running. (A letter in `submit` is
  // owned by its callback.)
  std::vector<std::unique_ptr<Letter>> done_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::SubmitBatchResult> results_ ABSL_GUARDED_BY(mu_);
  int64_t next_index_ ABSL_GUARDED_BY(mu_) = 0;
  // Letters read whose result is not written (or dropped) yet.
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_SUBMIT_BATCH_REACTOR_H_
