#include "adapters/print/print_channel.h"

#include <memory>
#include <string>
#include <vector>

#include "adapters/http/fake_http_client.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

constexpr char kPdf[] = "%PDF-1.7\nletter\n%%EOF\n";

HttpResponse Reply(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

OutgoingLetter Letter() {
  OutgoingLetter letter;
  letter.message_id = "job-1";
  letter.tenant = "964338531";
  letter.person_number = "12860150180";
  letter.documents = {
      {"brev.pdf", "application/pdf", kPdf, ""},
      {"vedlegg.pdf", "application/pdf", "%PDF-1.4 v", "given-digest"}};
  letter.recipient_address = {
      "Nora Utenpost", {"Testveien 1"}, "5003", "Bergen", ""};
  letter.return_address = {
      "Bergen kommune", {"Postboks 7700"}, "5020", "Bergen", ""};
  letter.color = true;
  letter.duplex = true;
  letter.a_post = false;
  letter.shred_if_undeliverable = true;
  return letter;
}

// The JSON of the "manifest" part of a multipart/form-data body.
nlohmann::json ManifestOf(const std::string& body) {
  size_t name = body.find("name=\"manifest\"");
  size_t start = body.find("\r\n\r\n", name) + 4;
  size_t end = body.find("\r\n--", start);
  return nlohmann::json::parse(body.substr(start, end - start));
}

TEST(PrintChannelTest, SendsManifestThenDocuments) {
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(201, R"({"job_id": "job-1", "status": "RECEIVED"})");
  });
  auto channel = NewPrintChannel({"https://print.test/"}, &http);
  EXPECT_EQ(channel->name(), "print");
  absl::StatusOr<SendResult> result = channel->Send(Letter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kAccepted);
  EXPECT_FALSE(result->delivered);
  EXPECT_EQ(result->provider_reference, "RECEIVED");

  ASSERT_EQ(http.requests().size(), 1u);
  std::vector<HttpRequest> requests = http.requests();
  const HttpRequest& request = requests[0];
  EXPECT_EQ(request.url, "https://print.test/print/v1/jobs");
  std::string type = *FindHeader(request.headers, "Content-Type");
  EXPECT_THAT(type, StartsWith("multipart/form-data; boundary="));
  std::string boundary = type.substr(type.find('=') + 1);
  EXPECT_THAT(request.body, StartsWith("--" + boundary + "\r\n"));
  EXPECT_THAT(request.body, HasSubstr("\r\n--" + boundary + "--\r\n"));
  EXPECT_THAT(request.body,
              HasSubstr("Content-Disposition: form-data; name=\"document\"; "
                        "filename=\"brev.pdf\"\r\nContent-Type: "
                        "application/pdf\r\n\r\n" +
                        std::string(kPdf) + "\r\n--"));
  EXPECT_LT(request.body.find("name=\"manifest\""),
            request.body.find("filename=\"brev.pdf\""));
  EXPECT_LT(request.body.find("filename=\"brev.pdf\""),
            request.body.find("filename=\"vedlegg.pdf\""));

  nlohmann::json manifest = ManifestOf(request.body);
  EXPECT_EQ(manifest["job_id"], "job-1");
  EXPECT_EQ(manifest["sender"]["organisation_number"], "964338531");
  EXPECT_EQ(manifest["recipient"],
            nlohmann::json::parse(R"({"name": "Nora Utenpost",
              "address_lines": ["Testveien 1"], "postal_code": "5003",
              "city": "Bergen", "country_code": "NO"})"));
  EXPECT_EQ(manifest["return_address"]["name"], "Bergen kommune");
  EXPECT_EQ(manifest["colour"], "COLORS");
  EXPECT_EQ(manifest["duplex"], true);
  EXPECT_EQ(manifest["post_type"], "B");
  EXPECT_EQ(manifest["return_handling"], "SHRED");
  ASSERT_EQ(manifest["documents"].size(), 2u);
  EXPECT_EQ(manifest["documents"][0]["file_name"], "brev.pdf");
  EXPECT_EQ(manifest["documents"][0]["sha256"], Sha256Hex(kPdf));
  EXPECT_EQ(manifest["documents"][1]["sha256"], "given-digest");
  EXPECT_FALSE(manifest["documents"][0].contains("pages"));
}

