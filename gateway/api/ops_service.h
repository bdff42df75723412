// utpost.v1.OpsService: the operators' API. Only operator certificates;
// tenants get PERMISSION_DENIED.
#ifndef UTPOST_GATEWAY_API_OPS_SERVICE_H_
#define UTPOST_GATEWAY_API_OPS_SERVICE_H_

#include <memory>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "gateway/api/caller.h"
#include "gateway/store/store.h"
#include "queue/queue.h"
#include "utpost/v1/ops.grpc.pb.h"

namespace utpost::api {

class OpsServiceImpl final : public v1::OpsService::CallbackService {
 public:
  // `store` is not owned and outlives this; `admin` reads queue depths.
  OpsServiceImpl(store::Store* store, std::unique_ptr<queue::Admin> admin,
                 queue::Topology topology, AccessPolicy access);

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const v1::GetStatusRequest* request,
                                      v1::Status* response) override;

 private:
  store::Store* const store_;
  const queue::Topology topology_;
  const AccessPolicy access_;
  std::mutex admin_mu_;  // queue::Admin is not thread-safe.
  std::unique_ptr<queue::Admin> admin_ ABSL_GUARDED_BY(admin_mu_);
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_OPS_SERVICE_H_
