// utpost.v1.OpsService: the operators' API. Only operator certificates;
// tenants get PERMISSION_DENIED on every method. The work is done by
// Operations (operations.h); this checks the caller and converts errors.
#ifndef UTPOST_GATEWAY_API_OPS_SERVICE_H_
#define UTPOST_GATEWAY_API_OPS_SERVICE_H_

#include <memory>

#include "gateway/api/caller.h"
#include "gateway/api/operations.h"
#include "gateway/store/store.h"
#include "queue/queue.h"
#include "utpost/v1/ops.grpc.pb.h"

namespace utpost::api {

class OpsServiceImpl final : public v1::OpsService::CallbackService {
 public:
  // `store` is not owned and outlives this; `admin` reads queue depths.
  OpsServiceImpl(store::Store* store, std::unique_ptr<queue::Admin> admin,
                 OperationsOptions options, AccessPolicy access);

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const v1::GetStatusRequest* request,
                                      v1::Status* response) override;
  grpc::ServerUnaryReactor* ListLetters(
      grpc::CallbackServerContext* ctx,
      const v1::OpsListLettersRequest* request,
      v1::OpsListLettersResponse* response) override;
  grpc::ServerUnaryReactor* GetLetter(grpc::CallbackServerContext* ctx,
                                      const v1::OpsGetLetterRequest* request,
                                      v1::OpsLetter* response) override;
  grpc::ServerUnaryReactor* RedriveLetters(
      grpc::CallbackServerContext* ctx,
      const v1::RedriveLettersRequest* request,
      v1::RedriveLettersResponse* response) override;
  grpc::ServerUnaryReactor* PauseChannel(grpc::CallbackServerContext* ctx,
                                         const v1::PauseChannelRequest* request,
                                         v1::ChannelState* response) override;
  grpc::ServerUnaryReactor* ResumeChannel(
      grpc::CallbackServerContext* ctx, const v1::ResumeChannelRequest* request,
      v1::ChannelState* response) override;
  grpc::ServerUnaryReactor* CancelLetter(
      grpc::CallbackServerContext* ctx,
      const v1::OpsCancelLetterRequest* request,
      v1::OpsLetter* response) override;

 private:
  // The operator's common name; PERMISSION_DENIED for a tenant.
  absl::StatusOr<std::string> OperatorOf(
      grpc::CallbackServerContext* ctx) const;
  // Checks the caller, runs `fn(common_name)` and finishes with its result.
  template <typename Response, typename Fn>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx,
                                  Response* response, Fn&& fn);

  const AccessPolicy access_;
  Operations operations_;
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_OPS_SERVICE_H_
