#include "adapters/digipost/digipost_channel.h"

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "adapters/http/fake_http_client.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/adapters/fake_digipost.h"

namespace utpost::adapters {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;
using ::testing::StartsWith;
using ::utpost::adapters::testing::FakeDigipost;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

constexpr char kPerson[] = "01817010055";
constexpr char kPdf[] = "%PDF-1.7\nbody\n%%EOF\n";

HttpResponse Reply(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

std::string ErrorXml(const std::string& type, const std::string& code,
                     const std::string& message) {
  return "<?xml version=\"1.0\"?><error "
         "xmlns=\"http://api.digipost.no/schema/v8\"><error-code>" +
         code + "</error-code><error-message>" + message +
         "</error-message><error-type>" + type + "</error-type></error>";
}

const char kDelivered[] =
    "<?xml version=\"1.0\"?>\n<message-delivery "
    "xmlns=\"http://api.digipost.no/schema/v8\">\n"
    "  <message-id>m-1</message-id>\n  <status>DELIVERED</status>\n"
    "  <delivery-time>2026-11-23T12:00:00Z</delivery-time>\n"
    "</message-delivery>\n";

OutgoingLetter Letter() {
  OutgoingLetter letter;
  letter.message_id = "m-1";
  letter.tenant = "964338531";
  letter.person_number = kPerson;
  letter.title = "Vedtak <om> skatt & avgift";
  letter.documents = {{"vedtak.pdf", "application/pdf", kPdf, ""},
                      {"vedlegg.pdf", "application/pdf", "%PDF-1.4 v", ""}};
  return letter;
}

class DigipostChannelTest : public ::testing::Test {
 protected:
  std::unique_ptr<Channel> MakeChannel(FakeDigipost* digipost) {
    return MakeChannel(digipost->http());
  }
  std::unique_ptr<Channel> MakeChannel(HttpClient* http) {
    DigipostOptions options;
    options.base_url = "https://digipost.test/";
    options.sender_id = "123456";
    options.signing_key_file = "certs-dev/sender.key";
    options.clock = &clock_;
    auto channel = NewDigipostChannel(options, http);
    EXPECT_THAT(channel, IsOk());
    return channel.ok() ? *std::move(channel) : nullptr;
  }

  FakeClock clock_{1'800'000'000'000};
};

TEST_F(DigipostChannelTest, SendsOneSignedMultipartRequest) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, kDelivered); });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  EXPECT_EQ(channel->name(), "digital");
  ASSERT_THAT(channel->Send(Letter()), IsOk());

  ASSERT_EQ(http.requests().size(), 1u);
  std::vector<HttpRequest> requests = http.requests();
  const HttpRequest& request = requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://digipost.test/messages");
  std::optional<std::string> type = FindHeader(request.headers, "Content-Type");
  ASSERT_TRUE(type.has_value());
  EXPECT_THAT(*type, StartsWith("multipart/vnd.digipost-v8+xml; boundary="));
  std::string boundary = type->substr(type->find('=') + 1);
  EXPECT_THAT(FindHeader(request.headers, "X-Digipost-UserId"),
              Optional(std::string("123456")));
  EXPECT_TRUE(FindHeader(request.headers, "X-Digipost-Signature").has_value());
  EXPECT_TRUE(FindHeader(request.headers, "X-Content-SHA256").has_value());
  EXPECT_TRUE(FindHeader(request.headers, "Date").has_value());

  const std::string& body = request.body;
  std::string primary = DigipostDocumentUuid("m-1", 0);
  std::string attachment = DigipostDocumentUuid("m-1", 1);
  EXPECT_THAT(body, StartsWith("--" + boundary + "\r\n"));
  EXPECT_THAT(body, HasSubstr("--" + boundary + "--\r\n"));
  EXPECT_THAT(
      body,
      AllOf(
          HasSubstr("Content-Type: application/vnd.digipost-v8+xml\r\n"),
          HasSubstr("<message xmlns=\"http://api.digipost.no/schema/v8\">"),
          HasSubstr("<message-id>m-1</message-id>"),
          HasSubstr("<sender-id>123456</sender-id>"),
          HasSubstr("<personal-identification-number>01817010055"
                    "</personal-identification-number>"),
          HasSubstr("<primary-document>\n    <uuid>" + primary + "</uuid>"),
          HasSubstr("<subject>Vedtak &lt;om&gt; skatt &amp; avgift</subject>"),
          HasSubstr("<file-type>pdf</file-type>"),
          HasSubstr("<authentication-level>PASSWORD</authentication-level>"),
          HasSubstr("<sensitivity-level>NORMAL</sensitivity-level>"),
          HasSubstr("<attachment>\n    <uuid>" + attachment + "</uuid>"),
          HasSubstr("<subject>vedlegg.pdf</subject>")));
  EXPECT_THAT(body, HasSubstr("Content-Disposition: attachment; filename=\"" +
                              primary + "\"\r\n\r\n" + kPdf + "\r\n--"));
  EXPECT_THAT(body, HasSubstr("filename=\"" + attachment +
                              "\"\r\n\r\n%PDF-1.4 v\r\n--"));
  // The message part comes before the documents.
  EXPECT_LT(body.find("<message "), body.find("filename=\"" + primary));
}

