// utpost-sim's endpoints spoken to directly (not through the adapters), so
// that its own checks are pinned down.
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sim/persons.h"
#include "sim/signature_check.h"
#include "sim/simulator.h"
#include "tests/sim/signing.h"
#include "tests/testing/pdf_fixtures.h"

namespace utpost::sim {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using json = nlohmann::json;

constexpr char kPdf[] = "%PDF-1.7\n%%EOF\n";
// 2027-01-15T08:00:00Z, the Date that SendDigipost signs.
constexpr int64_t kNow = 1'800'000'000'000;

using ::utpost::sim::testing::Base64Sha256;
using ::utpost::sim::testing::SignWith;

SimulatorOptions Options() {
  SimulatorOptions options;
  options.port = 0;
  options.cert_file = "certs-dev/server.pem";
  options.key_file = "certs-dev/server.key";
  options.sender_cert_file = "certs-dev/sender.pem";
  options.digipost_sender_id = "123456";
  return options;
}

class SimulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimulatorOptions options = Options();
    auto persons = LoadPersons("sim/data/persons.yaml");
    ASSERT_THAT(persons, IsOk());
    options.persons = *std::move(persons);
    options.clock = &clock_;
    auto simulator = StartSimulator(std::move(options));
    ASSERT_THAT(simulator, IsOk());
    simulator_ = *std::move(simulator);
    client_ =
        std::make_unique<httplib::SSLClient>("127.0.0.1", simulator_->port());
    client_->set_ca_cert_path("certs-dev/ca.pem");
    client_->enable_server_certificate_verification(true);
  }

  json Deliveries() {
    auto response = client_->Get("/sim/v1/deliveries");
    EXPECT_TRUE(response);
    return response ? json::parse(response->body) : json();
  }

  int SetFault(const json& fault) {
    auto response =
        client_->Post("/sim/v1/faults", fault.dump(), "application/json");
    return response ? response->status : -1;
  }

  int Registry(const json& body, const httplib::Headers& headers = {}) {
    auto response = client_->Post("/rest/v1/personer", headers, body.dump(),
                                  "application/json");
    return response ? response->status : -1;
  }

  // A Digipost send signed here, by the test's own code.
  httplib::Result SendDigipost(const std::string& message_id,
                               const std::string& person,
                               const std::string& sender = "123456",
                               bool with_document = true) {
    std::string uuid = "0b2c7d9e-1111-8222-9333-444455556666";
    std::string xml = absl::StrCat(
        "<?xml version=\"1.0\"?>\n<message "
        "xmlns=\"http://api.digipost.no/schema/v8\">"
        "<message-id>",
        message_id, "</message-id><sender-id>", sender,
        "</sender-id><recipient><personal-identification-number>", person,
        "</personal-identification-number></recipient><primary-document>"
        "<uuid>",
        uuid,
        "</uuid><subject>Brev</subject><file-type>pdf</file-type>"
        "</primary-document></message>");
    std::string body = absl::StrCat(
        "--B\r\nContent-Type: application/vnd.digipost-v8+xml\r\n"
        "Content-Disposition: attachment; filename=\"message\"\r\n\r\n",
        xml, "\r\n");
    if (with_document) {
      absl::StrAppend(&body, "--B\r\nContent-Disposition: attachment; ",
                      "filename=\"", uuid, "\"\r\n\r\n", kPdf, "\r\n");
    }
    absl::StrAppend(&body, "--B--\r\n");
    std::string date = "Fri, 15 Jan 2027 08:00:00 GMT";
    std::string canonical =
        absl::StrCat("POST\n/messages\ndate: ", date,
                     "\nx-content-sha256: ", Base64Sha256(body),
                     "\nx-digipost-userid: ", sender, "\n\n");
    httplib::Headers headers = {
        {"Date", date},
        {"X-Digipost-UserId", sender},
        {"X-Content-SHA256", Base64Sha256(body)},
        {"X-Digipost-Signature", SignWith("certs-dev/sender.key", canonical)},
        {"Accept", "application/vnd.digipost-v8+xml"}};
    return client_->Post("/messages", headers, body,
                         "multipart/vnd.digipost-v8+xml; boundary=B");
  }

  FakeClock clock_{kNow};
  std::unique_ptr<Simulator> simulator_;
  std::unique_ptr<httplib::SSLClient> client_;
};

