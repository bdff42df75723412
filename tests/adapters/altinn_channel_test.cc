#include "adapters/altinn/altinn_channel.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adapters/altinn/altinn_token_source.h"
#include "adapters/http/fake_http_client.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/memory_feed_positions.h"

namespace utpost::adapters {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::testing::MemoryFeedPositions;
using ::utpost::testing::StatusIs;
using Kind = ProviderEvent::Kind;

constexpr char kMessageId[] = "5f0c8a9e-1b2c-4d3e-8f40-123456789abc";

absl::StatusOr<HttpResponse> Reply(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// The JSON of the "correspondence" part of a multipart body.
json CorrespondencePart(const HttpRequest& request) {
  std::string type = *FindHeader(request.headers, "Content-Type");
  std::string boundary = type.substr(type.find("boundary=") + 9);
  std::string marker = "name=\"correspondence\"";
  size_t at = request.body.find(marker);
  if (at == std::string::npos) return json();
  size_t start = request.body.find("\r\n\r\n", at) + 4;
  size_t end = request.body.find("\r\n--" + boundary, start);
  return json::parse(request.body.substr(start, end - start), nullptr, false);
}

class FixedTokens final : public TokenSource {
 public:
  absl::StatusOr<std::string> Token(const std::string& scope) override {
    absl::MutexLock lock(&mu_);
    last_scope = scope;
    return "altinn-" + std::to_string(generation);
  }
  void Invalidate(const std::string&, const std::string& token) override {
    absl::MutexLock lock(&mu_);
    if (token == "altinn-" + std::to_string(generation)) ++generation;
  }
  absl::Mutex mu_;
  int generation = 1;
  std::string last_scope;
};

OutgoingLetter Letter() {
  OutgoingLetter l;
  l.message_id = kMessageId;
  l.tenant = "964338531";
  l.organisation_number = "910000004";
  l.title = "Vedtak om byggesak";
  l.confidential = true;
  l.documents.push_back({"vedtak.pdf", "application/pdf", "%PDF-1.7 a", ""});
  l.documents.push_back({"vedlegg.pdf", "application/pdf", "%PDF-1.7 b", ""});
  return l;
}

struct Fixture {
  FixedTokens tokens;
  FakeClock clock{1'800'000'000'000};
  std::unique_ptr<Channel> channel;
  explicit Fixture(FakeHttpClient* http, FeedPositions* positions = nullptr) {
    AltinnOptions o;
    o.base_url = "https://altinn.test/";
    o.resource_id = "utpost-res";
    o.tokens = &tokens;
    o.clock = &clock;
    o.positions = positions;
    auto c = NewAltinnChannel(o, http);
    EXPECT_THAT(c, IsOk());
    channel = std::move(*c);
  }
};

TEST(AltinnChannelTest, UploadCarriesTheCorrespondenceAndAttachments) {
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(200, R"({"correspondences": [{"correspondenceId": "c-1",
                          "status": "Published"}], "attachmentIds": []})");
  });
  Fixture f(&http);
  EXPECT_EQ(f.channel->name(), "altinn");
  auto result = f.channel->Send(Letter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kAccepted);
  EXPECT_EQ(result->provider_reference, "c-1");
  EXPECT_TRUE(result->delivered);

  ASSERT_EQ(http.requests().size(), 1u);
  const HttpRequest r = http.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url,
            "https://altinn.test/correspondence/api/v1/correspondence/upload");
  EXPECT_EQ(FindHeader(r.headers, "Authorization"), "Bearer altinn-1");
  EXPECT_EQ(f.tokens.last_scope, kAltinnScope);
  EXPECT_TRUE(absl::StartsWith(*FindHeader(r.headers, "Content-Type"),
                               "multipart/form-data; boundary="));
  json c = CorrespondencePart(r);
  ASSERT_TRUE(c.is_object()) << r.body;
  EXPECT_EQ(c["resourceId"], "utpost-res");
  EXPECT_EQ(c["sender"], "urn:altinn:organization:identifier-no:964338531");
  EXPECT_EQ(c["recipients"],
            json::array({"urn:altinn:organization:identifier-no:910000004"}));
  EXPECT_EQ(c["idempotentKey"], kMessageId);
  EXPECT_EQ(c["sendersReference"], kMessageId);
  EXPECT_EQ(c["isConfidential"], true);
  EXPECT_EQ(c["content"]["language"], "nb");
  EXPECT_EQ(c["content"]["messageTitle"], "Vedtak om byggesak");
  EXPECT_FALSE(c["content"]["messageBody"].get<std::string>().empty());
  EXPECT_EQ(c["requestedPublishTime"], FormatRfc3339(f.clock.NowMillis()));
  EXPECT_FALSE(c["notification"]["emailBody"].get<std::string>().empty());
  EXPECT_FALSE(c["notification"]["smsBody"].get<std::string>().empty());
  EXPECT_THAT(r.body,
              HasSubstr("name=\"attachments\"; filename=\"vedtak.pdf\""));
  EXPECT_THAT(r.body,
              HasSubstr("name=\"attachments\"; filename=\"vedlegg.pdf\""));
  EXPECT_THAT(r.body, HasSubstr("%PDF-1.7 b"));
}

