#include "gateway/api/stats_service.h"

#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gateway/api/checked_unary_call.h"
#include "gateway/api/statistics.h"

namespace utpost::api {

absl::StatusOr<v1::Statistics> GetStatisticsFor(
    store::OpsStore* store, const StatsServiceOptions& options,
    const Caller& caller, const v1::GetStatisticsRequest& request) {
  std::string tenant = request.tenant();
  if (caller.kind == Caller::Kind::kTenant) {
    if (!tenant.empty() && tenant != caller.tenant) {
      return absl::PermissionDeniedError(
          "tenant: a tenant sees only its own statistics");
    }
    tenant = caller.tenant;
  }
  const Clock* clock = options.clock != nullptr ? options.clock : RealClock();
  ASSIGN_OR_RETURN(StatsPeriod period,
                   ParseStatsPeriod(request.period(),
                                    absl::FromUnixMillis(clock->NowMillis()),
                                    StatsTimeZone()));
  store::StatsQuery q;
  q.tenant = tenant;
  q.from_ms = period.from_ms();
  q.to_ms = period.to_ms();
  ASSIGN_OR_RETURN(std::vector<store::LetterFacts> facts,
                   store->LetterStatistics(q));
  StatsInput input;
  input.period = period;
  input.prices = options.prices;
  input.tenant_names = options.tenant_names;
  if (!tenant.empty()) {
    input.tenants.insert(tenant);
  } else {
    input.tenants = options.access.tenants;
  }
  return SummariseStatistics(input, facts);
}

StatsServiceImpl::StatsServiceImpl(store::OpsStore* store,
                                   StatsServiceOptions options)
    : store_(store), options_(std::move(options)) {}

grpc::ServerUnaryReactor* StatsServiceImpl::GetStatistics(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeChecked<v1::GetStatisticsRequest, v1::Statistics>(
      request, response, [this, ctx](auto* call) {
        auto caller = IdentifyCaller(*ctx->auth_context(), options_.access);
        if (!caller.ok()) {
          call->Reply(caller.status());
          return;
        }
        auto stats = GetStatisticsFor(store_, options_, *caller, call->request);
        if (stats.ok()) call->response = std::move(*stats);
        call->Reply(stats.status());
      });
}

}  // namespace utpost::api
