#include "sim/faults.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/digipost_events.h"

namespace utpost::sim {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using Action = FaultDecision::Action;

TEST(FaultModelTest, OldShapeFailsTheNextCountRequests) {
  FaultModel m;
  ASSERT_THAT(m.SetFromJson(R"({"endpoint": "digipost", "status": 503,
                                "count": 2, "delay_ms": 5})"),
              IsOk());
  for (int i = 0; i < 2; ++i) {
    FaultDecision d = m.OnRequest("digipost");
    EXPECT_EQ(d.action, Action::kFail);
    EXPECT_EQ(d.status, 503);
    EXPECT_EQ(d.delay_ms, 5);
  }
  EXPECT_EQ(m.OnRequest("digipost").action, Action::kNone);
  EXPECT_EQ(m.OnRequest("print").action, Action::kNone);
}

TEST(FaultModelTest, EveryNthAndProviderErrorBody) {
  FaultModel m;
  ASSERT_THAT(m.SetFromJson(R"({"endpoint": "altinn", "status": 400,
                                "count": -1, "every_nth": 3,
                                "error_code": "UNKNOWN_RECIPIENT",
                                "error_type": "CLIENT_DATA"})"),
              IsOk());
  int failed = 0;
  for (int i = 1; i <= 9; ++i) {
    FaultDecision d = m.OnRequest("altinn");
    if (d.action == Action::kFail) {
      ++failed;
      EXPECT_EQ(i % 3, 0);
      EXPECT_EQ(d.error_code, "UNKNOWN_RECIPIENT");
      EXPECT_EQ(d.error_type, "CLIENT_DATA");
    }
  }
  EXPECT_EQ(failed, 3);
}

TEST(FaultModelTest, ErrorRateFailsSomeAndCountsOnlyFailures) {
  FaultModel m;
  ASSERT_THAT(m.SetFromJson(R"({"endpoint": "token", "status": 500,
                                "count": 50, "error_rate": 0.5})"),
              IsOk());
  int failed = 0;
  int requests = 0;
  while (failed < 50 && requests < 10000) {
    ++requests;
    if (m.OnRequest("token").action == Action::kFail) ++failed;
  }
  EXPECT_EQ(failed, 50);
  // Some passed (all 50 first ones failing has odds of 2^-50).
  EXPECT_GT(requests, 50);
  EXPECT_EQ(m.OnRequest("token").action, Action::kNone);
}

TEST(FaultModelTest, AMatchingFaultTouchesOnlyRequestsAboutItsSubject) {
  FaultModel m;
  ASSERT_THAT(m.SetFromJson(R"({"endpoint": "print", "status": 400,
                                "count": 2, "match": "bad-letter",
                                "error_code": "BAD_LETTER"})"),
              IsOk());
  EXPECT_EQ(m.OnRequest("print").action, Action::kNone);
  EXPECT_EQ(m.OnRequest("print", R"({"letters": ["good"]})").action,
            Action::kNone);
  FaultDecision d = m.OnRequest("print", R"({"letters": ["bad-letter"]})");
  EXPECT_EQ(d.action, Action::kFail);
  EXPECT_EQ(d.status, 400);
  EXPECT_EQ(d.error_code, "BAD_LETTER");
  // Requests it does not match do not use up its count.
  EXPECT_EQ(m.OnRequest("print", "other").action, Action::kNone);
  EXPECT_EQ(m.OnRequest("print", "x bad-letter x").action, Action::kFail);
  EXPECT_EQ(m.OnRequest("print", "x bad-letter x").action, Action::kNone);
  EXPECT_THAT(m.SetFromJson(R"({"endpoint": "print", "match": 5})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("match")));
}

TEST(FaultModelTest, TimeoutsDropsAndFeedFaults) {
  FaultModel m;
  ASSERT_THAT(
      m.SetFromJson(R"({"endpoint": "dpi", "timeout": true, "count": 1})"),
      IsOk());
  FaultDecision d = m.OnRequest("dpi");
  EXPECT_EQ(d.action, Action::kTimeout);
  EXPECT_GT(d.timeout_ms, 0);
  ASSERT_THAT(m.SetFromJson(R"({"endpoint": "print", "drop": true})"), IsOk());
  EXPECT_EQ(m.OnRequest("print").action, Action::kDrop);
  ASSERT_THAT(m.SetFromJson(R"({"endpoint": "digipost-events",
                                "duplicate": true, "late_ms": 100,
                                "out_of_order": true})"),
              IsOk());
  // A feed fault fails no request and lasts.
  EXPECT_EQ(m.OnRequest("digipost-events").action, Action::kNone);
  EXPECT_EQ(m.OnRequest("digipost-events").action, Action::kNone);
  EventFaults f = m.EventsOf("digipost-events");
  EXPECT_TRUE(f.duplicate);
  EXPECT_TRUE(f.out_of_order);
  EXPECT_EQ(f.late_ms, 100);
  m.Clear();
  EXPECT_FALSE(m.EventsOf("digipost-events").duplicate);
}

