// Publishes the outbox: work items written by store transactions go to the
// broker with publisher confirms and are marked sent only after the
// broker's ack. After a crash or a broker outage whatever was never
// confirmed is published again (consumers are idempotent).
#ifndef UTPOST_GATEWAY_DISPATCH_OUTBOX_RELAY_H_
#define UTPOST_GATEWAY_DISPATCH_OUTBOX_RELAY_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "gateway/store/store.h"
#include "queue/queue.h"

namespace utpost::dispatch {

struct OutboxRelayOptions {
  // Rows published per round (one confirm window).
  int batch_size = 500;
  // Poll interval when nobody wakes the relay (other processes write too).
  int idle_poll_ms = 200;
  // Declared (idempotently) before the first publish.
  queue::Topology topology;
  // Called after rows were marked sent (letters became QUEUED).
  std::function<void()> on_sent;
  // Who claims the rows (Store::ClaimOutbox); empty: this process
  // (host:pid).
  std::string owner;
  // How long claimed rows are this relay's: longer than a round takes, so
  // that another relay does not publish them too (a repeat would only cost
  // a duplicate the consumers drop), short enough that a crashed relay's
  // rows soon go out.
  int64_t lease_ms = 10000;
};

class OutboxRelay {
 public:
  // `store` is not owned and outlives this. Starts its thread at once.
  OutboxRelay(store::Store* store, std::unique_ptr<queue::Publisher> publisher,
              std::unique_ptr<queue::Admin> admin, OutboxRelayOptions options);
  // Stops after the current round.
  ~OutboxRelay();

  // Publish now rather than at the next poll. Thread-safe.
  void Wake();

 private:
  void Loop();
  // One round; returns the number of rows published.
  int PublishRound();

  store::Store* const store_;
  std::unique_ptr<queue::Publisher> publisher_;
  std::unique_ptr<queue::Admin> admin_;
  const OutboxRelayOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_OUTBOX_RELAY_H_
