// Provider figures: the instrumented channel reports every send, the
// observer sums them per channel and window.
#include "gateway/dispatch/provider_stats.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "adapters/instrumented_channel.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::dispatch {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// Answers from a script: OK, or the given error.
class ScriptedChannel final : public adapters::Channel {
 public:
  explicit ScriptedChannel(std::vector<absl::Status> answers)
      : answers_(std::move(answers)) {}
  std::string name() const override { return "print"; }
  absl::StatusOr<adapters::SendResult> Send(
      const adapters::OutgoingLetter&) override {
    absl::Status s = answers_.at(next_++);
    if (!s.ok()) return s;
    return adapters::SendResult{};
  }

 private:
  std::vector<absl::Status> answers_;
  size_t next_ = 0;
};

class Recorder final : public adapters::ChannelObserver {
 public:
  void OnSend(const std::string& channel, absl::Duration latency,
              const absl::Status& status) override {
    seen.push_back(channel + " " +
                   std::string(absl::StatusCodeToString(status.code())));
    EXPECT_GE(latency, absl::ZeroDuration());
  }
  std::vector<std::string> seen;
};

TEST(InstrumentedChannelTest, TellsEveryObserverAndPassesTheResultOn) {
  Recorder a, b;
  adapters::InstrumentedChannel channel(
      std::make_unique<ScriptedChannel>(std::vector<absl::Status>{
          absl::OkStatus(), absl::UnavailableError("503")}),
      {&a, &b});
  EXPECT_EQ(channel.name(), "print");
  EXPECT_TRUE(channel.Send({}).ok());
  auto failed = channel.Send({});
  EXPECT_TRUE(absl::IsUnavailable(failed.status()));
  EXPECT_EQ(a.seen,
            (std::vector<std::string>{"print OK", "print UNAVAILABLE"}));
  EXPECT_EQ(b.seen, a.seen);
}

TEST(ProviderStatsTest, SumsPerChannelAndStartsANewWindow) {
  FakeClock clock(1000000);
  ProviderStats stats(&clock);
  stats.OnSend("print", absl::Milliseconds(10), absl::OkStatus());
  stats.OnSend("print", absl::Milliseconds(30),
               absl::UnavailableError("print: 503 for 01017012345"));
  stats.OnSend("digital", absl::Milliseconds(5), absl::OkStatus());
  clock.Advance(5000);
  auto rows = stats.TakeWindow("host:1");
  ASSERT_THAT(rows, SizeIs(2));
  const auto& digital = rows[0];
  const auto& print = rows[1];
  EXPECT_EQ(digital.channel, "digital");
  EXPECT_EQ(print.channel, "print");
  EXPECT_EQ(print.process_id, "host:1");
  EXPECT_EQ(print.window_start_ms, 1000000);
  EXPECT_EQ(print.window_end_ms, 1005000);
  EXPECT_EQ(print.sends, 2);
  EXPECT_EQ(print.errors, 1);
  EXPECT_EQ(print.latency_sum_us, 40000);
  EXPECT_EQ(print.latency_max_us, 30000);
  // The error text never carries a whole person number.
  EXPECT_THAT(print.last_error, HasSubstr("010170*****"));
  EXPECT_EQ(print.last_error.find("01017012345"), std::string::npos);

  EXPECT_THAT(stats.TakeWindow("host:1"), SizeIs(0));
  stats.OnSend("print", absl::Milliseconds(1), absl::OkStatus());
  rows = stats.TakeWindow("host:1");
  ASSERT_THAT(rows, SizeIs(1));
  EXPECT_EQ(rows[0].window_start_ms, 1005000);
  EXPECT_EQ(rows[0].sends, 1);
  EXPECT_EQ(rows[0].errors, 0);
}

}  // namespace
}  // namespace utpost::dispatch
