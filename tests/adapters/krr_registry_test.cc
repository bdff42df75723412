#include "adapters/registry/krr_registry.h"

#include <memory>
#include <string>
#include <vector>

#include "adapters/http/fake_http_client.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using Status = PersonContact::Status;

HttpResponse Reply(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// Answers every number asked for as active, without mailbox.
absl::StatusOr<HttpResponse> EchoActive(const HttpRequest& request) {
  nlohmann::json asked = nlohmann::json::parse(request.body);
  nlohmann::json persons = nlohmann::json::array();
  for (const auto& number : asked["personidentifikatorer"]) {
    persons.push_back({{"personidentifikator", number},
                       {"status", "AKTIV"},
                       {"reservasjon", "NEI"}});
  }
  return Reply(200, nlohmann::json{{"personer", persons}}.dump());
}

TEST(KrrRegistryTest, ParsesEachKindOfPerson) {
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(200, R"({"personer": [
      {"personidentifikator": "01817010055", "reservasjon": "NEI",
       "status": "AKTIV", "kontaktinformasjon": {"epostadresse": "a@b",
                                                 "mobiltelefonnummer": "+4799999999"},
       "digital_post": {"postkasseadresse": "kari#1",
                        "postkasseleverandoeradresse": "984661185"}},
      {"personidentifikator": "02916510260", "reservasjon": "JA",
       "status": "AKTIV"},
      {"personidentifikator": "23897510170", "status": "SLETTET"},
      {"personidentifikator": "04847910181", "status": "IKKE_REGISTRERT"}
    ]})");
  });
  auto registry = NewKrrRegistry({"https://krr.test/"}, &http);
  auto result = registry->LookupPersons(
      {"01817010055", "02916510260", "23897510170", "04847910181"});
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->size(), 4u);
  const PersonContact& mailbox = (*result)[0];
  EXPECT_EQ(mailbox.person_number, "01817010055");
  EXPECT_EQ(mailbox.status, Status::kActive);
  EXPECT_FALSE(mailbox.reserved);
  EXPECT_EQ(mailbox.mailbox_address, "kari#1");
  EXPECT_EQ(mailbox.mailbox_provider, "984661185");
  EXPECT_EQ(mailbox.email, "a@b");
  EXPECT_EQ(mailbox.mobile, "+4799999999");
  EXPECT_EQ((*result)[1].email, "");
  EXPECT_EQ((*result)[1].status, Status::kActive);
  EXPECT_TRUE((*result)[1].reserved);
  EXPECT_EQ((*result)[1].mailbox_address, "");
  EXPECT_EQ((*result)[2].status, Status::kDeleted);
  EXPECT_EQ((*result)[3].status, Status::kNotRegistered);

  ASSERT_EQ(http.requests().size(), 1u);
  std::vector<HttpRequest> requests = http.requests();
  const HttpRequest& request = requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://krr.test/rest/v1/personer");
  EXPECT_THAT(FindHeader(request.headers, "Content-Type"),
              Optional(std::string("application/json")));
  EXPECT_FALSE(FindHeader(request.headers, "Authorization").has_value());
  EXPECT_EQ(nlohmann::json::parse(request.body),
            nlohmann::json::parse(R"({"personidentifikatorer": [
              "01817010055", "02916510260", "23897510170", "04847910181"]})"));
}

TEST(KrrRegistryTest, NumbersLeftOutOfTheReplyAreNotRegistered) {
  FakeHttpClient http(
      [](const HttpRequest&) { return Reply(200, R"({"personer": []})"); });
  auto registry = NewKrrRegistry({"https://krr.test"}, &http);
  auto result = registry->LookupPersons({"04847910181"});
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ((*result)[0].person_number, "04847910181");
  EXPECT_EQ((*result)[0].status, Status::kNotRegistered);
}

