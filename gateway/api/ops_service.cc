#include "gateway/api/ops_service.h"

#include <utility>

#include "common/status_macros.h"
#include "gateway/api/letter_service.h"

namespace utpost::api {

OpsServiceImpl::OpsServiceImpl(store::Store* store,
                               std::unique_ptr<queue::Admin> admin,
                               OperationsOptions options, AccessPolicy access)
    : access_(std::move(access)),
      operations_(store, std::move(admin), std::move(options)) {}

absl::StatusOr<std::string> OpsServiceImpl::OperatorOf(
    grpc::CallbackServerContext* ctx) const {
  ASSIGN_OR_RETURN(Caller caller,
                   IdentifyCaller(*ctx->auth_context(), access_));
  if (caller.kind != Caller::Kind::kOperator) {
    return absl::PermissionDeniedError(
        "OpsService needs an operator certificate");
  }
  return caller.common_name;
}

template <typename Response, typename Fn>
grpc::ServerUnaryReactor* OpsServiceImpl::Serve(
    grpc::CallbackServerContext* ctx, Response* response, Fn&& fn) {
  auto* reactor = ctx->DefaultReactor();
  auto who = OperatorOf(ctx);
  if (!who.ok()) {
    reactor->Finish(ToGrpcStatus(who.status()));
    return reactor;
  }
  absl::StatusOr<Response> result = fn(*who);
  if (!result.ok()) {
    reactor->Finish(ToGrpcStatus(result.status()));
    return reactor;
  }
  *response = std::move(*result);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OpsServiceImpl::GetStatus(
    grpc::CallbackServerContext* ctx, const v1::GetStatusRequest*,
    v1::Status* response) {
  return Serve(ctx, response,
               [&](const std::string&) { return operations_.GetStatus(); });
}

grpc::ServerUnaryReactor* OpsServiceImpl::ListLetters(
    grpc::CallbackServerContext* ctx, const v1::OpsListLettersRequest* request,
    v1::OpsListLettersResponse* response) {
  return Serve(ctx, response, [&](const std::string&) {
    return operations_.ListLetters(*request);
  });
}

grpc::ServerUnaryReactor* OpsServiceImpl::GetLetter(
    grpc::CallbackServerContext* ctx, const v1::OpsGetLetterRequest* request,
    v1::OpsLetter* response) {
  return Serve(ctx, response, [&](const std::string&) {
    return operations_.GetLetter(request->name());
  });
}

grpc::ServerUnaryReactor* OpsServiceImpl::RedriveLetters(
    grpc::CallbackServerContext* ctx, const v1::RedriveLettersRequest* request,
    v1::RedriveLettersResponse* response) {
  return Serve(ctx, response, [&](const std::string& who) {
    return operations_.Redrive(*request, who);
  });
}

grpc::ServerUnaryReactor* OpsServiceImpl::PauseChannel(
    grpc::CallbackServerContext* ctx, const v1::PauseChannelRequest* request,
    v1::ChannelState* response) {
  return Serve(ctx, response, [&](const std::string& who) {
    return operations_.SetPaused(request->channel(), true, who);
  });
}

grpc::ServerUnaryReactor* OpsServiceImpl::ResumeChannel(
    grpc::CallbackServerContext* ctx, const v1::ResumeChannelRequest* request,
    v1::ChannelState* response) {
  return Serve(ctx, response, [&](const std::string& who) {
    return operations_.SetPaused(request->channel(), false, who);
  });
}

grpc::ServerUnaryReactor* OpsServiceImpl::CancelLetter(
    grpc::CallbackServerContext* ctx, const v1::OpsCancelLetterRequest* request,
    v1::OpsLetter* response) {
  return Serve(ctx, response, [&](const std::string& who) {
    return operations_.Cancel(request->name(), who);
  });
}

}  // namespace utpost::api
