// utpost.v1.StatsService (proto/utpost/v1/stats.proto): letters, channels,
// reads, delivery times and cost per tenant and month. A tenant sees only
// its own figures; an operator any tenant's or all.
#ifndef UTPOST_GATEWAY_API_STATS_SERVICE_H_
#define UTPOST_GATEWAY_API_STATS_SERVICE_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gateway/api/caller.h"
#include "gateway/api/pricing.h"
#include "gateway/store/store.h"
#include "utpost/v1/stats.grpc.pb.h"

namespace utpost::api {

struct StatsServiceOptions {
  AccessPolicy access;
  UnitPrices prices;
  std::map<std::string, std::string> tenant_names;
  // Not owned; null: the real clock. Only for the default period.
  const Clock* clock = nullptr;
};

// The answer to `request` from `caller`: the checks and the figures,
// without gRPC. PERMISSION_DENIED when a tenant asks for another tenant.
absl::StatusOr<v1::Statistics> GetStatisticsFor(
    store::OpsStore* store, const StatsServiceOptions& options,
    const Caller& caller, const v1::GetStatisticsRequest& request);

// The unary method is registered raw: its request is parsed by
// ParseRequest (invalid UTF-8 is INVALID_ARGUMENT naming the field).
using StatsServiceBase = v1::StatsService::WithRawCallbackMethod_GetStatistics<
    v1::StatsService::CallbackService>;

class StatsServiceImpl final : public StatsServiceBase {
 public:
  // `store` is not owned and outlives this.
  StatsServiceImpl(store::OpsStore* store, StatsServiceOptions options);

  grpc::ServerUnaryReactor* GetStatistics(grpc::CallbackServerContext* ctx,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;

 private:
  store::OpsStore* const store_;
  const StatsServiceOptions options_;
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_STATS_SERVICE_H_
