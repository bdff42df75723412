// Tells the open WatchLetters streams that letters changed. Parts made
// before the letter service (the outbox relay) and parts that may outlive
// it hold this instead of the service: the api role attaches its service
// once complete and detaches it before destroying it.
#ifndef UTPOST_GATEWAY_LETTER_WATCHERS_H_
#define UTPOST_GATEWAY_LETTER_WATCHERS_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace utpost::api {
class LetterServiceImpl;
}  // namespace utpost::api

namespace utpost::gateway {

// Thread-safe.
class LetterWatchers {
 public:
  // `letters` (not owned) stays alive until Detach returns.
  void Attach(api::LetterServiceImpl* letters);
  // Waits for a Notify under way; none reaches the service after this.
  void Detach();
  // Cheap (the watch hub is only woken); nothing when detached.
  void Notify();

 private:
  absl::Mutex mu_;
  api::LetterServiceImpl* letters_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace utpost::gateway

#endif  // UTPOST_GATEWAY_LETTER_WATCHERS_H_
