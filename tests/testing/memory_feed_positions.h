// Feed positions in memory, shared by the channel instances a test makes
// (adapters::FeedPositions as the store keeps them: compare and set).
#ifndef UTPOST_TESTS_TESTING_MEMORY_FEED_POSITIONS_H_
#define UTPOST_TESTS_TESTING_MEMORY_FEED_POSITIONS_H_

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "adapters/channel.h"

namespace utpost::testing {

class MemoryFeedPositions final : public adapters::FeedPositions {
 public:
  absl::StatusOr<std::string> Load(const std::string& feed) override {
    absl::MutexLock lock(&mu_);
    auto it = positions_.find(feed);
    return it == positions_.end() ? std::string() : it->second;
  }
  absl::StatusOr<bool> Move(const std::string& feed, const std::string& from,
                            const std::string& to) override {
    absl::MutexLock lock(&mu_);
    std::string& at = positions_[feed];
    if (at != from) return false;
    at = to;
    return true;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> positions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_MEMORY_FEED_POSITIONS_H_