TEST_F(SimulatorTest, StartsEmpty) {
  EXPECT_EQ(
      Deliveries(),
      json::parse(R"({"digipost": {}, "print": {}, "dpi": {}, "altinn": {},
      "registry": {"requests": 0, "persons": 0},
      "digipost_events": {"served": 0}, "faults_injected": {}})"));
}

TEST_F(SimulatorTest, RegistryValidatesRequests) {
  EXPECT_EQ(Registry({{"personidentifikatorer", {"01817010055"}}}), 200);
  EXPECT_EQ(Registry({{"personidentifikatorer",
                       std::vector<std::string>(1001, "01817010055")}}),
            400);
  EXPECT_EQ(Registry({{"personidentifikatorer", "01817010055"}}), 400);
  EXPECT_EQ(Registry({{"personidentifikatorer", {1}}}), 400);
  EXPECT_EQ(Registry({{"personidentifikatorer", {"01817010055"}}},
                     {{"Authorization", "Basic eDp5"}}),
            401);
  EXPECT_EQ(Registry({{"personidentifikatorer", {"01817010055"}}},
                     {{"Authorization", "Bearer dev"}}),
            200);
  EXPECT_EQ(Deliveries()["registry"]["requests"], 2);
}

TEST_F(SimulatorTest, FaultsCountDownThenClear) {
  EXPECT_EQ(SetFault({{"endpoint", "registry"}, {"status", 500}, {"count", 2}}),
            204);
  json ask = {{"personidentifikatorer", {"01817010055"}}};
  EXPECT_EQ(Registry(ask), 500);
  EXPECT_EQ(Registry(ask), 500);
  EXPECT_EQ(Registry(ask), 200);
  EXPECT_EQ(Deliveries()["faults_injected"]["registry"], 2);

  EXPECT_EQ(
      SetFault({{"endpoint", "registry"}, {"status", 503}, {"count", -1}}),
      204);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Registry(ask), 503);
  auto cleared = client_->Delete("/sim/v1/faults");
  ASSERT_TRUE(cleared);
  EXPECT_EQ(cleared->status, 204);
  EXPECT_EQ(Registry(ask), 200);
}

TEST_F(SimulatorTest, RefusesMalformedFaults) {
  // Any endpoint name is a key (other simulators add theirs), but it is a
  // plain name.
  EXPECT_EQ(SetFault({{"endpoint", "altinn"}, {"status", 503}}), 204);
  EXPECT_EQ(SetFault({{"endpoint", "no such/endpoint"}, {"status", 503}}), 400);
  EXPECT_EQ(SetFault({{"endpoint", "print"}, {"status", 99}}), 400);
  EXPECT_EQ(SetFault({{"endpoint", "print"}, {"count", -2}}), 400);
  EXPECT_EQ(SetFault({{"endpoint", "print"}, {"status", "503"}}), 400);
  EXPECT_EQ(SetFault(json::array()), 400);
}

TEST_F(SimulatorTest, DigipostAcceptsThenCountsDuplicates) {
  auto first = SendDigipost("m-1", "15838210012");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_THAT(first->body, HasSubstr("<status>DELIVERED</status>"));
  EXPECT_EQ(first->get_header_value("Content-Type"),
            "application/vnd.digipost-v8+xml");
  for (int i = 0; i < 2; ++i) {
    auto again = SendDigipost("m-1", "15838210012");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 409);
    EXPECT_THAT(again->body, HasSubstr("DUPLICATE_MESSAGE"));
  }
  EXPECT_EQ(Deliveries()["digipost"]["m-1"],
            json::parse(R"({"accepted": 1, "duplicates": 2})"));

  auto reset = client_->Post("/sim/v1/reset");
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->status, 204);
  EXPECT_TRUE(Deliveries()["digipost"].empty());
  auto after_reset = SendDigipost("m-1", "15838210012");
  ASSERT_TRUE(after_reset);
  EXPECT_EQ(after_reset->status, 200);
}

