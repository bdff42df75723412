// The real adapters over HTTPS against utpost-sim, started in this process.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/channel.h"
#include "adapters/digipost/digipost_channel.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/registry/krr_registry.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sim/persons.h"
#include "sim/simulator.h"
#include "tests/testing/sim_suite.h"

namespace utpost::adapters {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using Status = PersonContact::Status;

constexpr char kSenderId[] = "123456";
constexpr char kPdf[] = "%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n";

class AdaptersSimTest : public ::utpost::testing::SimulatorSuite {
 protected:
  static void SetUpTestSuite() {
    sim::SimulatorOptions options = DefaultOptions();
    options.digipost_sender_id = kSenderId;
    StartSuite(std::move(options));
  }

  static std::unique_ptr<Channel> Digipost(
      const std::string& key = "certs-dev/sender.key",
      const Clock* clock = nullptr, HttpClient* http = nullptr) {
    DigipostOptions options;
    options.base_url = BaseUrl();
    options.sender_id = kSenderId;
    options.signing_key_file = key;
    options.clock = clock;
    auto channel = NewDigipostChannel(options, http ? http : http_);
    EXPECT_THAT(channel, IsOk());
    return channel.ok() ? *std::move(channel) : nullptr;
  }

  static OutgoingLetter Letter(const std::string& message_id,
                               const std::string& person = "01817010055") {
    OutgoingLetter letter;
    letter.message_id = message_id;
    letter.tenant = "964338531";
    letter.person_number = person;
    letter.title = "Vedtak om eiendomsskatt";
    letter.documents = {{"vedtak.pdf", "application/pdf", kPdf, ""},
                        {"vedlegg.pdf", "application/pdf", kPdf, ""}};
    letter.recipient_address = {
        "Nora Utenpost", {"Testveien 1"}, "5003", "Bergen", ""};
    letter.return_address = {
        "Bergen kommune", {"Postboks 7700"}, "5020", "Bergen", ""};
    return letter;
  }
};

TEST_F(AdaptersSimTest, RegistryAnswersEachKindOfPerson) {
  auto registry = NewKrrRegistry({BaseUrl()}, http_);
  auto result =
      registry->LookupPersons({"01817010055", "30925910089", "12860150180",
                               "02916510260", "23897510170", "04847910181"});
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->size(), 6u);
  const auto& r = *result;
  EXPECT_EQ(r[0].status, Status::kActive);
  EXPECT_FALSE(r[0].reserved);
  EXPECT_EQ(r[0].mailbox_provider, "984661185");
  EXPECT_FALSE(r[0].mailbox_address.empty());
  EXPECT_EQ(r[1].mailbox_provider, "922020175");  // e-Boks.
  EXPECT_EQ(r[2].status, Status::kActive);
  EXPECT_TRUE(r[2].mailbox_address.empty());
  EXPECT_TRUE(r[3].reserved);
  EXPECT_EQ(r[4].status, Status::kDeleted);
  EXPECT_EQ(r[5].status, Status::kNotRegistered);
  EXPECT_EQ(Deliveries()["registry"]["requests"], 1);
}

TEST_F(AdaptersSimTest, RegistrySplitsLookupsAndAcceptsBearerToken) {
  KrrRegistryOptions options;
  options.base_url = BaseUrl();
  options.bearer_token = "dev";
  auto registry = NewKrrRegistry(options, http_);
  std::vector<std::string> numbers(1500, "01817010055");
  auto result = registry->LookupPersons(numbers);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->size(), 1500u);
  EXPECT_EQ(Deliveries()["registry"]["requests"], 2);
}

TEST_F(AdaptersSimTest, RegistryFaultIsTransient) {
  InjectFault("registry", 503, 1);
  auto registry = NewKrrRegistry({BaseUrl()}, http_);
  auto failed = registry->LookupPersons({"01817010055"});
  EXPECT_THAT(failed,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  EXPECT_TRUE(IsTransient(failed.status()));
  EXPECT_THAT(registry->LookupPersons({"01817010055"}), IsOk());
}

TEST_F(AdaptersSimTest, DigipostSendIsAcceptedAndRepeatIsDuplicate) {
  auto channel = Digipost();
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> first = channel->Send(Letter("msg-1"));
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->outcome, SendResult::Outcome::kAccepted);
  EXPECT_TRUE(first->delivered);
  EXPECT_THAT(first->provider_reference, HasSubstr("DELIVERED"));

  absl::StatusOr<SendResult> again = channel->Send(Letter("msg-1"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->outcome, SendResult::Outcome::kDuplicate);

  nlohmann::json counts = Deliveries()["digipost"]["msg-1"];
  EXPECT_EQ(counts["accepted"], 1);
  EXPECT_EQ(counts["duplicates"], 1);
}

TEST_F(AdaptersSimTest, DigipostRefusesSignatureFromAnotherKey) {
  auto channel = Digipost("certs-dev/tenant-964338531.key");
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> result = channel->Send(Letter("msg-forged"));
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kPermissionDenied,
                               HasSubstr("INVALID_SIGNATURE")));
  EXPECT_FALSE(IsTransient(result.status()));
  EXPECT_FALSE(Deliveries()["digipost"].contains("msg-forged"));
}

TEST_F(AdaptersSimTest, DigipostRefusesClockOutsideTheAllowedSkew) {
  FakeClock late(RealClock()->NowMillis() - 6 * 60 * 1000);
  auto channel = Digipost("certs-dev/sender.key", &late);
  ASSERT_NE(channel, nullptr);
  EXPECT_THAT(channel->Send(Letter("msg-late")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("INVALID_SIGNATURE")));
}