TEST(AltinnChannelTest, ARepeatedIdempotentKeyIsADuplicate) {
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(409, R"({"title": "Conflict", "correspondenceId": "c-1"})");
  });
  Fixture f(&http);
  auto result = f.channel->Send(Letter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kDuplicate);
  EXPECT_EQ(result->provider_reference, "c-1");
}

TEST(AltinnChannelTest, ClassifiesErrors) {
  int status = 400;
  FakeHttpClient http([&status](const HttpRequest&) {
    return Reply(status, R"({"title": "Recipient has no inbox",
                             "detail": "organisation 932000008"})");
  });
  Fixture f(&http);
  EXPECT_THAT(f.channel->Send(Letter()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("Recipient has no inbox")));
  for (int refusal : {413, 414, 415, 422, 431}) {
    status = refusal;
    EXPECT_THAT(f.channel->Send(Letter()),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(absl::StrCat("HTTP ", refusal))));
  }
  status = 408;
  EXPECT_THAT(f.channel->Send(Letter()),
              StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::_));
  status = 429;
  EXPECT_TRUE(IsTransient(f.channel->Send(Letter()).status()));
  status = 503;
  EXPECT_THAT(f.channel->Send(Letter()),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  status = 403;
  EXPECT_THAT(f.channel->Send(Letter()),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  status = 404;
  EXPECT_THAT(f.channel->Send(Letter()),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  OutgoingLetter to_person = Letter();
  to_person.organisation_number.clear();
  to_person.person_number = "01817010055";
  EXPECT_THAT(f.channel->Send(to_person),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

// Found by fuzz/altinn_fuzzer: a number where a string belongs threw out
// of the JSON library and ended the process.
TEST(AltinnChannelTest, FieldsOfTheWrongTypeAreNotFatal) {
  FakeHttpClient http([](const HttpRequest& request) {
    if (request.method == "GET") {
      return Reply(200, R"([{"id": 7, "type": ["x"], "resourceinstance": 1,
                             "time": false}])");
    }
    return Reply(422, R"({"title": "Recipient has no inbox", "detail": 422})");
  });
  Fixture f(&http);
  EXPECT_THAT(f.channel->Send(Letter()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("Recipient has no inbox")));
  auto events = f.channel->FetchEvents(10);
  ASSERT_THAT(events, IsOk());
  EXPECT_TRUE(events->empty());
}

TEST(AltinnChannelTest, RetriesOnceWithANewTokenAfterA401) {
  FakeHttpClient http([](const HttpRequest& r) {
    if (FindHeader(r.headers, "Authorization") != "Bearer altinn-2") {
      return Reply(401, "");
    }
    return Reply(200, R"({"correspondences": [{"correspondenceId": "c-9"}]})");
  });
  Fixture f(&http);
  auto result = f.channel->Send(Letter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(http.requests().size(), 2u);
}

TEST(AltinnChannelTest, MapsEventsToProviderEventsAndMovesTheCursor) {
  FakeHttpClient http([](const HttpRequest& r) {
    if (absl::StrContains(r.url, "/events/api/v1/events")) {
      if (absl::StrContains(r.url, "after=e4")) return Reply(200, "[]");
      if (absl::StrContains(r.url, "after=")) {
        return Reply(500, "unexpected cursor");
      }
      json events = json::array();
      auto add = [&](const char* id, const char* type, const char* corr) {
        events.push_back({{"specversion", "1.0"},
                          {"id", id},
                          {"type", type},
                          {"time", "2027-01-15T08:00:01Z"},
                          {"resourceinstance", corr}});
      };
      add("e1", "no.altinn.correspondence.correspondencepublished", "c-1");
      add("e2", "no.altinn.correspondence.correspondenceinitialized", "c-1");
      add("e3", "no.altinn.correspondence.correspondencereceiverread", "c-1");
      add("e4", "no.altinn.correspondence.correspondencepublishfailed", "c-2");
      return Reply(200, events.dump());
    }
    if (absl::EndsWith(r.url, "/correspondence/c-1")) {
      return Reply(200, json{{"correspondenceId", "c-1"},
                             {"idempotentKey", kMessageId},
                             {"status", "Read"}}
                            .dump());
    }
    if (absl::EndsWith(r.url, "/correspondence/c-2")) {
      return Reply(200, R"({"correspondenceId": "c-2",
                            "sendersReference": "other-id",
                            "status": "Failed",
                            "statusText": "recipient reserved"})");
    }
    return Reply(404, "");
  });
  Fixture f(&http);
  auto events = f.channel->FetchEvents(10);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].event_id, "e1");
  EXPECT_EQ((*events)[0].kind, Kind::kDelivered);
  EXPECT_EQ((*events)[0].message_id, kMessageId);
  // The event's time, not the clock's.
  EXPECT_EQ((*events)[0].time_ms, int64_t{1'800'000'001'000});
  EXPECT_EQ((*events)[1].event_id, "e3");
  EXPECT_EQ((*events)[1].kind, Kind::kRead);
  EXPECT_EQ((*events)[2].kind, Kind::kFailed);
  EXPECT_EQ((*events)[2].message_id, "other-id");
  EXPECT_EQ((*events)[2].reason, "recipient reserved");
  std::string url = http.requests()[0].url;
  EXPECT_THAT(url, HasSubstr("resource=urn:altinn:resource:utpost-res"));
  EXPECT_THAT(url, HasSubstr("size=10"));
  ASSERT_THAT(f.channel->ConfirmEvents({"e1", "e3", "e4"}), IsOk());
  auto more = f.channel->FetchEvents(10);
  ASSERT_THAT(more, IsOk());
  EXPECT_TRUE(more->empty());
}

