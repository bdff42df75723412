#include "gateway/api/watch_hub.h"

#include <utility>

#include "gateway/api/letter_view.h"
#include "spdlog/spdlog.h"

namespace utpost::api {
namespace {
constexpr absl::Duration kPollInterval = absl::Milliseconds(200);
constexpr int kFetchLimit = 500;
}  // namespace

WatchReactor::WatchReactor(WatchHub* hub, std::string tenant, int64_t cursor)
    : hub_(hub), tenant_(std::move(tenant)), cursor_(cursor) {
  hub_->Register(this);
  hub_->Wake();
}

void WatchReactor::Poll(store::Store* store) {
  int64_t after;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_ || writing_ || !pending_.empty()) return;
    after = cursor_;
  }
  auto receipts = store->ReceiptsAfter(after, tenant_, kFetchLimit);
  if (!receipts.ok()) {
    spdlog::warn("watch: store read failed: {}", receipts.status().ToString());
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  for (const auto& r : *receipts) {
    pending_.push_back(ToApiEvent(r));
    cursor_ = r.cursor;
  }
  if (!writing_) WriteNextLocked();
}

void WatchReactor::WriteNextLocked() {
  if (pending_.empty() || finished_) return;
  in_flight_ = std::move(pending_.front());
  pending_.pop_front();
  writing_ = true;
  StartWrite(&in_flight_);
}

void WatchReactor::OnWriteDone(bool ok) {
  bool drained = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    drained = pending_.empty();
    if (!drained) WriteNextLocked();
  }
  // Outside our lock: the hub thread takes its lock, then ours.
  if (drained) hub_->Wake();
}

void WatchReactor::OnCancel() {
  std::lock_guard<std::mutex> lock(mu_);
  FinishLocked(grpc::Status::CANCELLED);
}

void WatchReactor::FinishLocked(grpc::Status status) {
  if (finished_) return;
  finished_ = true;
  Finish(std::move(status));
}

void WatchReactor::OnDone() {
  hub_->Unregister(this);
  delete this;
}

WatchHub::WatchHub(store::Store* store)
    : store_(store),
      polls_({kPollInterval, kPollInterval}, [this] { PollAll(); }) {}

WatchHub::~WatchHub() { polls_.Stop(); }

void WatchHub::Register(WatchReactor* r) {
  std::lock_guard<std::mutex> lock(reactors_mu_);
  reactors_.insert(r);
}

void WatchHub::Unregister(WatchReactor* r) {
  std::lock_guard<std::mutex> lock(reactors_mu_);
  reactors_.erase(r);
}

void WatchHub::Wake() { polls_.Wake(); }

void WatchHub::PollAll() {
  // OnDone's Unregister waits for this to let go, so no stream is deleted
  // while it is polled.
  std::lock_guard<std::mutex> lock(reactors_mu_);
  for (WatchReactor* r : reactors_) r->Poll(store_);
}

}  // namespace utpost::api