TEST_F(DigipostChannelTest, RetrySendsTheSameBody) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, kDelivered); });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  ASSERT_THAT(channel->Send(Letter()), IsOk());
  ASSERT_THAT(channel->Send(Letter()), IsOk());
  ASSERT_EQ(http.requests().size(), 2u);
  EXPECT_EQ(http.requests()[0].body, http.requests()[1].body);
}

TEST_F(DigipostChannelTest, OrganisationRecipient) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, kDelivered); });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  OutgoingLetter letter = Letter();
  letter.person_number.clear();
  letter.organisation_number = "958935420";
  ASSERT_THAT(channel->Send(letter), IsOk());
  EXPECT_THAT(http.requests()[0].body,
              AllOf(HasSubstr("<organisation-number>958935420"
                              "</organisation-number>"),
                    Not(HasSubstr("personal-identification-number"))));
}

TEST(DigipostDocumentUuidTest, PrimaryDocumentOfALetterIsTheLetterId) {
  // So that the document event feed names the letter.
  const std::string letter = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
  EXPECT_EQ(DigipostDocumentUuid(letter, 0), letter);
  EXPECT_NE(DigipostDocumentUuid(letter, 1), letter);
  EXPECT_NE(DigipostDocumentUuid("7C9E6679-7425-40DE-944B-E07FC1F90AE7", 0),
            "7C9E6679-7425-40DE-944B-E07FC1F90AE7");
}

TEST(DigipostDocumentUuidTest, StablePerMessageAndIndex) {
  std::string uuid = DigipostDocumentUuid("m-1", 0);
  EXPECT_EQ(uuid, DigipostDocumentUuid("m-1", 0));
  EXPECT_NE(uuid, DigipostDocumentUuid("m-1", 1));
  EXPECT_NE(uuid, DigipostDocumentUuid("m-2", 0));
  EXPECT_TRUE(std::regex_match(
      uuid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                       "[0-9a-f]{12}")))
      << uuid;
}

TEST_F(DigipostChannelTest, DeliveredReplyIsAcceptedAndDelivered) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, kDelivered); });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> result = channel->Send(Letter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kAccepted);
  EXPECT_TRUE(result->delivered);
  EXPECT_EQ(result->provider_reference, "DELIVERED 2026-11-23T12:00:00Z");
}

TEST_F(DigipostChannelTest, NotYetDeliveredIsAcceptedOnly) {
  FakeDigipost http(&clock_, [](const HttpRequest&) {
    return Reply(201,
                 "<message-delivery><status>COMPLETE</status>"
                 "</message-delivery>");
  });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> result = channel->Send(Letter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kAccepted);
  EXPECT_FALSE(result->delivered);
}

TEST_F(DigipostChannelTest, DuplicateMessageIsSuccess) {
  FakeDigipost http(&clock_, [](const HttpRequest&) {
    return Reply(409, ErrorXml("CLIENT_DATA", "DUPLICATE_MESSAGE", "seen"));
  });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> result = channel->Send(Letter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kDuplicate);
}

struct ErrorCase {
  int status;
  std::string type;
  std::string code;
  absl::StatusCode expected;
};

