// The store's periodic upkeep: the receipt log's sequencer, signed tree
// heads and the retention sweep of documents. Each is a PeriodicTask (common/
// periodic.h) whose first run comes one interval after the start.
#ifndef UTPOST_GATEWAY_MAINTENANCE_H_
#define UTPOST_GATEWAY_MAINTENANCE_H_

#include <functional>
#include <memory>

#include "common/periodic.h"
#include "gateway/store/store.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::gateway {

// Makes queued receipts leaves of the log every 100 ms while this process
// holds the store's sequencer lease (Store::SequenceReceipts); then calls
// `on_sequenced` (not null) when it added any. With an engine whose
// receipts become leaves as they commit, each run returns at once. `store` is
// not owned and outlives the task.
std::unique_ptr<PeriodicTask> StartSequencer(
    store::Store* store, std::function<void()> on_sequenced);

// A signed tree head every `receipt_log.tree_head_interval_seconds`
// whenever the log grew. Any process may issue one; the store returns the
// newest head when another process got there first. `store` is not owned
// and outlives the task.
std::unique_ptr<PeriodicTask> StartTreeHeads(const config::v1::Config& config,
                                             store::Store* store);

// Purges the documents of letters finished more than
// `retention.documents_days` ago, every `retention.sweep_interval_seconds`;
// null when documents are kept for ever. `store` is not owned and outlives
// the task.
std::unique_ptr<PeriodicTask> StartRetention(const config::v1::Config& config,
                                             store::Store* store);

// Deletes expired uploads (UploadDocument) every
// `retention.sweep_interval_seconds`. `store` is not owned and outlives the
// task.
std::unique_ptr<PeriodicTask> StartUploadSweep(const config::v1::Config& config,
                                               store::Store* store);

}  // namespace utpost::gateway

#endif  // UTPOST_GATEWAY_MAINTENANCE_H_
