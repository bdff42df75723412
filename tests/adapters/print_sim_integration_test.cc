// The print channel over HTTPS against utpost-sim, started in this process:
// batch jobs, per-letter results and the provider's events.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/channel.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/print/print_channel.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sim/simulator.h"
#include "tests/testing/pdf_fixtures.h"

namespace utpost::adapters {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::MakeTestPdf;
using ::utpost::testing::StatusIs;
using Kind = ProviderEvent::Kind;
using json = nlohmann::json;

constexpr int64_t kStart = 1'800'000'000'000;
constexpr int64_t kPostedAfterMs = 60'000;

class PrintSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimulatorOptions options;
    options.port = 0;
    options.cert_file = "certs-dev/server.pem";
    options.key_file = "certs-dev/server.key";
    options.sender_cert_file = "certs-dev/sender.pem";
    options.clock = &clock_;
    options.print_posted_after_ms = kPostedAfterMs;
    auto simulator = sim::StartSimulator(std::move(options));
    ASSERT_THAT(simulator, IsOk());
    simulator_ = *std::move(simulator);
    CurlHttpClientOptions http;
    http.ca_file = "certs-dev/ca.pem";
    http.timeout_ms = 10000;
    auto client = NewCurlHttpClient(http);
    ASSERT_THAT(client, IsOk());
    http_ = *std::move(client);
  }

  std::string BaseUrl() const {
    return absl::StrCat("https://127.0.0.1:", simulator_->port());
  }

  HttpResponse Control(const std::string& method, const std::string& path,
                       const std::string& body) {
    HttpRequest request;
    request.method = method;
    request.url = BaseUrl() + path;
    request.body = body;
    if (!body.empty()) request.headers = {{"Content-Type", "application/json"}};
    absl::StatusOr<HttpResponse> response = http_->Do(request);
    EXPECT_THAT(response, IsOk());
    return response.ok() ? *response : HttpResponse{};
  }

  std::unique_ptr<Channel> Print(int per_job = 100, int64_t wait_ms = 20,
                                 bool cover_page = false) {
    PrintOptions options;
    options.base_url = BaseUrl();
    options.max_letters_per_job = per_job;
    options.max_wait_ms = wait_ms;
    options.cover_page = cover_page;
    return NewPrintChannel(options, http_.get());
  }

  static OutgoingLetter Letter(const std::string& message_id) {
    OutgoingLetter letter;
    letter.message_id = message_id;
    letter.tenant = "964338531";
    letter.person_number = "01817010055";
    letter.documents = {
        {"vedtak.pdf", "application/pdf", MakeTestPdf(3, "Vedtak"), ""},
        {"vedlegg.pdf", "application/pdf", MakeTestPdf(1, "Vedlegg"), ""}};
    letter.recipient_address = {
        "Nora Utenpost", {"Testveien 1"}, "5003", "Bergen", ""};
    letter.return_address = {
        "Bergen kommune", {"Postboks 7700"}, "5020", "Bergen", ""};
    letter.duplex = true;
    return letter;
  }

  // Fetches and confirms everything there is now.
  std::vector<ProviderEvent> Drain(Channel& channel) {
    absl::StatusOr<std::vector<ProviderEvent>> events =
        channel.FetchEvents(100);
    EXPECT_THAT(events, IsOk());
    if (!events.ok()) return {};
    std::vector<std::string> ids;
    for (const ProviderEvent& e : *events) ids.push_back(e.event_id);
    EXPECT_THAT(channel.ConfirmEvents(ids), IsOk());
    return *events;
  }

  FakeClock clock_{kStart};
  std::unique_ptr<sim::Simulator> simulator_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(PrintSimTest, BatchReachesTheSimulatorAndEventsFollow) {
  constexpr int kLetters = 5;
  auto channel = Print(/*per_job=*/kLetters, /*wait_ms=*/2000);
  std::vector<absl::StatusOr<SendResult>> results(
      kLetters, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kLetters; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = channel->Send(Letter(absl::StrCat("m-", i))); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& result : results) {
    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(result->outcome, SendResult::Outcome::kAccepted);
  }
  json counts = json::parse(Control("GET", "/sim/v1/deliveries", "").body);
  EXPECT_EQ(counts["print"].size(), static_cast<size_t>(kLetters));

  // A retry lands in another job and is a duplicate, which is success.
  absl::StatusOr<SendResult> again = channel->Send(Letter("m-2"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->outcome, SendResult::Outcome::kDuplicate);

  std::vector<ProviderEvent> received = Drain(*channel);
  ASSERT_EQ(received.size(), static_cast<size_t>(kLetters));
  for (const ProviderEvent& e : received) {
    EXPECT_EQ(e.kind, Kind::kPrintReceived);
    EXPECT_EQ(e.time_ms, kStart);
    EXPECT_EQ(e.provider, "print");
  }
  EXPECT_TRUE(Drain(*channel).empty());  // Confirmed events are gone.

  clock_.Advance(kPostedAfterMs);
  std::vector<ProviderEvent> posted = Drain(*channel);
  ASSERT_EQ(posted.size(), static_cast<size_t>(kLetters));
  for (const ProviderEvent& e : posted) EXPECT_EQ(e.kind, Kind::kPosted);
}

TEST_F(PrintSimTest, UnconfirmedEventsComeAgain) {
  auto channel = Print();
  ASSERT_THAT(channel->Send(Letter("m-1")), IsOk());
  auto first = channel->FetchEvents(10);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->size(), 1u);
  auto second = channel->FetchEvents(10);
  ASSERT_THAT(second, IsOk());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*first)[0].event_id, (*second)[0].event_id);
}