TEST(PrintChannelTest, DefaultsAreMonochromeSimplexBPostReturnToSender) {
  FakeHttpClient http([](const HttpRequest&) { return Reply(201, "{}"); });
  auto channel = NewPrintChannel({"https://print.test"}, &http);
  OutgoingLetter letter = Letter();
  letter.color = false;
  letter.duplex = false;
  letter.a_post = true;
  letter.shred_if_undeliverable = false;
  ASSERT_THAT(channel->Send(letter), IsOk());
  nlohmann::json manifest = ManifestOf(http.requests()[0].body);
  EXPECT_EQ(manifest["colour"], "MONOCHROME");
  EXPECT_EQ(manifest["duplex"], false);
  EXPECT_EQ(manifest["post_type"], "A");
  EXPECT_EQ(manifest["return_handling"], "RETURN_TO_SENDER");
}

TEST(PrintChannelTest, ConflictIsDuplicate) {
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(409, R"({"error": {"code": "DUPLICATE_JOB"}})");
  });
  auto channel = NewPrintChannel({"https://print.test"}, &http);
  absl::StatusOr<SendResult> result = channel->Send(Letter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kDuplicate);
  EXPECT_EQ(result->provider_reference, "DUPLICATE_JOB");
}

TEST(PrintChannelTest, ConflictWithoutDuplicateJobIsNoSuccess) {
  std::string body;
  FakeHttpClient http([&body](const HttpRequest&) { return Reply(409, body); });
  auto channel = NewPrintChannel({"https://print.test"}, &http);
  for (std::string reply :
       {"", "{}", R"({"error": {"code": "JOB_LOCKED", "message": "busy"}})"}) {
    body = reply;
    absl::StatusOr<SendResult> result = channel->Send(Letter());
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr("409")))
        << reply;
    EXPECT_FALSE(IsTransient(result.status()));
    EXPECT_FALSE(IsLetterRefusal(result.status()));
  }
}

TEST(PrintChannelTest, ClassifiesErrors) {
  int status = 0;
  FakeHttpClient http([&status](const HttpRequest&) {
    return Reply(status,
                 R"({"error": {"code": "X", "message": "for 12860150180"}})");
  });
  auto channel = NewPrintChannel({"https://print.test"}, &http);
  status = 503;
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  status = 408;
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("408")));
  status = 400;
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("128601*****"),
                                        Not(HasSubstr("12860150180")))));
  status = 403;
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("X")));
  status = 401;
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("X")));
  status = 429;
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("X")));
  // A wrong base URL or request shape is the gateway's set-up, not the
  // letter's fault.
  for (int set_up : {404, 405, 415}) {
    status = set_up;
    absl::StatusOr<SendResult> result = channel->Send(Letter());
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr(std::to_string(set_up))));
    EXPECT_FALSE(IsLetterRefusal(result.status()));
  }
}

TEST(PrintChannelTest, MasksNumbersBeforeCuttingTheMessage) {
  // The quote ends 300 characters in: after the number's eighth digit.
  nlohmann::json reply = {
      {"error",
       {{"code", "INVALID_MANIFEST"},
        {"message", std::string(292, 'x') + "12860150180 is no address"}}}};
  FakeHttpClient http(
      [&reply](const HttpRequest&) { return Reply(400, reply.dump()); });
  auto channel = NewPrintChannel({"https://print.test"}, &http);
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("128601**"),
                                        Not(HasSubstr("1286015")),
                                        Not(HasSubstr("is no address")))));
}

TEST(PrintChannelTest, MalformedUrlIsNotALetterRefusal) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return absl::InvalidArgumentError("URL using bad/illegal format");
  });
  auto channel = NewPrintChannel({"https://print.test"}, &http);
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("bad/illegal")));
}

TEST(PrintChannelTest, RefusesLettersItCannotPrint) {
  FakeHttpClient http([](const HttpRequest&) { return Reply(201, "{}"); });
  auto channel = NewPrintChannel({"https://print.test"}, &http);
  OutgoingLetter no_address = Letter();
  no_address.recipient_address = {};
  EXPECT_THAT(
      channel->Send(no_address),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("address")));
  OutgoingLetter no_documents = Letter();
  no_documents.documents.clear();
  EXPECT_THAT(
      channel->Send(no_documents),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("documents")));
  EXPECT_TRUE(http.requests().empty());
}

}  // namespace
}  // namespace utpost::adapters