TEST(AltinnChannelTest, TheCursorIsKeptForARestartAndSharedByWorkers) {
  FakeHttpClient http([](const HttpRequest& r) {
    if (absl::StrContains(r.url, "/events/api/v1/events")) {
      if (absl::StrContains(r.url, "after=")) return Reply(200, "[]");
      json events = json::array();
      for (const char* id : {"e1", "e2", "e3"}) {
        events.push_back(
            {{"id", id},
             {"type", "no.altinn.correspondence.correspondencepublished"},
             {"resourceinstance", "c-1"}});
      }
      return Reply(200, events.dump());
    }
    return Reply(200, json{{"idempotentKey", kMessageId}}.dump());
  });
  MemoryFeedPositions positions;
  {
    Fixture f(&http, &positions);
    ASSERT_THAT(f.channel->FetchEvents(10), IsOk());
    // e3 is not stored yet: the cursor stays before it.
    ASSERT_THAT(f.channel->ConfirmEvents({"e1", "e2"}), IsOk());
  }
  EXPECT_THAT(positions.Load("altinn:utpost-res"), IsOkAndHolds("e2"));
  // After a restart, the feed is read on from there.
  Fixture restarted(&http, &positions);
  ASSERT_THAT(restarted.channel->FetchEvents(10), IsOk());
  EXPECT_THAT(http.requests().back().url, HasSubstr("&after=e2"));
  // Another worker moved on meanwhile: this one follows.
  ASSERT_THAT(positions.Move("altinn:utpost-res", "e2", "e9"),
              IsOkAndHolds(true));
  ASSERT_THAT(restarted.channel->FetchEvents(10), IsOk());
  EXPECT_THAT(http.requests().back().url, HasSubstr("&after=e9"));
}

}  // namespace
}  // namespace utpost::adapters