TEST_F(PrintSimTest, ReturnedLetterGivesReturnedEvent) {
  auto channel = Print();
  ASSERT_THAT(channel->Send(Letter("m-ret")), IsOk());
  Drain(*channel);
  ASSERT_EQ(Control("POST", "/sim/v1/print/events",
                    R"({"message_id": "m-ret", "type": "RETURNED",
                        "reason": "addressee unknown"})")
                .status,
            204);
  std::vector<ProviderEvent> events = Drain(*channel);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kReturned);
  EXPECT_EQ(events[0].message_id, "m-ret");
  EXPECT_EQ(events[0].reason, "addressee unknown");
}

TEST_F(PrintSimTest, CoverPageIsAcceptedAndCounted) {
  auto channel = Print(100, 20, /*cover_page=*/true);
  absl::StatusOr<SendResult> result = channel->Send(Letter("m-cover"));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kAccepted);
}

TEST_F(PrintSimTest, BadLetterIsRefusedAloneInItsJob) {
  auto channel = Print(/*per_job=*/2, /*wait_ms=*/2000);
  OutgoingLetter bad = Letter("m-bad");
  bad.documents[0].sha256_hex = std::string(64, '0');
  absl::StatusOr<SendResult> bad_result = absl::UnknownError("not run");
  absl::StatusOr<SendResult> good_result = absl::UnknownError("not run");
  std::thread a([&] { bad_result = channel->Send(bad); });
  std::thread b([&] { good_result = channel->Send(Letter("m-good")); });
  a.join();
  b.join();
  EXPECT_THAT(bad_result, StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("CHECKSUM_MISMATCH")));
  EXPECT_THAT(good_result, IsOk());
}

TEST_F(PrintSimTest, JobFaultIsTransientForEveryLetter) {
  ASSERT_EQ(Control("POST", "/sim/v1/faults",
                    R"({"endpoint": "print", "status": 502, "count": 1})")
                .status,
            204);
  auto channel = Print();
  EXPECT_THAT(channel->Send(Letter("m-fault")),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("502")));
  EXPECT_THAT(channel->Send(Letter("m-fault")), IsOk());
}

}  // namespace
}  // namespace utpost::adapters
