// utpost.v1.OpsService: the operators' API. Only operator certificates;
// tenants get PERMISSION_DENIED on every method. The work is done by
// Operations (operations.h); this checks the caller and converts errors.
#ifndef UTPOST_GATEWAY_API_OPS_SERVICE_H_
#define UTPOST_GATEWAY_API_OPS_SERVICE_H_

#include <memory>

#include "gateway/api/caller.h"
#include "gateway/api/checked_unary_call.h"
#include "gateway/api/operations.h"
#include "gateway/store/store.h"
#include "queue/queue.h"
#include "utpost/v1/ops.grpc.pb.h"

namespace utpost::api {

// Every method is registered raw: requests are parsed by ParseRequest, so
// that invalid UTF-8 gets INVALID_ARGUMENT with the field path.
using OpsServiceBase = v1::OpsService::WithRawCallbackMethod_GetStatus<
    v1::OpsService::WithRawCallbackMethod_ListLetters<
        v1::OpsService::WithRawCallbackMethod_GetLetter<
            v1::OpsService::WithRawCallbackMethod_RedriveLetters<
                v1::OpsService::WithRawCallbackMethod_PauseChannel<
                    v1::OpsService::WithRawCallbackMethod_ResumeChannel<
                        v1::OpsService::WithRawCallbackMethod_CancelLetter<
                            v1::OpsService::CallbackService>>>>>>>;

class OpsServiceImpl final : public OpsServiceBase {
 public:
  // `store` is not owned and outlives this; `admin` reads queue depths.
  OpsServiceImpl(store::Store* store, std::unique_ptr<queue::Admin> admin,
                 OperationsOptions options, AccessPolicy access);

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListLetters(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetLetter(grpc::CallbackServerContext* ctx,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RedriveLetters(grpc::CallbackServerContext* ctx,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* PauseChannel(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ResumeChannel(grpc::CallbackServerContext* ctx,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CancelLetter(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;

 private:
  // The operator's common name; PERMISSION_DENIED for a tenant.
  absl::StatusOr<std::string> OperatorOf(
      grpc::CallbackServerContext* ctx) const;
  // Parses the request, checks the caller, runs `fn(request, common_name)`
  // (which returns StatusOr<Response>) and replies with its result.
  template <typename Request, typename Response, typename Fn>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx,
                                  const grpc::ByteBuffer* in,
                                  grpc::ByteBuffer* out, Fn&& fn);

  const AccessPolicy access_;
  Operations operations_;
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_OPS_SERVICE_H_
