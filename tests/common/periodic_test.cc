#include "common/periodic.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace utpost {
namespace {

// Polls `done` until it holds or `limit` passes; true if it held.
template <typename F>
bool Eventually(F done, absl::Duration limit = absl::Seconds(10)) {
  const absl::Time until = absl::Now() + limit;
  while (absl::Now() < until) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return done();
}

TEST(PeriodicTaskTest, RunsRepeatedlyFirstAtOnce) {
  std::atomic<int> calls{0};
  PeriodicTask task(absl::Milliseconds(5), [&] { ++calls; });
  EXPECT_TRUE(Eventually([&] { return calls >= 5; }));
  EXPECT_GE(task.runs(), 4);
}

TEST(PeriodicTaskTest, InitialDelayHoldsTheFirstRunAndWakeCutsItShort) {
  std::atomic<int> calls{0};
  PeriodicTask task({absl::Hours(1), absl::Hours(1)}, [&] { ++calls; });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(calls, 0);
  task.Wake();
  EXPECT_TRUE(Eventually([&] { return calls == 1; }));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(calls, 1);
}

TEST(PeriodicTaskTest, StopsPromptlyWhileWaiting) {
  std::atomic<int> calls{0};
  PeriodicTask task(absl::Hours(1), [&] { ++calls; });
  ASSERT_TRUE(Eventually([&] { return calls == 1; }));
  const absl::Time start = absl::Now();
  task.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  task.Stop();  // Idempotent.
  task.Wake();  // Ignored once stopped.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(calls, 1);
}

TEST(PeriodicTaskTest, DestructorWaitsForTheRunInHandAndStartsNoOther) {
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  absl::Notification running;
  {
    PeriodicTask task(absl::Milliseconds(1), [&] {
      ++started;
      if (!running.HasBeenNotified()) running.Notify();
      absl::SleepFor(absl::Milliseconds(200));
      ++finished;
    });
    running.WaitForNotification();
  }
  // Joined: the run in hand ended, and nothing runs any more.
  EXPECT_EQ(started, finished);
  const int after = started;
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(started, after);
}

TEST(PeriodicTaskTest, SlowRunsDoNotOverlapOrPileUp) {
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  std::atomic<int> calls{0};
  const absl::Time start = absl::Now();
  PeriodicTask task(absl::Milliseconds(1), [&] {
    const int now = ++inside;
    if (now > most_inside) most_inside = now;
    absl::SleepFor(absl::Milliseconds(50));
    --inside;
    ++calls;
  });
  // Wakes during slow runs come together: at most one run follows.
  for (int i = 0; i < 100; ++i) {
    task.Wake();
    absl::SleepFor(absl::Milliseconds(3));
  }
  task.Stop();
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(most_inside, 1);
  EXPECT_GE(calls, 2);
  // One run per 50 ms at most, plus the one in hand at the start.
  EXPECT_LE(calls, elapsed / absl::Milliseconds(50) + 1);
}

TEST(PeriodicTaskTest, WakesDuringARunMakeOneMoreRun) {
  std::atomic<int> calls{0};
  absl::Notification in_first_run;
  absl::Notification release;
  PeriodicTask task(absl::Hours(1), [&] {
    if (++calls == 1) {
      in_first_run.Notify();
      release.WaitForNotification();
    }
  });
  in_first_run.WaitForNotification();
  for (int i = 0; i < 10; ++i) task.Wake();
  release.Notify();
  EXPECT_TRUE(Eventually([&] { return calls == 2; }));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(task.runs(), 2);
}

}  // namespace
}  // namespace utpost