class DigipostErrorTest : public DigipostChannelTest,
                          public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(DigipostErrorTest, ClassifiesProviderErrors) {
  const ErrorCase& c = GetParam();
  FakeDigipost http(&clock_, [&c](const HttpRequest&) {
    return Reply(c.status, ErrorXml(c.type, c.code, "recipient 01817010055"));
  });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> result = channel->Send(Letter());
  EXPECT_THAT(result, StatusIs(c.expected, AllOf(HasSubstr(c.code),
                                                 HasSubstr("018170*****"),
                                                 Not(HasSubstr(kPerson)))));
}

INSTANTIATE_TEST_SUITE_P(
    Codes, DigipostErrorTest,
    ::testing::Values(
        ErrorCase{503, "SERVER", "UNAVAILABLE", absl::StatusCode::kUnavailable},
        ErrorCase{500, "", "", absl::StatusCode::kUnavailable},
        ErrorCase{400, "SERVER", "BUSY", absl::StatusCode::kUnavailable},
        ErrorCase{429, "CLIENT_TECHNICAL", "TOO_MANY",
                  absl::StatusCode::kResourceExhausted},
        ErrorCase{408, "", "REQUEST_TIMEOUT",
                  absl::StatusCode::kDeadlineExceeded},
        ErrorCase{403, "CLIENT_TECHNICAL", "INVALID_SIGNATURE",
                  absl::StatusCode::kPermissionDenied},
        ErrorCase{401, "CLIENT_DATA", "UNAUTHORIZED",
                  absl::StatusCode::kPermissionDenied},
        // A wrong base URL: not the letter's fault.
        ErrorCase{404, "CLIENT_TECHNICAL", "NOT_FOUND",
                  absl::StatusCode::kFailedPrecondition},
        ErrorCase{404, "CLIENT_DATA", "NOT_FOUND",
                  absl::StatusCode::kFailedPrecondition},
        ErrorCase{400, "CLIENT_DATA", "UNKNOWN_RECIPIENT",
                  absl::StatusCode::kInvalidArgument},
        ErrorCase{400, "CONFIGURATION", "BAD_SETUP",
                  absl::StatusCode::kFailedPrecondition},
        ErrorCase{400, "CLIENT_TECHNICAL", "INVALID_MULTIPART",
                  absl::StatusCode::kFailedPrecondition},
        // A refusal of the request's content that does not blame the
        // set-up: this letter's own, final (never retried into PARKED).
        ErrorCase{400, "", "NO_TYPE", absl::StatusCode::kInvalidArgument},
        ErrorCase{413, "", "TOO_LARGE", absl::StatusCode::kInvalidArgument},
        ErrorCase{414, "", "URI_TOO_LONG", absl::StatusCode::kInvalidArgument},
        ErrorCase{422, "", "UNPROCESSABLE", absl::StatusCode::kInvalidArgument},
        ErrorCase{431, "", "HEADERS_TOO_LARGE",
                  absl::StatusCode::kInvalidArgument},
        ErrorCase{413, "CONFIGURATION", "LIMIT",
                  absl::StatusCode::kFailedPrecondition},
        ErrorCase{405, "", "METHOD", absl::StatusCode::kFailedPrecondition},
        ErrorCase{409, "CLIENT_DATA", "OTHER_CONFLICT",
                  absl::StatusCode::kInvalidArgument}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      return "Http" + std::to_string(info.param.status) + "_" +
             info.param.type + "_" + info.param.code;
    });

TEST_F(DigipostChannelTest, MasksNumbersBeforeCuttingTheMessage) {
  // The quote ends 300 characters in: after the number's eighth digit.
  std::string text = std::string(292, 'x') + kPerson + " has no mailbox";
  FakeDigipost http(&clock_, [&text](const HttpRequest&) {
    return Reply(400, ErrorXml("CLIENT_DATA", "UNKNOWN_RECIPIENT", text));
  });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("018170**"), Not(HasSubstr("0181701")),
                             Not(HasSubstr("has no mailbox")))));
}

TEST_F(DigipostChannelTest, MalformedUrlIsNotALetterRefusal) {
  FakeDigipost http(
      &clock_, [](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
        return absl::InvalidArgumentError("URL using bad/illegal format");
      });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> result = channel->Send(Letter());
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kFailedPrecondition,
                               HasSubstr("bad/illegal")));
  EXPECT_FALSE(IsLetterRefusal(result.status()));
}

