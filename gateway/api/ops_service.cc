#include "gateway/api/ops_service.h"

#include <utility>

#include "gateway/api/letter_service.h"

namespace utpost::api {

OpsServiceImpl::OpsServiceImpl(store::Store* store,
                               std::unique_ptr<queue::Admin> admin,
                               queue::Topology topology, AccessPolicy access)
    : store_(store),
      topology_(std::move(topology)),
      access_(std::move(access)),
      admin_(std::move(admin)) {}

grpc::ServerUnaryReactor* OpsServiceImpl::GetStatus(
    grpc::CallbackServerContext* ctx, const v1::GetStatusRequest*,
    v1::Status* response) {
  auto* reactor = ctx->DefaultReactor();
  auto caller = IdentifyCaller(*ctx->auth_context(), access_);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  if (caller->kind != Caller::Kind::kOperator) {
    reactor->Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                 "OpsService needs an operator certificate"));
    return reactor;
  }
  auto counts = store_->CountByState();
  if (!counts.ok()) {
    reactor->Finish(ToGrpcStatus(counts.status()));
    return reactor;
  }
  for (const auto& [state, n] : *counts) {
    auto* c = response->add_letters();
    c->set_state(state);
    c->set_count(n);
  }
  auto pending = store_->CountPendingOutbox();
  if (pending.ok()) response->set_outbox_pending(*pending);
  {
    std::lock_guard<std::mutex> lock(admin_mu_);
    auto stats = admin_->Stats(topology_);
    if (stats.ok()) {
      for (const auto& q : *stats) {
        auto* d = response->add_queues();
        d->set_queue(q.queue);
        d->set_messages(q.messages);
        d->set_consumers(q.consumers);
      }
    } else {
      response->set_broker_error(std::string(stats.status().message()));
    }
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace utpost::api