TEST(FaultModelTest, BadFaultsAreRefusedByField) {
  FaultModel m;
  EXPECT_THAT(
      m.SetFromJson(R"({"endpoint": "Digi Post"})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("endpoint")));
  EXPECT_THAT(
      m.SetFromJson(R"({"endpoint": "digipost", "status": 42})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("status")));
  EXPECT_THAT(
      m.SetFromJson(R"({"endpoint": "digipost", "error_rate": 2})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("error_rate")));
  EXPECT_THAT(m.SetFromJson("[]"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("body")));
}

TEST(DigipostEventFeedTest, LateDuplicateAndOutOfOrder) {
  DigipostEventFeed feed;
  feed.Schedule("d1", "OPENED", 1000, 10);
  feed.Schedule("d2", "POSTMARKED", 1001, 10);
  EXPECT_THAT(feed.Page(500, 0, 10, {}), ::testing::Not(HasSubstr("<event ")));
  EventFaults f;
  f.late_ms = 1000;
  EXPECT_THAT(feed.Page(1999, 0, 10, f), ::testing::Not(HasSubstr("d1")));
  f.duplicate = true;
  f.out_of_order = true;
  std::string page = feed.Page(2001, 0, 10, f);
  // d2 first (reversed), each twice.
  size_t d2 = page.find("uuid=\"d2\"");
  size_t d1 = page.find("uuid=\"d1\"");
  ASSERT_NE(d2, std::string::npos);
  ASSERT_NE(d1, std::string::npos);
  EXPECT_LT(d2, d1);
  EXPECT_NE(page.find("uuid=\"d2\"", d2 + 1), std::string::npos);
  EXPECT_EQ(feed.served(), 4);
  // Offsets page through the feed.
  EXPECT_THAT(feed.Page(3000, 3, 10, {}), HasSubstr("d1"));
  EXPECT_THAT(feed.Page(3000, 4, 10, {}), ::testing::Not(HasSubstr("<event ")));
}

TEST(DigipostEventFeedTest, EventsAreAttributesOfTheDocument) {
  DigipostEventFeed feed;
  feed.Schedule("0b2c7d9e-1111-4222-9333-444455556666", "OPENED", 1'500, 1'000);
  EXPECT_THAT(feed.Page(2'000, 0, 10, {}),
              HasSubstr("<event uuid=\"0b2c7d9e-1111-4222-9333-444455556666\" "
                        "type=\"OPENED\" created=\"1970-01-01T00:00:01.500Z\" "
                        "document-created=\"1970-01-01T00:00:01.000Z\"/>"));
}

TEST(ParseFeedTimeTest, TakesTheJavaClientsFormatOnly) {
  EXPECT_EQ(ParseFeedTime("2027-01-15T09:00:00.250+01:00"),
            std::optional<int64_t>(1'800'000'000'250));
  EXPECT_EQ(ParseFeedTime("2027-01-15T08:00:00.000-00:00"),
            std::optional<int64_t>(1'800'000'000'000));
  EXPECT_EQ(ParseFeedTime("2027-01-15T08:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseFeedTime("2027-01-15T08:00:00.000Z"), std::nullopt);
  EXPECT_EQ(ParseFeedTime("2027-01-15 08:00:00.000+00:00"), std::nullopt);
  EXPECT_EQ(ParseFeedTime("2027-13-15T08:00:00.000+00:00"), std::nullopt);
}

}  // namespace
}  // namespace utpost::sim
