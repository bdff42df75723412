// A unary gRPC call whose request is parsed by ParseRequest (for services
// registered with raw callback methods), so that a malformed request gets
// INVALID_ARGUMENT naming the field instead of gRPC's generic failure.
//
//   grpc::ServerUnaryReactor* Svc::GetThing(grpc::CallbackServerContext* ctx,
//                                           const grpc::ByteBuffer* in,
//                                           grpc::ByteBuffer* out) {
//     return ServeChecked<GetThingRequest, Thing>(
//         in, out, [this, ctx](auto* call) {
//           call->Reply(DoGetThing(ctx, call->request, &call->response));
//         });
//   }
#ifndef UTPOST_GATEWAY_API_CHECKED_UNARY_CALL_H_
#define UTPOST_GATEWAY_API_CHECKED_UNARY_CALL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gateway/api/request_parser.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/proto_buffer_writer.h"

namespace utpost::api {

// absl::Status -> grpc::Status, keeping code and message; a retry delay
// (common/retry_delay.h) goes along as a google.rpc.RetryInfo detail.
// Defined in letter_service.cc.
grpc::Status ToGrpcStatus(const absl::Status& s);

// Owns one call's request and response; deletes itself when gRPC is done
// with it.
template <class Request, class Response>
class CheckedUnaryCall final : public grpc::ServerUnaryReactor {
 public:
  explicit CheckedUnaryCall(grpc::ByteBuffer* out) : out_(out) {}

  Request request;
  Response response;

  // Sends `response` when `status` is OK, else the status alone. Exactly
  // once, from any thread.
  void Reply(const absl::Status& status) {
    if (!status.ok()) {
      Finish(ToGrpcStatus(status));
      return;
    }
    bool own_buffer = false;
    grpc::Status serialized = grpc::SerializationTraits<Response>::Serialize(
        response, out_, &own_buffer);
    Finish(serialized);
  }

  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer* const out_;
};

// Reads the request bytes. Fails as ParseRequest does.
inline absl::Status ParseByteBuffer(const grpc::ByteBuffer& in,
                                    google::protobuf::Message* message) {
  std::vector<grpc::Slice> slices;
  if (!in.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("request: unreadable");
  }
  std::string bytes;
  bytes.reserve(in.Length());
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return ParseRequest(bytes, message);
}

// Parses `in` into a new call's request and hands the call to `handler`,
// which must Reply once (now or later); a request that cannot be parsed is
// answered here and never reaches the handler.
template <class Request, class Response, class Handler>
grpc::ServerUnaryReactor* ServeChecked(const grpc::ByteBuffer* in,
                                       grpc::ByteBuffer* out,
                                       Handler&& handler) {
  auto* call = new CheckedUnaryCall<Request, Response>(out);
  if (absl::Status parsed = ParseByteBuffer(*in, &call->request);
      !parsed.ok()) {
    call->Reply(parsed);
    return call;
  }
  std::forward<Handler>(handler)(call);
  return call;
}

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_CHECKED_UNARY_CALL_H_
