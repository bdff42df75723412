#include "adapters/altinn/altinn_channel.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
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

struct Part {
  std::string name;
  std::string filename;  // Empty for a form field.
  std::string value;
};

// The parts of a multipart/form-data body, in order.
std::vector<Part> FormParts(const HttpRequest& request) {
  std::string type = *FindHeader(request.headers, "Content-Type");
  std::string delimiter = "--" + type.substr(type.find("boundary=") + 9);
  std::vector<Part> parts;
  size_t at = request.body.find(delimiter);
  while (at != std::string::npos) {
    size_t headers = at + delimiter.size();
    if (request.body.compare(headers, 2, "--") == 0) break;
    size_t blank = request.body.find("\r\n\r\n", headers);
    size_t next = request.body.find("\r\n" + delimiter, blank);
    if (blank == std::string::npos || next == std::string::npos) break;
    std::string head = request.body.substr(headers, blank - headers);
    Part p;
    auto param = [&head](const std::string& key) -> std::string {
      size_t k = head.find("; " + key + "=\"");
      if (k == std::string::npos) return "";
      size_t start = k + key.size() + 4;
      return head.substr(start, head.find('"', start) - start);
    };
    p.name = param("name");
    p.filename = param("filename");
    p.value = request.body.substr(blank + 4, next - blank - 4);
    parts.push_back(std::move(p));
    at = next + 2;
  }
  return parts;
}

std::map<std::string, std::string> FormFields(const HttpRequest& request) {
  std::map<std::string, std::string> out;
  for (const Part& p : FormParts(request)) {
    if (p.filename.empty()) out[p.name] = p.value;
  }
  return out;
}

class FixedTokens final : public TokenSource {
 public:
  absl::StatusOr<std::string> Token(const std::string& scope) override {
    absl::MutexLock lock(&mu_);
    last_scope = scope;
    scopes.push_back(scope);
    return "altinn-" + std::to_string(generation);
  }
  void Invalidate(const std::string&, const std::string& token) override {
    absl::MutexLock lock(&mu_);
    if (token == "altinn-" + std::to_string(generation)) ++generation;
  }
  absl::Mutex mu_;
  int generation = 1;
  std::string last_scope;
  std::vector<std::string> scopes;
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
  std::map<std::string, std::string> f_ = FormFields(r);
  EXPECT_EQ(f_.count("correspondence"), 0u) << "no JSON part";
  EXPECT_EQ(f_["correspondence.resourceId"], "utpost-res");
  EXPECT_EQ(f_["correspondence.sender"],
            "urn:altinn:organization:identifier-no:964338531");
  EXPECT_EQ(f_["correspondence.sendersReference"], kMessageId);
  EXPECT_EQ(f_["recipients[0]"],
            "urn:altinn:organization:identifier-no:910000004");
  EXPECT_EQ(f_["idempotentKey"], kMessageId);
  EXPECT_EQ(f_["correspondence.isConfidential"], "true");
  EXPECT_EQ(f_["correspondence.content.language"], "nb");
  EXPECT_EQ(f_["correspondence.content.messageTitle"], "Vedtak om byggesak");
  EXPECT_EQ(f_["correspondence.content.messageSummary"], "Vedtak om byggesak");
  EXPECT_FALSE(f_["correspondence.content.messageBody"].empty());
  EXPECT_EQ(f_["correspondence.content.attachments[0].fileName"], "vedtak.pdf");
  EXPECT_EQ(f_["correspondence.content.attachments[1].fileName"],
            "vedlegg.pdf");
  EXPECT_EQ(f_["correspondence.content.attachments[1].sendersReference"],
            absl::StrCat(kMessageId, ":2"));
  EXPECT_EQ(f_["correspondence.content.attachments[0].dataLocationType"],
            "NewCorrespondenceAttachment");
  EXPECT_EQ(f_["correspondence.notification.notificationTemplate"],
            "CustomMessage");
  EXPECT_FALSE(f_["correspondence.notification.emailBody"].empty());
  EXPECT_FALSE(f_["correspondence.notification.smsBody"].empty());
  std::vector<std::string> files;
  for (const Part& p : FormParts(r)) {
    if (!p.filename.empty()) {
      EXPECT_EQ(p.name, "attachments");
      files.push_back(p.filename + "=" + p.value);
    }
  }
  EXPECT_THAT(files,
              ElementsAre("vedtak.pdf=%PDF-1.7 a", "vedlegg.pdf=%PDF-1.7 b"));
  EXPECT_EQ(result->provider, kAltinnProvider);
}

TEST(AltinnChannelTest, TextsAreCutToTheBindingsMaximumLengths) {
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(200, R"({"correspondences": [{"correspondenceId": "c-1"}]})");
  });
  Fixture f(&http);
  OutgoingLetter l = Letter();
  // 200 two-byte characters: 400 bytes, 200 characters.
  std::string title;
  for (int i = 0; i < 200; ++i) title += "\xc3\xa6";
  l.title = title;
  l.documents[0].file_name = std::string(300, 'a') + ".pdf";
  ASSERT_THAT(f.channel->Send(l), IsOk());
  auto fields = FormFields(http.requests()[0]);
  const std::string sent = fields["correspondence.content.messageTitle"];
  EXPECT_LE(sent.size(), 255u);
  EXPECT_EQ(sent.size() % 2, 0u) << "cut inside a character";
  EXPECT_EQ(fields["correspondence.content.attachments[0].fileName"].size(),
            255u);
}