TEST_F(SimulatorTest, DigipostRefusals) {
  auto unsigned_request = client_->Post("/messages", "x", "text/plain");
  ASSERT_TRUE(unsigned_request);
  EXPECT_EQ(unsigned_request->status, 403);
  EXPECT_THAT(unsigned_request->body,
              HasSubstr("<error-code>INVALID_SIGNATURE</error-code>"));

  auto other_sender = SendDigipost("m-2", "15838210012", "999999");
  ASSERT_TRUE(other_sender);
  EXPECT_EQ(other_sender->status, 403);
  EXPECT_THAT(other_sender->body, HasSubstr("UNKNOWN_SENDER"));

  auto reserved = SendDigipost("m-3", "02916510260");
  ASSERT_TRUE(reserved);
  EXPECT_EQ(reserved->status, 400);
  EXPECT_THAT(reserved->body,
              HasSubstr("<error-type>CLIENT_DATA</error-type>"));
  EXPECT_THAT(reserved->body, HasSubstr("reserved"));
  EXPECT_THAT(reserved->body, ::testing::Not(HasSubstr("02916510260")));

  auto missing_document = SendDigipost("m-4", "15838210012", "123456", false);
  ASSERT_TRUE(missing_document);
  EXPECT_EQ(missing_document->status, 400);
  EXPECT_THAT(missing_document->body, HasSubstr("INVALID_DOCUMENTS"));

  clock_.Advance(6 * 60 * 1000);
  auto late = SendDigipost("m-5", "15838210012");
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 403);
  EXPECT_THAT(late->body, HasSubstr("Date"));
  EXPECT_TRUE(Deliveries()["digipost"].empty());
}

TEST_F(SimulatorTest, DigipostFaultAnswersWithServerError) {
  ASSERT_EQ(SetFault({{"endpoint", "digipost"}, {"status", 503}}), 204);
  auto response = SendDigipost("m-6", "15838210012");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_THAT(response->body, HasSubstr("<error-type>SERVER</error-type>"));
}

