// utpost-sim's DPI receipt queue judged by the published artefacts: its
// receipts validated against the published receipt schemas
// (tests/published/dpi/receipts/, python3-jsonschema), and its listing and
// marking read checked request by request against the OpenAPI
// (nyinf/api/openapi_spec.yaml): parameters, 204, 401/403, problem+json.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/channel.h"
#include "adapters/dpi/dpi_channel.h"
#include "adapters/dpi/dpi_crypto.h"
#include "adapters/http/token_source.h"
#include "adapters/registry/krr_registry.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sim/simulator.h"
#include "tests/testing/sim_suite.h"

namespace utpost::adapters {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using Kind = ProviderEvent::Kind;

constexpr char kPdf[] = "%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
constexpr char kEboksPerson[] = "30925910089";
constexpr char kScope[] = "digitalpostinnbygger:send";
constexpr char kGoodToken[] = "token-with-scope";
// Valid, but granted no DPI scope.
constexpr char kScopelessToken[] = "token-without-scope";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class DpiReceiptQueueTest : public ::utpost::testing::SimulatorSuite {
 protected:
  static void SetUpTestSuite() {
    sim::SimulatorOptions options = DefaultOptions();
    options.dpi_token_check = [](const std::string& token,
                                 const std::string& scope) {
      if (token == kScopelessToken) return scope.empty();
      return token == kGoodToken;
    };
    StartSuite(std::move(options));
  }

  std::unique_ptr<Channel> Dpi(const std::string& kanal) {
    DpiOptions options;
    options.base_url = BaseUrl();
    options.signing_key_file = "certs-dev/sender.key";
    options.certificate_file = "certs-dev/sender.pem";
    // The package signature carries the chain up to the root.
    options.certificate_root_file = "certs-dev/ca.pem";
    options.provider_certificate_file = "certs-dev/dpi-provider.pem";
    options.provider_ca_file = "certs-dev/ca.pem";
    options.kanal = kanal;
    auto channel = NewDpiChannel(options, http_, &tokens_);
    EXPECT_THAT(channel, IsOk());
    return channel.ok() ? *std::move(channel) : nullptr;
  }

  static OutgoingLetter Letter(const std::string& message_id) {
    KrrRegistryOptions options;
    options.base_url = BaseUrl();
    auto registry = NewKrrRegistry(std::move(options), http_);
    auto contacts = registry->LookupPersons({kEboksPerson});
    EXPECT_THAT(contacts, IsOk());
    OutgoingLetter letter;
    letter.message_id = message_id;
    letter.tenant = "964338531";
    letter.person_number = kEboksPerson;
    letter.title = "Vedtak";
    letter.documents = {{"vedtak.pdf", "application/pdf", kPdf, ""}};
    if (contacts.ok() && !contacts->empty()) {
      letter.mailbox_address = (*contacts)[0].mailbox_address;
      letter.mailbox_provider = (*contacts)[0].mailbox_provider;
      letter.mailbox_certificate = (*contacts)[0].mailbox_certificate;
    }
    return letter;
  }

  // Sends a letter with `kanal` and queues one receipt of every type for it.
  void SendWithEveryReceipt(const std::string& id, const std::string& kanal) {
    auto channel = Dpi(kanal);
    ASSERT_THAT(channel->Send(Letter(id)), IsOk());
    for (const json& command :
         {json{{"receipt", "aapningskvittering"}},
          json{{"receipt", "varslingfeiletkvittering"},
               {"varslingskanal", "sms"},
               {"beskrivelse", "ikke levert"}},
          json{{"receipt", "mottakskvittering"}},
          json{{"receipt", "returpostkvittering"}},
          json{{"receipt", "feil"},
               {"feiltype", "SERVER"},
               {"detaljer", "intern feil"}},
          json{{"receipt", "feil"}, {"feiltype", "KLIENT"}}}) {
      json c = command;
      c["message_id"] = id;
      ASSERT_EQ(Control("POST", "/sim/v1/dpi/receipts", c.dump()).status, 204);
    }
  }

  static HttpResponse Call(const std::string& method,
                           const std::string& path_and_query,
                           const std::string& token = kGoodToken) {
    HttpRequest request;
    request.method = method;
    request.url = absl::StrCat(BaseUrl(), path_and_query);
    if (!token.empty()) {
      request.headers = {{"Authorization", absl::StrCat("Bearer ", token)}};
    }
    absl::StatusOr<HttpResponse> response = http_->Do(request);
    EXPECT_THAT(response, IsOk());
    return response.ok() ? *response : HttpResponse{};
  }

  // A refusal in the OpenAPI's problem shape, with `status`.
  static void ExpectProblem(const HttpResponse& response, int status) {
    EXPECT_EQ(response.status, status) << response.body;
    std::optional<std::string> type =
        FindHeader(response.headers, "Content-Type");
    EXPECT_THAT(type.value_or(""), HasSubstr("application/problem+json"));
    json problem = json::parse(response.body, nullptr, false);
    ASSERT_TRUE(problem.is_object()) << response.body;
    EXPECT_EQ(problem.value("status", 0), status);
    EXPECT_TRUE(problem["title"].is_string());
    EXPECT_TRUE(problem["detail"].is_string());
  }

  StaticTokenSource tokens_{kGoodToken};
};

TEST_F(DpiReceiptQueueTest, ReceiptsAreValidAgainstThePublishedSchemas) {
  SendWithEveryReceipt("6a1f0c3e-2b4d-4e5f-8a6b-7c8d9e0f1a01", "utpost-1");
  HttpResponse listed = Call("GET", "/messages/in?kanal=utpost-1");
  ASSERT_EQ(listed.status, 200) << listed.body;
  json list = json::parse(listed.body, nullptr, false);
  ASSERT_TRUE(list.is_array());
  ASSERT_THAT(list, SizeIs(7));
  auto verifier =
      DpiReceiptVerifier::FromFiles("", "certs-dev/dpi-provider.pem");
  ASSERT_THAT(verifier, IsOk());
  std::vector<std::string> files;
  std::set<std::string> types;
  for (size_t i = 0; i < list.size(); ++i) {
    // The OpenAPI's message: forretningsmelding (and downloadurl, which
    // receipts have no use for), nothing of the simulator's own.
    ASSERT_TRUE(list[i].is_object());
    for (auto it = list[i].begin(); it != list[i].end(); ++it) {
      EXPECT_TRUE(it.key() == "forretningsmelding" || it.key() == "downloadurl")
          << it.key();
    }
    absl::StatusOr<json> payload =
        (*verifier)->Verify(list[i].value("forretningsmelding", ""));
    ASSERT_THAT(payload, IsOk());
    types.insert(
        (*payload)["standardBusinessDocument"]["standardBusinessDocumentHeader"]
                  ["documentIdentification"]
                      .value("type", ""));
    files.push_back(absl::StrCat(::testing::TempDir(), "sim-receipt-",
                                 ::getpid(), "-", i, ".json"));
    std::ofstream(files.back()) << payload->dump(2);
  }
  EXPECT_EQ(types, (std::set<std::string>{
                       "leveringskvittering", "aapningskvittering",
                       "varslingfeiletkvittering", "mottakskvittering",
                       "returpostkvittering", "feil"}));
  std::string out =
      absl::StrCat(::testing::TempDir(), "sim-receipts-", ::getpid(), ".out");
  std::string command =
      absl::StrCat("/usr/bin/python3 tests/published/dpi/receipts/validate.py ",
                   absl::StrJoin(files, " "), " > ", out, " 2>&1");
  EXPECT_EQ(std::system(command.c_str()), 0) << ReadFile(out);
  EXPECT_THAT(ReadFile(out), HasSubstr("0 errors in 7 receipts"));
  for (const std::string& f : files) std::remove(f.c_str());
  std::remove(out.c_str());
}

TEST_F(DpiReceiptQueueTest, ListingTakesTheOpenApisParametersOnly) {
  // Nothing unread: 204, no body.
  HttpResponse none = Call("GET", "/messages/in");
  EXPECT_EQ(none.status, 204);
  EXPECT_EQ(none.body, "");

  SendWithEveryReceipt("6a1f0c3e-2b4d-4e5f-8a6b-7c8d9e0f1a02", "Kanal_A");
  // Another kanal's receipts are not listed; kanal is case-insensitive;
  // without kanal every receipt is.
  EXPECT_EQ(Call("GET", "/messages/in?kanal=kanal_b").status, 204);
  HttpResponse all = Call("GET", "/messages/in?kanal=KANAL_a");
  ASSERT_EQ(all.status, 200);
  EXPECT_THAT(json::parse(all.body), SizeIs(7));
  EXPECT_THAT(json::parse(Call("GET", "/messages/in").body), SizeIs(7));
  // Pages of page_size, numbered from 0, oldest first.
  json first = json::parse(Call("GET", "/messages/in?page_size=3").body);
  json third = json::parse(Call("GET", "/messages/in?page_size=3&page=2").body);
  ASSERT_THAT(first, SizeIs(3));
  ASSERT_THAT(third, SizeIs(1));
  EXPECT_EQ(first[0], json::parse(all.body)[0]);
  EXPECT_EQ(third[0], json::parse(all.body)[6]);
  EXPECT_EQ(Call("GET", "/messages/in?page_size=3&page=3").status, 204);
  EXPECT_EQ(Call("GET",
                 "/messages/in?avsenderidentifikator=avsender-1&"
                 "kanal=Kanal_A&page_size=1000&page=0")
                .status,
            200);

  // Refusals, in the problem shape.
  ExpectProblem(Call("GET", "/messages/in?maxResults=10"), 400);
  ExpectProblem(Call("GET", "/messages/in?page_size=0"), 400);
  ExpectProblem(Call("GET", "/messages/in?page_size=1001"), 400);
  ExpectProblem(Call("GET", "/messages/in?page_size=ti"), 400);
  ExpectProblem(Call("GET", "/messages/in?page=-1"), 400);
  ExpectProblem(Call("GET", "/messages/in?kanal=med%20mellomrom"), 400);
  ExpectProblem(
      Call("GET", absl::StrCat("/messages/in?kanal=", std::string(29, 'k'))),
      400);
  ExpectProblem(Call("GET", absl::StrCat("/messages/in?avsenderidentifikator=",
                                         std::string(101, 'a'))),
                400);
  ExpectProblem(Call("GET", "/messages/in", ""), 401);
  ExpectProblem(Call("GET", "/messages/in", "forged"), 401);
  ExpectProblem(Call("GET", "/messages/in", kScopelessToken), 403);
}

TEST_F(DpiReceiptQueueTest, MarkedReadIsNotListedAndNotDeleted) {
  const std::string id = "6a1f0c3e-2b4d-4e5f-8a6b-7c8d9e0f1a03";
  auto channel = Dpi("utpost-2");
  ASSERT_THAT(channel->Send(Letter(id)), IsOk());
  absl::StatusOr<std::vector<ProviderEvent>> events = channel->FetchEvents(5);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_EQ((*events)[0].kind, Kind::kDelivered);
  EXPECT_EQ((*events)[0].message_id, id);
  EXPECT_EQ((*events)[0].provider, "922020175");
  const std::string receipt = (*events)[0].event_id;

  ExpectProblem(Call("POST", absl::StrCat("/messages/in/", receipt, "/read"),
                     kScopelessToken),
                403);
  ExpectProblem(
      Call("POST", absl::StrCat("/messages/in/", receipt, "/read"), ""), 401);
  ASSERT_THAT(channel->ConfirmEvents({receipt}), IsOk());
  EXPECT_EQ(Call("GET", "/messages/in").status, 204);
  // Still there, only read: marking it again is 200, as it is for the
  // channel.
  EXPECT_EQ(
      Call("POST", absl::StrCat("/messages/in/", receipt, "/read")).status,
      200);
  EXPECT_THAT(channel->ConfirmEvents({receipt}), IsOk());
  ExpectProblem(
      Call("POST", "/messages/in/6a1f0c3e-2b4d-4e5f-8a6b-7c8d9e0f1aff/read"),
      404);
  ExpectProblem(Call("POST", "/messages/in/not-a-uuid/read"), 400);
  // There is no DELETE in the OpenAPI.
  HttpResponse deleted = Call("DELETE", absl::StrCat("/messages/in/", receipt));
  EXPECT_FALSE(deleted.status >= 200 && deleted.status < 300);
  absl::StatusOr<std::vector<ProviderEvent>> after = channel->FetchEvents(5);
  ASSERT_THAT(after, IsOk());
  EXPECT_THAT(*after, SizeIs(0));
}

}  // namespace
}  // namespace utpost::adapters
