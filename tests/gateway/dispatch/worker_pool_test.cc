// WorkerPool pauses: a group whose queue is paused stops consuming and
// starts again on resume; other groups go on.
#include "gateway/dispatch/worker_pool.h"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace utpost::dispatch {
namespace {

// Counts, per queue, how often consuming started and whether it runs now.
struct Board {
  std::mutex mu;
  std::map<std::string, int> starts;
  std::map<std::string, bool> running;
};

class FakeConsumer final : public queue::Consumer {
 public:
  explicit FakeConsumer(Board* board) : board_(board) {}
  absl::Status Run(const std::vector<std::string>& queues, const Handler&,
                   const std::atomic<bool>* stop) override {
    {
      std::lock_guard<std::mutex> lock(board_->mu);
      ++board_->starts[queues[0]];
      board_->running[queues[0]] = true;
    }
    while (!stop->load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard<std::mutex> lock(board_->mu);
    board_->running[queues[0]] = false;
    return absl::OkStatus();
  }

 private:
  Board* board_;
};

class WorkerPoolTest : public ::testing::Test {
 protected:
  bool Eventually(const std::function<bool()>& done) {
    for (int i = 0; i < 300; ++i) {
      {
        std::lock_guard<std::mutex> lock(board_.mu);
        if (done()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  void SetPaused(std::set<std::string> queues) {
    std::lock_guard<std::mutex> lock(paused_mu_);
    paused_ = std::move(queues);
  }
  WorkerPool::PausedQueues PausedFn() {
    return [this]() -> absl::StatusOr<std::set<std::string>> {
      std::lock_guard<std::mutex> lock(paused_mu_);
      return paused_;
    };
  }

  Board board_;
  std::mutex paused_mu_;
  std::set<std::string> paused_;
};

TEST_F(WorkerPoolTest, APausedQueueIsLetGoAndTakenUpAgainOnResume) {
  SetPaused({"print"});
  WorkerPool pool([this] { return std::make_unique<FakeConsumer>(&board_); },
                  nullptr, {{"route"}, {"print"}}, PausedFn(),
                  /*check_interval_ms=*/20);
  ASSERT_TRUE(Eventually([&] { return board_.running["route"]; }));
  // Paused from the start: never consumed.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  {
    std::lock_guard<std::mutex> lock(board_.mu);
    EXPECT_EQ(board_.starts["print"], 0);
  }
  SetPaused({});
  ASSERT_TRUE(Eventually([&] { return board_.running["print"]; }));
  SetPaused({"print"});
  ASSERT_TRUE(Eventually([&] { return !board_.running["print"]; }));
  {
    std::lock_guard<std::mutex> lock(board_.mu);
    EXPECT_TRUE(board_.running["route"]);
    EXPECT_EQ(board_.starts["route"], 1);
  }
  SetPaused({});
  ASSERT_TRUE(Eventually([&] { return board_.starts["print"] == 2; }));
}

TEST_F(WorkerPoolTest, StopsWhilePaused) {
  SetPaused({"print"});
  {
    WorkerPool pool([this] { return std::make_unique<FakeConsumer>(&board_); },
                    nullptr, {{"print"}}, PausedFn(), 20);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::lock_guard<std::mutex> lock(board_.mu);
  EXPECT_EQ(board_.starts["print"], 0);
}

}  // namespace
}  // namespace utpost::dispatch