// The gateway runs dozens of consumer threads, each keeping its own
// connections open between requests; none may wait for another's to idle
// out.
TEST_F(SimulatorTest, ServesManyKeepAliveConnectionsAtOnce) {
  constexpr int kConnections = 24;
  std::vector<std::unique_ptr<httplib::SSLClient>> clients;
  for (int i = 0; i < kConnections; ++i) {
    auto client =
        std::make_unique<httplib::SSLClient>("127.0.0.1", simulator_->port());
    client->set_ca_cert_path("certs-dev/ca.pem");
    client->enable_server_certificate_verification(true);
    client->set_keep_alive(true);
    clients.push_back(std::move(client));
  }
  std::atomic<int> answered{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (auto& client : clients) {
    threads.emplace_back([&answered, client = client.get()] {
      // Two requests: the second goes over the kept-alive connection.
      for (int i = 0; i < 2; ++i) {
        auto response = client->Get("/sim/v1/deliveries");
        if (response && response->status == 200) ++answered;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  // The connections are still open here: a server with fewer workers than
  // connections would have made the last ones wait for the first to idle
  // out (seconds).
  EXPECT_EQ(answered, 2 * kConnections);
  EXPECT_LT(elapsed_ms, 2000);
}

class SimulatorPrintTest : public SimulatorTest {
 protected:
  // One letter of a job, with its document in part "document-<index>-0".
  json Letter(const std::string& id, const std::string& pdf, int index = 0) {
    json letter = json::parse(R"({
      "sender": {"organisation_number": "964338531"},
      "recipient": {"name": "Nora", "address_lines": ["Testveien 1"],
                    "postal_code": "5003", "city": "Bergen",
                    "country_code": "NO"},
      "return_address": {"name": "Bergen kommune",
                         "address_lines": ["Postboks 7700"],
                         "postal_code": "5020", "city": "Bergen"},
      "colour": "MONOCHROME", "duplex": true, "post_type": "B",
      "return_handling": "RETURN_TO_SENDER", "cover_page": false})");
    letter["message_id"] = id;
    letter["pages"] = 3;
    letter["sheets"] = 2;
    letter["documents"] = {{{"part", absl::StrCat("document-", index, "-0")},
                            {"file_name", "brev.pdf"},
                            {"sha256", Sha256Hex(pdf)},
                            {"pages", 3}}};
    return letter;
  }

  // Posts a job; `pdfs[i]` is letter i's document.
  httplib::Result PostJob(const std::vector<json>& letters,
                          const std::vector<std::string>& pdfs) {
    json manifest = {{"job_id", "job-1"}, {"letters", letters}};
    httplib::MultipartFormDataItems items = {
        {"manifest", manifest.dump(), "", "application/json"}};
    for (size_t i = 0; i < pdfs.size(); ++i) {
      items.push_back({absl::StrCat("document-", i, "-0"), pdfs[i], "brev.pdf",
                       "application/pdf"});
    }
    return client_->Post("/print/v1/jobs", items);
  }

  // The per-letter answers of a job, by message id.
  std::map<std::string, json> Answers(const httplib::Result& result) {
    std::map<std::string, json> out;
    EXPECT_TRUE(result);
    if (!result) return out;
    EXPECT_EQ(result->status, 200) << result->body;
    json reply = json::parse(result->body);
    for (const json& answer : reply["letters"]) {
      out[answer["message_id"]] = answer;
    }
    return out;
  }

  json Events() {
    auto response = client_->Get("/print/v1/events?limit=100");
    EXPECT_TRUE(response);
    return response ? json::parse(response->body)["events"] : json();
  }

  const std::string pdf_ = ::utpost::testing::MakeTestPdf(3, "Vedtak");
};

TEST_F(SimulatorPrintTest, AcceptsLettersOfAJobThenCountsDuplicatesPerLetter) {
  auto first = Answers(
      PostJob({Letter("m-1", pdf_, 0), Letter("m-2", pdf_, 1)}, {pdf_, pdf_}));
  EXPECT_EQ(first["m-1"]["status"], "RECEIVED");
  EXPECT_EQ(first["m-2"]["status"], "RECEIVED");
  // m-2 again, in another job, beside a new letter.
  auto again = Answers(
      PostJob({Letter("m-3", pdf_, 0), Letter("m-2", pdf_, 1)}, {pdf_, pdf_}));
  EXPECT_EQ(again["m-3"]["status"], "RECEIVED");
  EXPECT_EQ(again["m-2"]["status"], "DUPLICATE");
  json counts = Deliveries()["print"];
  EXPECT_EQ(counts["m-1"], json::parse(R"({"accepted": 1, "duplicates": 0})"));
  EXPECT_EQ(counts["m-2"], json::parse(R"({"accepted": 1, "duplicates": 1})"));
}

TEST_F(SimulatorPrintTest, RejectsEachBadLetterOnItsOwn) {
  auto reject = [&](json letter, const std::string& pdf,
                    const std::string& code) {
    auto answers =
        Answers(PostJob({Letter("good", pdf_, 0), letter}, {pdf_, pdf}));
    EXPECT_EQ(answers["bad"]["status"], "REJECTED") << code;
    EXPECT_EQ(answers["bad"]["error"]["code"], code);
    EXPECT_NE(answers["good"]["status"], "REJECTED");
  };
  json bad_colour = Letter("bad", pdf_, 1);
  bad_colour["colour"] = "SEPIA";
  reject(bad_colour, pdf_, "INVALID_LETTER");
  json no_address = Letter("bad", pdf_, 1);
  no_address["recipient"].erase("address_lines");
  reject(no_address, pdf_, "NO_ADDRESS");
  reject(Letter("bad", pdf_, 1), pdf_ + "\n%changed", "CHECKSUM_MISMATCH");
  json text = Letter("bad", "hello", 1);
  reject(text, "hello", "NOT_A_PDF");
  json pages = Letter("bad", pdf_, 1);
  pages["documents"][0]["pages"] = 2;
  reject(pages, pdf_, "PAGE_COUNT_MISMATCH");
  json sheets = Letter("bad", pdf_, 1);
  sheets["sheets"] = 3;  // Duplex: 3 pages are 2 sheets.
  reject(sheets, pdf_, "PAGE_COUNT_MISMATCH");
  std::string letter_size = pdf_;
  for (size_t at = letter_size.find("595 842"); at != std::string::npos;
       at = letter_size.find("595 842", at)) {
    letter_size.replace(at, 7, "612 792");
  }
  reject(Letter("bad", letter_size, 1), letter_size, "NOT_A4");
  EXPECT_EQ(Deliveries()["print"].count("bad"), 0u);
}

TEST_F(SimulatorPrintTest, RefusesMalformedJobs) {
  httplib::MultipartFormDataItems no_letters = {
      {"manifest", R"({"job_id": "j", "letters": []})", "",
       "application/json"}};
  auto response = client_->Post("/print/v1/jobs", no_letters);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_THAT(response->body, HasSubstr("INVALID_MANIFEST"));
  response = client_->Post("/print/v1/jobs", "{}", "application/json");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 415);
  EXPECT_TRUE(Deliveries()["print"].empty());
}

TEST_F(SimulatorPrintTest, EventsReceivedThenPostedThenReturned) {
  Answers(PostJob({Letter("m-1", pdf_)}, {pdf_}));
  json events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "RECEIVED");
  EXPECT_EQ(events[0]["message_id"], "m-1");
  EXPECT_EQ(events[0]["time_ms"], kNow);

  clock_.Advance(2000);  // The default posting delay.
  events = Events();
  ASSERT_EQ(events.size(), 2u);  // RECEIVED is not acknowledged yet.
  EXPECT_EQ(events[1]["type"], "POSTED");
  EXPECT_EQ(events[1]["time_ms"], kNow + 2000);

  auto ack = client_->Post(
      "/print/v1/events/ack",
      json{{"event_ids", {events[0]["id"], events[1]["id"]}}}.dump(),
      "application/json");
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, 204);
  EXPECT_TRUE(Events().empty());

  auto returned = client_->Post(
      "/sim/v1/print/events",
      R"({"message_id": "m-1", "type": "RETURNED", "reason": "moved"})",
      "application/json");
  ASSERT_TRUE(returned);
  EXPECT_EQ(returned->status, 204);
  events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "RETURNED");
  EXPECT_EQ(events[0]["reason"], "moved");

  auto unknown = client_->Post("/sim/v1/print/events",
                               R"({"message_id": "never", "type": "FAILED"})",
                               "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

TEST_F(SimulatorPrintTest, PostingDelayIsSettable) {
  auto set = client_->Post("/sim/v1/print/settings",
                           R"({"posted_after_ms": 0})", "application/json");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 204);
  Answers(PostJob({Letter("m-1", pdf_)}, {pdf_}));
  json events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["type"], "POSTED");
}

