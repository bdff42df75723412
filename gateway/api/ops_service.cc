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

template <typename Request, typename Response, typename Fn>
grpc::ServerUnaryReactor* OpsServiceImpl::Serve(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out, Fn&& fn) {
  return ServeChecked<Request, Response>(
      in, out, [this, ctx, &fn](CheckedUnaryCall<Request, Response>* call) {
        auto who = OperatorOf(ctx);
        if (!who.ok()) return call->Reply(who.status());
        absl::StatusOr<Response> result = fn(call->request, *who);
        if (!result.ok()) return call->Reply(result.status());
        call->response = std::move(*result);
        call->Reply(absl::OkStatus());
      });
}

grpc::ServerUnaryReactor* OpsServiceImpl::GetStatus(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::GetStatusRequest, v1::Status>(
      ctx, request, response,
      [&](const v1::GetStatusRequest&, const std::string&) {
        return operations_.GetStatus();
      });
}

grpc::ServerUnaryReactor* OpsServiceImpl::ListLetters(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::OpsListLettersRequest, v1::OpsListLettersResponse>(
      ctx, request, response,
      [&](const v1::OpsListLettersRequest& request, const std::string&) {
        return operations_.ListLetters(request);
      });
}

grpc::ServerUnaryReactor* OpsServiceImpl::GetLetter(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::OpsGetLetterRequest, v1::OpsLetter>(
      ctx, request, response,
      [&](const v1::OpsGetLetterRequest& request, const std::string&) {
        return operations_.GetLetter(request.name());
      });
}

grpc::ServerUnaryReactor* OpsServiceImpl::RedriveLetters(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::RedriveLettersRequest, v1::RedriveLettersResponse>(
      ctx, request, response,
      [&](const v1::RedriveLettersRequest& request, const std::string& who) {
        return operations_.Redrive(request, who);
      });
}

grpc::ServerUnaryReactor* OpsServiceImpl::PauseChannel(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::PauseChannelRequest, v1::ChannelState>(
      ctx, request, response,
      [&](const v1::PauseChannelRequest& request, const std::string& who) {
        return operations_.SetPaused(request.channel(), true, who);
      });
}

grpc::ServerUnaryReactor* OpsServiceImpl::ResumeChannel(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::ResumeChannelRequest, v1::ChannelState>(
      ctx, request, response,
      [&](const v1::ResumeChannelRequest& request, const std::string& who) {
        return operations_.SetPaused(request.channel(), false, who);
      });
}

grpc::ServerUnaryReactor* OpsServiceImpl::CancelLetter(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Serve<v1::OpsCancelLetterRequest, v1::OpsLetter>(
      ctx, request, response,
      [&](const v1::OpsCancelLetterRequest& request, const std::string& who) {
        return operations_.Cancel(request.name(), who);
      });
}

}  // namespace utpost::api
