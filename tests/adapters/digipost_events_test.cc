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
#include "tests/adapters/fake_digipost.h"
#include "tests/testing/memory_feed_positions.h"

namespace utpost::adapters {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::utpost::adapters::testing::FakeDigipost;
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

// An event about the document `document`, as Digipost's feed names it
// (api_v8.xsd type `event`: attributes only).
std::string Event(const std::string& document, const std::string& type,
                  const std::string& created = "2026-11-23T12:00:00.500Z") {
  return "<event uuid=\"" + document + "\" type=\"" + type + "\" created=\"" +
         created + "\" document-created=\"2026-11-23T11:00:00.000+01:00\"/>";
}

std::string Uuid(int n) {
  return "7c9e6679-7425-40de-944b-e07fc1f90a" + std::to_string(10 + n);
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
  std::unique_ptr<Channel> MakeChannel(FakeDigipost* digipost,
                                       FeedPositions* positions = nullptr) {
    HttpClient* http = digipost->http();
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
  FakeDigipost http(&clock_, [](const HttpRequest&) {
    return Reply(
        200, Feed({Event(Uuid(1), "OPENED"), Event(Uuid(2), "POSTMARKED"),
                   Event(Uuid(3), "PRINT_FAILED"), Event(Uuid(4), "SHREDDED"),
                   Event(Uuid(5), "SMS_NOTIFICATION_FAILED"),
                   Event(Uuid(6), "PEPPOL_DELIVERED")}));
  });
  auto channel = MakeChannel(&http);
  auto events = channel->FetchEvents(50);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(6));
  // The feed gives no event id: the document, type and time make one.
  EXPECT_EQ((*events)[0].event_id,
            Uuid(1) + "/OPENED/2026-11-23T12:00:00.500Z");
  // A primary document's uuid is its message's id.
  EXPECT_EQ((*events)[0].message_id, Uuid(1));
  EXPECT_EQ((*events)[0].kind, Kind::kRead);
  EXPECT_EQ((*events)[0].provider, "984661185");
  EXPECT_EQ((*events)[0].time_ms, 1795435200500);
  EXPECT_THAT((*events)[0].evidence,
              AllOf(HasSubstr("<event"), HasSubstr("uuid=\"" + Uuid(1)),
                    HasSubstr("type=\"OPENED\"")));
  EXPECT_EQ((*events)[1].kind, Kind::kPosted);
  EXPECT_EQ((*events)[2].kind, Kind::kFailed);
  EXPECT_EQ((*events)[2].reason, "PRINT_FAILED");
  EXPECT_EQ((*events)[3].kind, Kind::kReturned);
  EXPECT_EQ((*events)[4].kind, Kind::kNotificationFailed);
  // A type Utpost does not act on is kept as evidence, moving nothing.
  EXPECT_EQ((*events)[5].kind, Kind::kNotificationFailed);
  EXPECT_THAT((*events)[5].reason, HasSubstr("PEPPOL_DELIVERED"));

  auto requests = http.requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_EQ(requests[0].method, "GET");
  // The times as the Java client writes them, yyyy-MM-dd'T'HH:mm:ss.SSSxxx,
  // encoded as its URI builder encodes them.
  EXPECT_THAT(requests[0].url,
              HasSubstr("https://digipost.test/documents/events?from="
                        "2027-01-14T08%3A00%3A00.000%2B00%3A00&to="
                        "2027-01-15T08%3A01%3A00.000%2B00%3A00&"));
  EXPECT_THAT(requests[0].url, HasSubstr("&offset=0&maxResults=50"));
  EXPECT_THAT(
      FindHeader(requests[0].headers, "Accept"),
      ::testing::Optional(std::string("application/vnd.digipost-v8+xml")));
  EXPECT_TRUE(FindHeader(requests[0].headers, "X-Digipost-Signature"));
  EXPECT_TRUE(FindHeader(requests[0].headers, "Date"));
  EXPECT_FALSE(FindHeader(requests[0].headers, "X-Content-SHA256"));
}

TEST_F(DigipostEventsTest, SkipsEventsWithoutTheRequiredAttributes) {
  FakeDigipost http(&clock_, [](const HttpRequest&) {
    return Reply(
        200,
        Feed({"<event type=\"OPENED\" created=\"2026-11-23T12:00:00Z\" "
              "document-created=\"2026-11-23T12:00:00Z\"/>",
              Event("not-a-uuid", "OPENED"),
              Event(Uuid(1), "OPENED", "yesterday"),
              // The child-element shape of old: not Digipost's.
              "<event><uuid>" + Uuid(2) + "</uuid><type>OPENED</type></event>",
              Event(Uuid(3), "OPENED")}));
  });
  auto channel = MakeChannel(&http);
  auto events = channel->FetchEvents(50);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_EQ((*events)[0].message_id, Uuid(3));
}

TEST_F(DigipostEventsTest, ARepeatedEventHasTheSameId) {
  FakeDigipost http(&clock_, [](const HttpRequest&) {
    return Reply(200, Feed({Event(Uuid(1), "OPENED"), Event(Uuid(1), "OPENED"),
                            Event(Uuid(1), "OPENED", "2026-11-24T12:00:00Z")}));
  });
  auto channel = MakeChannel(&http);
  auto events = channel->FetchEvents(50);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(3));
  EXPECT_EQ((*events)[0].event_id, (*events)[1].event_id);
  EXPECT_NE((*events)[0].event_id, (*events)[2].event_id);
}

TEST_F(DigipostEventsTest, AnUnsignedPageIsASetUpError) {
  FakeDigipost http(&clock_, [](const HttpRequest&) {
    return Reply(200, Feed({Event(Uuid(1), "OPENED")}));
  });
  auto channel = MakeChannel(&http);
  ASSERT_THAT(channel->FetchEvents(10), IsOk());
  http.set_signing_key("certs-dev/sender.key");
  EXPECT_THAT(channel->FetchEvents(10),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not verified")));
}

TEST_F(DigipostEventsTest, APageThatIsNotAFeedIsASetUpError) {
  FakeDigipost http(&clock_, [](const HttpRequest&) {
    return Reply(200, "<events><event/></events>");
  });
  auto channel = MakeChannel(&http);
  EXPECT_THAT(channel->FetchEvents(10),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("document-events")));
}

TEST_F(DigipostEventsTest, ConfirmMovesTheOffset) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, Feed({})); });
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
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, Feed({})); });
  MemoryFeedPositions positions;
  auto first = MakeChannel(&http, &positions);
  ASSERT_THAT(first->FetchEvents(10), IsOk());
  ASSERT_THAT(first->ConfirmEvents({"a", "b"}), IsOk());
  // Clock less 24 h.
  const std::string start = "2027-01-14T08%3A00%3A00.000%2B00%3A00";
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
  FakeDigipost http(&clock_, [&](const HttpRequest&) {
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
