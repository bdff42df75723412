// The human `utpostctl status` report, from a Status as the server sends
// it.
#include <sstream>

#include "absl/strings/str_split.h"
#include "cli/ops_commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::utpost::v1::Letter;

void Add(v1::Status::GroupCount* g, Letter::State state, int64_t n) {
  auto* sc = g->add_states();
  sc->set_state(state);
  sc->set_count(n);
  g->set_total(g->total() + n);
}

std::string Report(const v1::Status& s) {
  std::ostringstream os;
  PrintStatus(s, os);
  return os.str();
}

std::vector<std::string> LinesAfter(const std::string& text,
                                    const std::string& title, int n) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind(title, 0) == 0) {
      return std::vector<std::string>(
          lines.begin() + i, lines.begin() + std::min(lines.size(), i + 1 + n));
    }
  }
  return {};
}

TEST(StatusReportTest, StatesAreInOneOrderOnEveryRow) {
  v1::Status s;
  // The server's order, which is not the lifecycle's.
  for (auto [state, n] : std::vector<std::pair<Letter::State, int64_t>>{
           {Letter::PARKED, 1}, {Letter::DELIVERED, 5}, {Letter::QUEUED, 2}}) {
    auto* sc = s.add_letters();
    sc->set_state(state);
    sc->set_count(n);
  }
  auto* bergen = s.add_tenants();
  bergen->set_key("964338531");
  bergen->set_name("Bergen kommune");
  Add(bergen, Letter::PARKED, 1);
  Add(bergen, Letter::DELIVERED, 3);
  auto* oslo = s.add_tenants();
  oslo->set_key("958935420");
  Add(oslo, Letter::DELIVERED, 2);
  Add(oslo, Letter::QUEUED, 2);

  const std::string text = Report(s);
  EXPECT_THAT(text, HasSubstr("LETTERS  total 8 |  QUEUED 2  DELIVERED 5  "
                              "PARKED 1\n"));
  const auto rows = LinesAfter(text, "TENANT", 2);
  ASSERT_EQ(rows.size(), 3u) << text;
  EXPECT_EQ(rows[0], "TENANT                 TOTAL  QUEUED  DELIVERED  PARKED");
  EXPECT_EQ(rows[1],
            "         964338531         4       0          3       1  "
            "Bergen kommune");
  EXPECT_EQ(rows[2], "         958935420         4       2          2       0");
}

TEST(StatusReportTest, EmptySectionsAreLeftOut) {
  v1::Status s;
  const std::string text = Report(s);
  EXPECT_THAT(text, HasSubstr("LETTERS  total 0\n"));
  EXPECT_THAT(text, HasSubstr("PARKED   0\n"));
  EXPECT_THAT(text, HasSubstr("OUTBOX   pending 0\n"));
  for (const char* section : {"PAUSED", "WAITING", "QUEUES", "PROVIDER",
                              "TENANT", "CHANNEL", "CERTS"}) {
    EXPECT_THAT(text, Not(HasSubstr(section))) << text;
  }

  auto* w = s.add_waiting();
  w->set_state(Letter::ROUTED);
  w->set_count(3);
  s.add_queues()->set_queue("utpost.route");
  s.set_broker_error("");
  const std::string more = Report(s);
  EXPECT_THAT(more, HasSubstr("WAITING"));
  EXPECT_THAT(more, HasSubstr("QUEUES"));
  EXPECT_THAT(more, Not(HasSubstr("PROVIDER")));
}

TEST(StatusReportTest, WaitingStatesAreInLifecycleOrder) {
  v1::Status s;
  for (auto state : {Letter::PARKED, Letter::RECEIVED, Letter::ROUTED}) {
    s.add_waiting()->set_state(state);
  }
  const std::string text = Report(s);
  const size_t received = text.find("RECEIVED");
  const size_t routed = text.find("ROUTED");
  const size_t parked = text.find("PARKED", text.find("WAITING"));
  EXPECT_LT(received, routed) << text;
  EXPECT_LT(routed, parked) << text;
}

}  // namespace
}  // namespace utpost::cli