TEST_F(DigipostChannelTest, TransportErrorsPassThrough) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
                      return absl::DeadlineExceededError("timed out");
                    });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> result = channel->Send(Letter());
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kDeadlineExceeded,
                               HasSubstr("timed out")));
  EXPECT_TRUE(IsTransient(result.status()));
}

TEST_F(DigipostChannelTest, RefusesIncompleteLettersWithoutSending) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, kDelivered); });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  OutgoingLetter no_recipient = Letter();
  no_recipient.person_number.clear();
  EXPECT_THAT(
      channel->Send(no_recipient),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("one of")));
  OutgoingLetter both = Letter();
  both.organisation_number = "958935420";
  EXPECT_THAT(channel->Send(both), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("one of")));
  OutgoingLetter no_documents = Letter();
  no_documents.documents.clear();
  EXPECT_THAT(
      channel->Send(no_documents),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("documents")));
  EXPECT_TRUE(http.requests().empty());
}

TEST_F(DigipostChannelTest, NamesDigipostAsTheProvider) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, kDelivered); });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> sent = channel->Send(Letter());
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->provider, "984661185");
  FakeDigipost duplicate(&clock_, [](const HttpRequest&) {
    return Reply(409, ErrorXml("CLIENT_DATA", "DUPLICATE_MESSAGE", "seen"));
  });
  auto again = MakeChannel(&duplicate);
  ASSERT_NE(again, nullptr);
  absl::StatusOr<SendResult> repeated = again->Send(Letter());
  ASSERT_THAT(repeated, IsOk());
  EXPECT_EQ(repeated->provider, "984661185");
}

TEST_F(DigipostChannelTest, ReadsTheEntryPointOnceAndFollowsItsLinks) {
  FakeDigipost http(
      &clock_, [](const HttpRequest&) { return Reply(200, kDelivered); },
      "https://api.digipost.test");
  DigipostOptions options;
  options.base_url = "https://api.digipost.test";
  options.sender_id = "123456";
  options.signing_key_file = "certs-dev/sender.key";
  options.clock = &clock_;
  auto channel = NewDigipostChannel(options, http.http());
  ASSERT_THAT(channel, IsOk());
  ASSERT_THAT((*channel)->Send(Letter()), IsOk());
  ASSERT_THAT((*channel)->Send(Letter()), IsOk());
  EXPECT_EQ(http.entry_point_reads(), 1);
  std::vector<HttpRequest> all = http.all_requests();
  ASSERT_EQ(all.size(), 3u);
  // The entry point is asked for as the Java client asks: signed, v8.
  EXPECT_EQ(all[0].method, "GET");
  EXPECT_EQ(all[0].url, "https://api.digipost.test/");
  EXPECT_THAT(FindHeader(all[0].headers, "Accept"),
              Optional(std::string("application/vnd.digipost-v8+xml")));
  EXPECT_TRUE(FindHeader(all[0].headers, "X-Digipost-Signature").has_value());
  EXPECT_EQ(all[1].url, "https://api.digipost.test/messages");
}

TEST_F(DigipostChannelTest, UsesWhateverUriTheEntryPointNames) {
  // Nothing but the base URL is fixed: a send goes where the link says.
  std::string entry =
      testing::EntryPointXml("https://elsewhere.test",
                             testing::ReadFileOrEmpty(testing::kDigipostCert));
  FakeHttpClient http([&](const HttpRequest& r) {
    HttpResponse response = r.url == "https://digipost.test/"
                                ? Reply(200, entry)
                                : Reply(200, kDelivered);
    std::string path = r.url.substr(r.url.find('/', 8));
    testing::SignResponse(&response, path, clock_.NowMillis(),
                          testing::kDigipostKey);
    return response;
  });
  auto channel = MakeChannel(static_cast<HttpClient*>(&http));
  ASSERT_NE(channel, nullptr);
  ASSERT_THAT(channel->Send(Letter()), IsOk());
  ASSERT_EQ(http.requests().size(), 2u);
  EXPECT_EQ(http.requests()[1].url, "https://elsewhere.test/messages");
}