TEST_F(AdaptersSimTest, DigipostRefusesRecipientsWithoutMailbox) {
  auto channel = Digipost();
  ASSERT_NE(channel, nullptr);
  // Reserved, no mailbox, e-Boks, deleted, unregistered.
  for (const char* person : {"02916510260", "12860150180", "30925910089",
                             "23897510170", "04847910181"}) {
    absl::StatusOr<SendResult> result =
        channel->Send(Letter(absl::StrCat("msg-", person), person));
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("UNKNOWN_RECIPIENT")))
        << person;
    EXPECT_THAT(std::string(result.status().message()), Not(HasSubstr(person)));
    EXPECT_FALSE(IsTransient(result.status()));
  }
}

TEST_F(AdaptersSimTest, InjectedServerErrorIsTransientThenSendSucceeds) {
  InjectFault("digipost", 503, 1);
  auto channel = Digipost();
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> failed = channel->Send(Letter("msg-retry"));
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr("SIMULATED_FAULT")));
  EXPECT_TRUE(IsTransient(failed.status()));
  absl::StatusOr<SendResult> retried = channel->Send(Letter("msg-retry"));
  ASSERT_THAT(retried, IsOk());
  EXPECT_EQ(retried->outcome, SendResult::Outcome::kAccepted);
}

TEST_F(AdaptersSimTest, FaultUntilClearedKeepsFailing) {
  InjectFault("digipost", 500, -1);
  auto channel = Digipost();
  ASSERT_NE(channel, nullptr);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(channel->Send(Letter("msg-stuck")),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("500")));
  }
  ASSERT_EQ(Control("DELETE", "/sim/v1/faults", "").status, 204);
  EXPECT_THAT(channel->Send(Letter("msg-stuck")), IsOk());
}

TEST_F(AdaptersSimTest, SlowProviderIsDeadlineExceeded) {
  InjectFault("digipost", 0, 1, /*delay_ms=*/1500);
  CurlHttpClientOptions impatient;
  impatient.ca_file = "certs-dev/ca.pem";
  impatient.timeout_ms = 300;
  auto http = NewCurlHttpClient(impatient);
  ASSERT_THAT(http, IsOk());
  auto channel = Digipost("certs-dev/sender.key", nullptr, http->get());
  ASSERT_NE(channel, nullptr);
  absl::StatusOr<SendResult> result = channel->Send(Letter("msg-slow"));
  EXPECT_THAT(result,
              StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::_));
  EXPECT_TRUE(IsTransient(result.status()));
}

TEST_F(AdaptersSimTest, ConcurrentSendsShareOneClient) {
  auto channel = Digipost();
  ASSERT_NE(channel, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto result = channel->Send(Letter(absl::StrCat("msg-c-", t, "-", i)));
        if (result.ok() && result->outcome == SendResult::Outcome::kAccepted) {
          ++accepted;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), kThreads * kPerThread);
  EXPECT_EQ(Deliveries()["digipost"].size(),
            static_cast<size_t>(kThreads * kPerThread));
}

// The print channel against the simulator: print_sim_integration_test.cc.

TEST_F(AdaptersSimTest, ClientTrustingAnotherCaFailsTls) {
  CurlHttpClientOptions options;
  options.ca_file = "certs-dev/other-ca.pem";
  auto http = NewCurlHttpClient(options);
  ASSERT_THAT(http, IsOk());
  auto registry = NewKrrRegistry({BaseUrl()}, http->get());
  auto result = registry->LookupPersons({"01817010055"});
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_EQ(Deliveries()["registry"]["requests"], 0);
}

TEST_F(AdaptersSimTest, HttpClientRefusesPlainHttpAndMissingFiles) {
  HttpRequest request;
  request.url = absl::StrCat("http://127.0.0.1:", simulator_->port(), "/");
  EXPECT_THAT(http_->Do(request),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  CurlHttpClientOptions missing_ca;
  missing_ca.ca_file = "certs-dev/none.pem";
  EXPECT_THAT(
      NewCurlHttpClient(missing_ca),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ca_file")));
  CurlHttpClientOptions half_pair;
  half_pair.client_cert_file = "certs-dev/tenant-964338531.pem";
  EXPECT_THAT(NewCurlHttpClient(half_pair),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("client_key_file")));
}

TEST_F(AdaptersSimTest, ZeroTimeoutsMeanTheDefaults) {
  CurlHttpClientOptions options;
  options.ca_file = "certs-dev/ca.pem";
  options.timeout_ms = 0;
  options.connect_timeout_ms = 0;
  auto http = NewCurlHttpClient(options);
  ASSERT_THAT(http, IsOk());
  HttpRequest request;
  request.url = BaseUrl() + "/sim/v1/deliveries";
  absl::StatusOr<HttpResponse> response = (*http)->Do(request);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(FindHeader(response->headers, "content-type"),
              ::testing::Optional(std::string("application/json")));
}

TEST_F(AdaptersSimTest, NothingListeningIsUnavailable) {
  // A port from the simulator that is no longer there.
  sim::SimulatorOptions options;
  options.port = 0;
  options.cert_file = "certs-dev/server.pem";
  options.key_file = "certs-dev/server.key";
  options.sender_cert_file = "certs-dev/sender.pem";
  auto gone = sim::StartSimulator(std::move(options));
  ASSERT_THAT(gone, IsOk());
  int port = (*gone)->port();
  (*gone)->Stop();
  auto registry =
      NewKrrRegistry({absl::StrCat("https://127.0.0.1:", port)}, http_);
  EXPECT_THAT(registry->LookupPersons({"01817010055"}),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

}  // namespace
}  // namespace utpost::adapters
