// Threads that consume work queues and hand each delivery to the
// dispatcher. One broker connection per thread.
#ifndef UTPOST_GATEWAY_DISPATCH_WORKER_POOL_H_
#define UTPOST_GATEWAY_DISPATCH_WORKER_POOL_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/periodic.h"
#include "gateway/dispatch/dispatcher.h"
#include "queue/queue.h"

namespace utpost::dispatch {

class WorkerPool {
 public:
  using ConsumerFactory = std::function<std::unique_ptr<queue::Consumer>()>;
  // Names of the queues that must not be consumed now (paused channels).
  // An error keeps the last answer.
  using PausedQueues = std::function<absl::StatusOr<std::set<std::string>>()>;

  // Starts one thread per entry of `queue_groups`, each consuming the
  // queues of its group. `dispatcher` is not owned and outlives this. When
  // `paused_queues` is set it is asked every `check_interval_ms`; a thread
  // whose group has a paused queue stops consuming (deliveries in hand
  // finish and are acked; prefetched ones go back to the queue) and starts
  // again once none of its queues is paused.
  //
  // A group whose queues all have an entry in `max_batch_by_queue` takes
  // up to that many deliveries that have arrived together (the smallest of
  // its queues' figures) and lets the dispatcher prepare them at once
  // (Dispatcher::Prefetch: one registry look-up for a batch of letters to
  // route); each is still handled and acked on its own.
  WorkerPool(ConsumerFactory make_consumer, Dispatcher* dispatcher,
             std::vector<std::vector<std::string>> queue_groups,
             PausedQueues paused_queues = nullptr, int check_interval_ms = 1000,
             std::map<std::string, int> max_batch_by_queue = {});
  // Stops taking deliveries, lets the ones in hand finish, joins.
  ~WorkerPool();

 private:
  struct Worker {
    std::vector<std::string> queues;
    int max_batch = 1;
    std::atomic<bool> paused{false};
    // What the consumer watches: the pool stops or the group is paused.
    std::atomic<bool> halt{false};
  };
  void Consume(Worker* w, const ConsumerFactory& make_consumer,
               Dispatcher* dispatcher);
  // One look at the paused queues: halts or resumes consumers.
  void CheckPauses(const PausedQueues& paused_queues);

  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<PeriodicTask> watcher_;  // Null without paused_queues.
  std::vector<std::thread> threads_;
};

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_WORKER_POOL_H_