TEST(AltinnChannelTest, ARepeatedIdempotentKeyIsADuplicate) {
  // CorrespondenceErrors.DuplicateInitCorrespondenceRequest: no id in it.
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(409, R"({"title": "Conflict", "status": 409,
        "detail": "A correspondence with the same idempotent key already exists",
        "errorCode": 1034})");
  });
  Fixture f(&http);
  auto result = f.channel->Send(Letter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kDuplicate);
  EXPECT_EQ(result->provider, kAltinnProvider);
  EXPECT_THAT(result->provider_reference, HasSubstr("error 1034"));
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

TEST(AltinnChannelTest, ARecipientAltinnCannotReachIsARefusal) {
  std::string body;
  int status = 404;
  FakeHttpClient http([&](const HttpRequest&) { return Reply(status, body); });
  Fixture f(&http);
  body = R"({"title": "Not Found", "status": 404, "errorCode": 1029,
      "detail": "Could not find partyId for the following recipients: x"})";
  EXPECT_THAT(f.channel->Send(Letter()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no digital inbox")));
  status = 422;
  body = R"({"title": "Unprocessable Entity", "errorCode": "1030"})";
  EXPECT_THAT(f.channel->Send(Letter()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no digital inbox")));
  // The binding's refusal names the first field.
  status = 400;
  body = R"({"title": "One or more validation errors occurred.",
      "status": 400, "errors": {"recipients": ["The Recipients field is
      required."], "correspondence.resourceId": ["x"]}})";
  body.erase(std::remove(body.begin(), body.end(), '\n'), body.end());
  EXPECT_THAT(f.channel->Send(Letter()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("correspondence.resourceId: x")));
  // An unknown resource is the gateway's set-up, not the letter.
  status = 400;
  body = R"({"title": "Bad Request", "errorCode": 1036})";
  EXPECT_THAT(
      f.channel->Send(Letter()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("error 1036")));
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
      if (!absl::StrContains(r.url, "after=0&")) {
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
  EXPECT_THAT(url, HasSubstr("&after=0&"));
  EXPECT_THAT(url, HasSubstr("size=10"));
  EXPECT_EQ((*events)[0].provider, kAltinnProvider);
  EXPECT_EQ(f.tokens.last_scope, kAltinnScope);  // The details' read.
  EXPECT_THAT(f.tokens.scopes, ::testing::Contains(kAltinnEventsScope));
  ASSERT_THAT(f.channel->ConfirmEvents({"e1", "e3", "e4"}), IsOk());
  auto more = f.channel->FetchEvents(10);
  ASSERT_THAT(more, IsOk());
  EXPECT_TRUE(more->empty());
}

TEST(AltinnChannelTest, TheCursorIsKeptForARestartAndSharedByWorkers) {
  FakeHttpClient http([](const HttpRequest& r) {
    if (absl::StrContains(r.url, "/events/api/v1/events")) {
      if (!absl::StrContains(r.url, "after=0&")) return Reply(200, "[]");
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

// The feed as Altinn Events serves the events AltinnEventBus publishes
// (tests/published/altinn/events-feed.json names the sources).
TEST(AltinnChannelTest, ReadsAFeedInThePublishedShape) {
  std::ifstream in("tests/published/altinn/events-feed.json");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  json fixture = json::parse(text.str());
  const std::string feed = fixture["events"].dump();
  const std::string corr = fixture["correspondence"]["correspondenceId"];
  const std::string key = fixture["correspondence"]["idempotentKey"];
  FakeHttpClient http([&](const HttpRequest& r) {
    if (absl::StrContains(r.url, "/events/api/v1/events")) {
      return absl::StrContains(r.url, "after=0&") ? Reply(200, feed)
                                                  : Reply(200, "[]");
    }
    if (absl::EndsWith(r.url, "/correspondence/" + corr)) {
      return Reply(200, fixture["correspondence"].dump());
    }
    return Reply(404, "");
  });
  Fixture f(&http);
  auto events = f.channel->FetchEvents(50);
  ASSERT_THAT(events, IsOk());
  std::vector<std::string> kinds;
  for (const ProviderEvent& e : *events) {
    EXPECT_EQ(e.message_id, key);
    EXPECT_EQ(e.provider, kAltinnProvider);
    EXPECT_GT(e.time_ms, int64_t{1'700'000'000'000});
    kinds.push_back(e.event_id + ":" +
                    std::to_string(static_cast<int>(e.kind)));
  }
  // initialized (skipped), published, notificationcreated (skipped),
  // receiverread, receiverconfirmed.
  EXPECT_THAT(kinds, ElementsAre(fixture["expected"][0].get<std::string>(),
                                 fixture["expected"][1].get<std::string>(),
                                 fixture["expected"][2].get<std::string>()));
}

}  // namespace
}  // namespace utpost::adapters
