// Providers' event feed positions kept in the store, shared by every worker
// process and kept across restarts (adapters::FeedPositions).
#ifndef UTPOST_GATEWAY_DISPATCH_FEED_POSITIONS_H_
#define UTPOST_GATEWAY_DISPATCH_FEED_POSITIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "adapters/channel.h"
#include "gateway/store/store.h"

namespace utpost::dispatch {

// Thread-safe; `store` is not owned and outlives this.
class StoreFeedPositions final : public adapters::FeedPositions {
 public:
  explicit StoreFeedPositions(store::Store* store) : store_(store) {}

  absl::StatusOr<std::string> Load(const std::string& feed) override {
    return store_->FeedPosition(feed);
  }
  absl::StatusOr<bool> Move(const std::string& feed, const std::string& from,
                            const std::string& to) override {
    return store_->MoveFeedPosition(feed, from, to);
  }

 private:
  store::Store* const store_;
};

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_FEED_POSITIONS_H_