TEST(KrrRegistryTest, SplitsLargeLookupsIntoBatchesOfAThousand) {
  FakeHttpClient http(&EchoActive);
  auto registry = NewKrrRegistry({"https://krr.test"}, &http);
  std::vector<std::string> numbers;
  for (int i = 0; i < 2500; ++i) numbers.push_back(std::to_string(10000 + i));
  auto result = registry->LookupPersons(numbers);
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->size(), numbers.size());
  for (size_t i = 0; i < numbers.size(); ++i) {
    EXPECT_EQ((*result)[i].person_number, numbers[i]);
    EXPECT_EQ((*result)[i].status, Status::kActive);
  }
  std::vector<size_t> batch_sizes;
  for (const HttpRequest& request : http.requests()) {
    batch_sizes.push_back(
        nlohmann::json::parse(request.body)["personidentifikatorer"].size());
  }
  EXPECT_THAT(batch_sizes, ElementsAre(1000, 1000, 500));
}

TEST(KrrRegistryTest, EmptyLookupAsksNothing) {
  FakeHttpClient http(&EchoActive);
  auto registry = NewKrrRegistry({"https://krr.test"}, &http);
  auto result = registry->LookupPersons({});
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->empty());
  EXPECT_TRUE(http.requests().empty());
}

TEST(KrrRegistryTest, SendsConfiguredBearerToken) {
  FakeHttpClient http(&EchoActive);
  KrrRegistryOptions options;
  options.base_url = "https://krr.test";
  options.bearer_token = "dev";
  auto registry = NewKrrRegistry(options, &http);
  ASSERT_THAT(registry->LookupPersons({"01817010055"}), IsOk());
  EXPECT_THAT(FindHeader(http.requests()[0].headers, "Authorization"),
              Optional(std::string("Bearer dev")));
}

struct ErrorCase {
  int status;
  std::string body;
  absl::StatusCode expected;
};

class KrrRegistryErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(KrrRegistryErrorTest, Classifies) {
  const ErrorCase& c = GetParam();
  FakeHttpClient http(
      [&c](const HttpRequest&) { return Reply(c.status, c.body); });
  auto registry = NewKrrRegistry({"https://krr.test"}, &http);
  auto result = registry->LookupPersons({"01817010055"});
  EXPECT_THAT(result, StatusIs(c.expected, Not(HasSubstr("01817010055"))));
}

INSTANTIATE_TEST_SUITE_P(
    Replies, KrrRegistryErrorTest,
    ::testing::Values(
        ErrorCase{503, "down", absl::StatusCode::kUnavailable},
        ErrorCase{429, "slow down", absl::StatusCode::kUnavailable},
        ErrorCase{408, "too slow", absl::StatusCode::kDeadlineExceeded},
        ErrorCase{401, "no token", absl::StatusCode::kPermissionDenied},
        ErrorCase{403, "not allowed", absl::StatusCode::kPermissionDenied},
        ErrorCase{404, "no such path", absl::StatusCode::kFailedPrecondition},
        ErrorCase{415, "json only", absl::StatusCode::kFailedPrecondition},
        ErrorCase{400, "bad number 01817010055",
                  absl::StatusCode::kInvalidArgument},
        ErrorCase{200, "not json", absl::StatusCode::kUnavailable},
        ErrorCase{200, R"({"other": 1})", absl::StatusCode::kUnavailable},
        // Wrong types must come back as a status, not an exception.
        ErrorCase{200, R"({"personer": [{"personidentifikator": 7}]})",
                  absl::StatusCode::kUnavailable},
        ErrorCase{200, R"({"personer": [{"personidentifikator": "1",
                   "digital_post": {"postkasseadresse": 5}}]})",
                  absl::StatusCode::kUnavailable}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      return "Http" + std::to_string(info.param.status) + "Case" +
             std::to_string(info.index);
    });

TEST(KrrRegistryTest, MasksNumbersBeforeCuttingTheReply) {
  // The excerpt ends 300 characters in: after the number's eighth digit.
  std::string body = std::string(292, 'x') + "01817010055 is unknown";
  FakeHttpClient http([&body](const HttpRequest&) { return Reply(400, body); });
  auto registry = NewKrrRegistry({"https://krr.test"}, &http);
  EXPECT_THAT(
      registry->LookupPersons({"01817010055"}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("018170**"), Not(HasSubstr("0181701")))));
}

TEST(KrrRegistryTest, TransportErrorsPassThrough) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return absl::UnavailableError("connection refused");
  });
  auto registry = NewKrrRegistry({"https://krr.test"}, &http);
  EXPECT_THAT(registry->LookupPersons({"01817010055"}),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("connection refused")));
}

}  // namespace
}  // namespace utpost::adapters