TEST_F(DigipostChannelTest, UnsignedOrBadlySignedResponsesAreASetUpError) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, kDelivered); });
  auto channel = MakeChannel(&http);
  ASSERT_NE(channel, nullptr);
  ASSERT_THAT(channel->Send(Letter()), IsOk());
  // Signed with a key that is not the entry point's certificate's.
  http.set_signing_key("certs-dev/sender.key");
  absl::StatusOr<SendResult> forged = channel->Send(Letter());
  EXPECT_THAT(forged, StatusIs(absl::StatusCode::kFailedPrecondition,
                               HasSubstr("does not verify")));
  EXPECT_FALSE(IsLetterRefusal(forged.status()));
  EXPECT_FALSE(IsTransient(forged.status()));
  http.set_signing(false);
  EXPECT_THAT(
      channel->Send(Letter()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("digipost")));
  // A failure that a new entry point could explain reads it again.
  http.set_signing(true);
  http.set_signing_key(testing::kDigipostKey);
  EXPECT_THAT(channel->Send(Letter()), IsOk());
  EXPECT_GE(http.entry_point_reads(), 2);
}

TEST_F(DigipostChannelTest, ATamperedBodyOrStaleDateDoesNotVerify) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, kDelivered); });
  FakeHttpClient tampering([&](const HttpRequest& r) {
    absl::StatusOr<HttpResponse> response = http.http()->Do(r);
    if (response.ok() && r.method == "POST") {
      response->body =
          absl::StrReplaceAll(response->body, {{"DELIVERED", "COMPLETE"}});
    }
    return response;
  });
  auto channel = MakeChannel(static_cast<HttpClient*>(&tampering));
  ASSERT_NE(channel, nullptr);
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("X-Content-SHA256")));

  FakeClock server_clock{clock_.NowMillis() - 6 * 60 * 1000};
  FakeDigipost late(&server_clock,
                    [](const HttpRequest&) { return Reply(200, kDelivered); });
  auto other = MakeChannel(&late);
  ASSERT_NE(other, nullptr);
  EXPECT_THAT(
      other->Send(Letter()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("Date")));
}

TEST_F(DigipostChannelTest, AnUnreachableEntryPointIsTransient) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return absl::UnavailableError("connection refused");
  });
  auto channel = MakeChannel(static_cast<HttpClient*>(&http));
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> result = channel->Send(Letter());
  EXPECT_THAT(result,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("refused")));
  EXPECT_EQ(http.requests().size(), 1u);  // The entry point only.
}

TEST_F(DigipostChannelTest, TheEntryPointsCertificateMustComeFromTheCa) {
  FakeDigipost http(&clock_,
                    [](const HttpRequest&) { return Reply(200, kDelivered); });
  DigipostOptions options;
  options.base_url = "https://digipost.test";
  options.sender_id = "123456";
  options.signing_key_file = "certs-dev/sender.key";
  options.clock = &clock_;
  options.certificate_ca_file = "certs-dev/ca.pem";
  auto trusted = NewDigipostChannel(options, http.http());
  ASSERT_THAT(trusted, IsOk());
  EXPECT_THAT((*trusted)->Send(Letter()), IsOk());

  options.certificate_ca_file = "certs-dev/other-ca.pem";
  auto untrusted = NewDigipostChannel(options, http.http());
  ASSERT_THAT(untrusted, IsOk());
  absl::StatusOr<SendResult> refused = (*untrusted)->Send(Letter());
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr("not issued by the configured CA")));
  EXPECT_FALSE(IsLetterRefusal(refused.status()));

  options.certificate_ca_file = "certs-dev/nope.pem";
  EXPECT_THAT(NewDigipostChannel(options, http.http()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("digipost.certificate_ca_file")));
}

TEST(NewDigipostChannelTest, NamesTheMissingOption) {
  FakeHttpClient http([](const HttpRequest&) { return Reply(200, ""); });
  DigipostOptions options{"https://x", "123456", "certs-dev/sender.key"};
  DigipostOptions no_url = options;
  no_url.base_url.clear();
  EXPECT_THAT(
      NewDigipostChannel(no_url, &http),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("digipost.url")));
  DigipostOptions no_sender = options;
  no_sender.sender_id.clear();
  EXPECT_THAT(
      NewDigipostChannel(no_sender, &http),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sender_id")));
  DigipostOptions bad_key = options;
  bad_key.signing_key_file = "certs-dev/nope.key";
  EXPECT_THAT(NewDigipostChannel(bad_key, &http),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("signing_key_file")));
}

}  // namespace
}  // namespace utpost::adapters