TEST_F(SimulatorPrintTest, EventFeedHasItsOwnFaults) {
  EXPECT_EQ(SetFault({{"endpoint", "print-events"}, {"status", 503}}), 204);
  auto response = client_->Get("/print/v1/events");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  // Jobs are not affected.
  auto answers = Answers(PostJob({Letter("m-1", pdf_)}, {pdf_}));
  EXPECT_EQ(answers["m-1"]["status"], "RECEIVED");
}

TEST(StartSimulatorTest, RefusesUnusableSettings) {
  SimulatorOptions no_cert = Options();
  no_cert.cert_file = "certs-dev/none.pem";
  EXPECT_THAT(StartSimulator(no_cert),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cert")));
  SimulatorOptions no_sender = Options();
  no_sender.sender_cert_file = "certs-dev/none.pem";
  EXPECT_THAT(StartSimulator(no_sender),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("sender certificate")));
  SimulatorOptions no_threads = Options();
  no_threads.threads = 0;
  EXPECT_THAT(
      StartSimulator(no_threads),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threads")));
  SimulatorOptions wrong_key = Options();
  wrong_key.key_file = "certs-dev/ca.key";
  EXPECT_THAT(StartSimulator(wrong_key),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("TLS")));

  auto first = StartSimulator(Options());
  ASSERT_THAT(first, IsOk());
  SimulatorOptions same_port = Options();
  same_port.port = (*first)->port();
  EXPECT_THAT(StartSimulator(same_port),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("bind")));
  (*first)->Stop();
  (*first)->Stop();  // Idempotent.
}

}  // namespace
}  // namespace utpost::sim
