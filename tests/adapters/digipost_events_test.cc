// The Digipost channel's document event feed.
#include <memory>
#include <string>
#include <vector>

#include "adapters/digipost/digipost_channel.h"
#include "adapters/http/fake_http_client.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/memory_feed_positions.h"

namespace utpost::adapters {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::testing::MemoryFeedPositions;
using ::utpost::testing::StatusIs;
using Kind = ProviderEvent::Kind;

HttpResponse Reply(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// An event about the document `document`, as Digipost's feed names it.
std::string Event(const std::string& id, const std::string& type,
                  const std::string& document) {
  return "<event><uuid>" + id + "</uuid><type>" + type +
         "</type><created>2026-11-23T12:00:00.500Z</created>"
         "<document-uuid>" +
         document + "</document-uuid></event>";
}

std::string Feed(const std::vector<std::string>& events) {
  std::string xml =
      "<?xml version=\"1.0\"?><document-events "
      "xmlns=\"http://api.digipost.no/schema/v8\">";
  for (const auto& e : events) xml += e;
  return xml + "</document-events>";
}

class DigipostEventsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Channel> MakeChannel(FakeHttpClient* http,
                                       FeedPositions* positions = nullptr) {
    DigipostOptions options;
    options.positions = positions;
    options.base_url = "https://digipost.test";
    options.sender_id = "123456";
    options.signing_key_file = "certs-dev/sender.key";
    options.clock = &clock_;
    auto channel = NewDigipostChannel(options, http);
    EXPECT_THAT(channel, IsOk());
    return channel.ok() ? *std::move(channel) : nullptr;
  }
  FakeClock clock_{1'800'000'000'000};
};

TEST_F(DigipostEventsTest, FetchesSignedAndMapsEveryType) {
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(
        200,
        Feed({Event("e1", "OPENED", "m1"), Event("e2", "POSTMARKED", "m2"),
              Event("e3", "PRINT_FAILED", "m3"), Event("e4", "SHREDDED", "m4"),
              Event("e5", "SMS_NOTIFICATION_FAILED", "m5")}));
  });
  auto channel = MakeChannel(&http);
  auto events = channel->FetchEvents(50);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(5));
  EXPECT_EQ((*events)[0].event_id, "e1");
  // A primary document's uuid is its message's id.
  EXPECT_EQ((*events)[0].message_id, "m1");
  EXPECT_EQ((*events)[0].kind, Kind::kRead);
  EXPECT_EQ((*events)[0].time_ms, 1795435200500);
  EXPECT_THAT((*events)[0].evidence, HasSubstr("<uuid>e1</uuid>"));
  EXPECT_EQ((*events)[1].kind, Kind::kPosted);
  EXPECT_EQ((*events)[2].kind, Kind::kFailed);
  EXPECT_EQ((*events)[2].reason, "PRINT_FAILED");
  EXPECT_EQ((*events)[3].kind, Kind::kReturned);
  EXPECT_EQ((*events)[4].kind, Kind::kNotificationFailed);

  auto requests = http.requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_THAT(requests[0].url,
              HasSubstr("https://digipost.test/documents/events?from="));
  EXPECT_THAT(requests[0].url, HasSubstr("&offset=0&maxResults=50"));
  EXPECT_TRUE(FindHeader(requests[0].headers, "X-Digipost-Signature"));
  EXPECT_TRUE(FindHeader(requests[0].headers, "Date"));
  EXPECT_FALSE(FindHeader(requests[0].headers, "X-Content-SHA256"));
}

TEST_F(DigipostEventsTest, ConfirmMovesTheOffset) {
  FakeHttpClient http([](const HttpRequest&) { return Reply(200, Feed({})); });
  auto channel = MakeChannel(&http);
  ASSERT_THAT(channel->FetchEvents(10), IsOk());
  ASSERT_THAT(channel->ConfirmEvents({"a", "b", "c"}), IsOk());
  ASSERT_THAT(channel->FetchEvents(10), IsOk());
  auto requests = http.requests();
  ASSERT_THAT(requests, SizeIs(2));
  EXPECT_THAT(requests[0].url, HasSubstr("offset=0&"));
  EXPECT_THAT(requests[1].url, HasSubstr("offset=3&"));
}

TEST_F(DigipostEventsTest, ThePositionIsKeptForARestartAndSharedByWorkers) {
  FakeHttpClient http([](const HttpRequest&) { return Reply(200, Feed({})); });
  MemoryFeedPositions positions;
  auto first = MakeChannel(&http, &positions);
  ASSERT_THAT(first->FetchEvents(10), IsOk());
  ASSERT_THAT(first->ConfirmEvents({"a", "b"}), IsOk());
  const std::string start = "2027-01-14T08:00:00.000Z";  // Clock less 24 h.
  EXPECT_THAT(positions.Load("digipost:123456"),
              IsOkAndHolds("1799913600000:2"));
  // A restart a day later reads on from the same start and offset.
  clock_.Advance(int64_t{24} * 3600 * 1000);
  auto restarted = MakeChannel(&http, &positions);
  ASSERT_THAT(restarted->FetchEvents(10), IsOk());
  EXPECT_THAT(http.requests().back().url,
              AllOf(HasSubstr("from=" + start), HasSubstr("offset=2&")));
  // Two workers confirming the same page move it once.
  ASSERT_THAT(first->FetchEvents(10), IsOk());
  ASSERT_THAT(restarted->ConfirmEvents({"c"}), IsOk());
  ASSERT_THAT(first->ConfirmEvents({"c"}), IsOk());
  EXPECT_THAT(positions.Load("digipost:123456"),
              IsOkAndHolds("1799913600000:3"));
  ASSERT_THAT(first->FetchEvents(10), IsOk());
  EXPECT_THAT(http.requests().back().url, HasSubstr("offset=3&"));
}

TEST_F(DigipostEventsTest, ErrorsAreClassified) {
  int status = 503;
  FakeHttpClient http([&](const HttpRequest&) {
    return Reply(status, status >= 500
                             ? "<error><error-type>SERVER</error-type></error>"
                             : "<error><error-type>CLIENT_DATA</error-type>"
                               "<error-code>BAD_QUERY</error-code></error>");
  });
  auto channel = MakeChannel(&http);
  EXPECT_THAT(channel->FetchEvents(10),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  status = 400;
  EXPECT_THAT(
      channel->FetchEvents(10),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("400")));
}

}  // namespace
}  // namespace utpost::adapters
