// What OpsService does, without gRPC: status, letters across tenants,
// re-drive, pause/resume, cancel. The service checks the caller is an
// operator and passes its common name; everything here trusts that.
#ifndef UTPOST_GATEWAY_API_OPERATIONS_H_
#define UTPOST_GATEWAY_API_OPERATIONS_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gateway/config/certificates.h"
#include "gateway/store/store.h"
#include "queue/queue.h"
#include "utpost/v1/ops.pb.h"

namespace utpost::api {

struct OperationsOptions {
  // Names the queues and the channels ("deliver.<channel>" stages).
  queue::Topology topology;
  // Certificate files whose expiry the status shows.
  std::vector<config::CertificateFile> certificates;
  // Provider figures cover this much of the recent past. Default 5 min.
  absl::Duration provider_window = absl::Minutes(5);
  // Certificates expiring within this are flagged. Default 30 days.
  absl::Duration expiry_warning = absl::Hours(24 * 30);
  // Called after a state change (wakes the outbox relay and watchers).
  std::function<void()> on_change;
  // Not owned. Null: the real clock.
  Clock* clock = nullptr;
  // Tenants' names by organisation number (the configuration's tenants),
  // shown beside the numbers.
  std::map<std::string, std::string> tenant_names;
};

// Thread-safe.
class Operations {
 public:
  // `store` is not owned and outlives this; `admin` (may be null: no
  // broker figures) reads queue depths.
  Operations(store::Store* store, std::unique_ptr<queue::Admin> admin,
             OperationsOptions options);

  absl::StatusOr<v1::Status> GetStatus();
  absl::StatusOr<v1::OpsListLettersResponse> ListLetters(
      const v1::OpsListLettersRequest& request);
  absl::StatusOr<v1::OpsLetter> GetLetter(const std::string& name);
  absl::StatusOr<v1::RedriveLettersResponse> Redrive(
      const v1::RedriveLettersRequest& request, const std::string& operator_cn);
  absl::StatusOr<v1::ChannelState> SetPaused(const std::string& channel,
                                             bool paused,
                                             const std::string& operator_cn);
  absl::StatusOr<v1::OpsLetter> Cancel(const std::string& name,
                                       const std::string& operator_cn);

  // Channel names of the topology: "digital", "print".
  const std::vector<std::string>& channels() const { return channels_; }

 private:
  absl::Status CheckChannel(const std::string& channel,
                            const std::string& field) const;
  // Moves one PARKED letter back to the entry of its stage.
  absl::Status RedriveOne(const store::LetterRecord& letter,
                          const std::string& operator_cn);
  absl::StatusOr<v1::OpsLetter> FullLetter(const std::string& id);
  // The parked queue holds a copy of each parked work item, for the
  // broker's own tools; after a re-drive, copies of letters no longer
  // PARKED (and second copies of a letter parked twice) are removed. Best
  // effort: the store is the truth, and the next re-drive tries again.
  void PruneParkedCopies();

  store::Store* const store_;
  const OperationsOptions options_;
  Clock* const clock_;
  std::vector<std::string> channels_;
  std::mutex admin_mu_;  // queue::Admin is not thread-safe.
  std::unique_ptr<queue::Admin> admin_ ABSL_GUARDED_BY(admin_mu_);
};

// Provider rows of many processes and windows summed per channel.
std::map<std::string, store::ProviderStatsRecord> SumProviderStats(
    const std::vector<store::ProviderStatsRecord>& rows);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_OPERATIONS_H_
