// Feeds WatchLetters streams. One thread (a PeriodicTask) polls the store for
// new receipts on behalf of every open stream (and is woken early after local
// commits), so a slow or idle watcher holds no thread.
#ifndef UTPOST_GATEWAY_API_WATCH_HUB_H_
#define UTPOST_GATEWAY_API_WATCH_HUB_H_

#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "common/periodic.h"
#include "gateway/store/store.h"
#include "grpcpp/grpcpp.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {

class WatchHub;

// One WatchLetters stream. Owned by gRPC; deletes itself in OnDone.
class WatchReactor final : public grpc::ServerWriteReactor<v1::LetterEvent> {
 public:
  WatchReactor(WatchHub* hub, std::string tenant, int64_t cursor);

  // Called by the hub thread: fetches what is new and starts writing.
  void Poll(store::Store* store);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  WatchHub* const hub_;
  const std::string tenant_;
  std::mutex mu_;
  int64_t cursor_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::LetterEvent> pending_ ABSL_GUARDED_BY(mu_);
  v1::LetterEvent in_flight_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class WatchHub {
 public:
  // `store` is not owned and outlives this.
  explicit WatchHub(store::Store* store);
  ~WatchHub();

  void Register(WatchReactor* r);
  void Unregister(WatchReactor* r);
  // Polls now instead of at the next tick. Thread-safe, cheap.
  void Wake();

 private:
  void PollAll();

  store::Store* const store_;
  // Guards the set of streams; held while polling them, so that none is
  // deleted meanwhile.
  std::mutex reactors_mu_;
  std::set<WatchReactor*> reactors_ ABSL_GUARDED_BY(reactors_mu_);
  // Its Wake (called by committing threads) never waits for a poll. Last:
  // stopped before the rest goes.
  PeriodicTask polls_;
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_WATCH_HUB_H_
