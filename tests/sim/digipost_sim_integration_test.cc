// The simulated Digipost as a client that is not Utpost's adapter sees it:
// requests signed here by hand, responses verified here by hand.
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/digipost_schema.h"
#include "sim/persons.h"
#include "sim/simulator.h"
#include "tests/sim/signing.h"

namespace utpost::sim {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::utpost::sim::testing::Base64Sha256;
using ::utpost::sim::testing::SignWith;
using ::utpost::testing::IsOk;

// 2027-01-15T08:00:00Z.
constexpr int64_t kNow = 1'800'000'000'000;
constexpr char kDate[] = "Fri, 15 Jan 2027 08:00:00 GMT";
constexpr char kV8[] = "application/vnd.digipost-v8+xml";
constexpr char kPerson[] = "15838210012";  // Has a Digipost mailbox.
constexpr char kDocument[] = "0b2c7d9e-1111-4222-9333-444455556666";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// True when `response` to a request for `path` carries a valid Digipost
// signature by certs-dev/digipost-provider.pem: status, path, date and
// (with a body) the body's digest.
bool SignedByDigipost(const httplib::Response& response,
                      const std::string& path) {
  if (!response.has_header("X-Digipost-Signature") ||
      !response.has_header("Date")) {
    return false;
  }
  std::string text =
      absl::StrCat(response.status, "\n", path, "\n",
                   "date: ", response.get_header_value("Date"), "\n");
  if (!response.body.empty()) {
    if (response.get_header_value("X-Content-SHA256") !=
        Base64Sha256(response.body)) {
      return false;
    }
    absl::StrAppend(&text, "x-content-sha256: ",
                    response.get_header_value("X-Content-SHA256"), "\n");
  }
  std::string signature;
  if (!absl::Base64Unescape(response.get_header_value("X-Digipost-Signature"),
                            &signature)) {
    return false;
  }
  std::FILE* file = std::fopen("certs-dev/digipost-provider.pem", "rb");
  if (file == nullptr) return false;
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (cert == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr,
                           X509_get0_pubkey(cert)) == 1 &&
      EVP_DigestVerify(
          ctx, reinterpret_cast<const unsigned char*>(signature.data()),
          signature.size(), reinterpret_cast<const unsigned char*>(text.data()),
          text.size()) == 1;
  EVP_MD_CTX_free(ctx);
  X509_free(cert);
  return ok;
}

std::string MessageXml(const std::string& message_id,
                       const std::string& document_part) {
  return absl::StrCat(
      "<?xml version=\"1.0\"?>\n<message "
      "xmlns=\"http://api.digipost.no/schema/v8\">"
      "<message-id>",
      message_id,
      "</message-id><sender-id>123456</sender-id><recipient>"
      "<personal-identification-number>",
      kPerson,
      "</personal-identification-number></recipient><primary-document>",
      document_part, "</primary-document></message>");
}

std::string ValidDocument() {
  return absl::StrCat("<uuid>", kDocument,
                      "</uuid><subject>Brev</subject><file-type>pdf"
                      "</file-type>");
}

class DigipostSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimulatorOptions options;
    options.port = 0;
    options.cert_file = "certs-dev/server.pem";
    options.key_file = "certs-dev/server.key";
    options.sender_cert_file = "certs-dev/sender.pem";
    options.digipost_sender_id = "123456";
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

  // The Java client's request headers, signed here.
  httplib::Headers SignedHeaders(const std::string& method,
                                 const std::string& path,
                                 const std::string& query,
                                 const std::string& body,
                                 const std::string& accept = kV8) {
    std::string canonical =
        absl::StrCat(method, "\n", path, "\n", "date: ", kDate, "\n");
    httplib::Headers headers = {{"Date", kDate},
                                {"X-Digipost-UserId", "123456"}};
    if (!body.empty()) {
      absl::StrAppend(&canonical, "x-content-sha256: ", Base64Sha256(body),
                      "\n");
      headers.emplace("X-Content-SHA256", Base64Sha256(body));
    }
    absl::StrAppend(&canonical, "x-digipost-userid: 123456\n", query, "\n");
    headers.emplace("X-Digipost-Signature",
                    SignWith("certs-dev/sender.key", canonical));
    if (!accept.empty()) headers.emplace("Accept", accept);
    return headers;
  }

  httplib::Result Send(const std::string& message_xml,
                       const std::string& accept = kV8) {
    std::string body = absl::StrCat(
        "--B\r\nContent-Type: application/vnd.digipost-v8+xml\r\n"
        "Content-Disposition: attachment; filename=\"message\"\r\n\r\n",
        message_xml,
        "\r\n--B\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; filename=\"",
        kDocument, "\"\r\n\r\n%PDF-1.7\n%%EOF\n\r\n--B--\r\n");
    return client_->Post("/messages",
                         SignedHeaders("POST", "/messages", "", body, accept),
                         body, "multipart/vnd.digipost-v8+xml; boundary=B");
  }

  httplib::Result Events(const std::string& query) {
    std::string lower = query;
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    return client_->Get("/documents/events?" + query,
                        SignedHeaders("GET", "/documents/events", lower, ""));
  }

  FakeClock clock_{kNow};
  std::unique_ptr<Simulator> simulator_;
  std::unique_ptr<httplib::SSLClient> client_;
};

TEST_F(DigipostSimTest, EntryPointPublishesItsCertificateAndLinks) {
  auto response = client_->Get("/", SignedHeaders("GET", "/", "", ""));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(response->get_header_value("Content-Type"), kV8);
  EXPECT_THAT(ValidateDigipostXml(response->body), IsOk());
  const std::string base =
      absl::StrCat("https://127.0.0.1:", simulator_->port());
  EXPECT_THAT(
      response->body,
      AllOf(HasSubstr("<link rel=\"" + base +
                      "/relations/create_message\" uri=\"" + base +
                      "/messages\""),
            HasSubstr("<link rel=\"" + base +
                      "/relations/document_events\" uri=\"" + base +
                      "/documents/events\""),
            HasSubstr(
                ReadFile("certs-dev/digipost-provider.pem").substr(0, 80))));
  EXPECT_TRUE(SignedByDigipost(*response, "/"));
}

TEST_F(DigipostSimTest, EveryAnswerIsSignedRefusalsAndFaultsIncluded) {
  auto delivered = Send(MessageXml("m-1", ValidDocument()));
  ASSERT_TRUE(delivered);
  EXPECT_EQ(delivered->status, 200) << delivered->body;
  EXPECT_TRUE(SignedByDigipost(*delivered, "/messages"));

  auto unsigned_request = client_->Post("/messages", "x", "text/plain");
  ASSERT_TRUE(unsigned_request);
  EXPECT_EQ(unsigned_request->status, 403);
  EXPECT_TRUE(SignedByDigipost(*unsigned_request, "/messages"));

  auto fault = client_->Post("/sim/v1/faults",
                             R"({"endpoint": "digipost", "status": 503})",
                             "application/json");
  ASSERT_TRUE(fault);
  ASSERT_EQ(fault->status, 204);
  auto failed = Send(MessageXml("m-2", ValidDocument()));
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 503);
  EXPECT_THAT(ValidateDigipostXml(failed->body), IsOk());
  EXPECT_TRUE(SignedByDigipost(*failed, "/messages"));
}

TEST_F(DigipostSimTest, RefusesARequestThatDoesNotAcceptV8) {
  auto response = Send(MessageXml("m-1", ValidDocument()), "application/xml");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 406);
  EXPECT_THAT(response->body, HasSubstr("<error-type>CLIENT_TECHNICAL"));
  auto none = Send(MessageXml("m-1", ValidDocument()), "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 406);
}

TEST_F(DigipostSimTest, RefusesAMessageThePublishedSchemaRefuses) {
  struct Case {
    const char* what;
    std::string document;
  };
  const Case cases[] = {
      {"subject before uuid",
       absl::StrCat("<subject>Brev</subject><uuid>", kDocument,
                    "</uuid><file-type>pdf</file-type>")},
      {"upper-case uuid",
       "<uuid>0B2C7D9E-1111-4222-9333-444455556666</uuid>"
       "<file-type>pdf</file-type>"},
      {"no file-type", absl::StrCat("<uuid>", kDocument, "</uuid>")},
      {"unknown authentication level",
       absl::StrCat("<uuid>", kDocument,
                    "</uuid><file-type>pdf</file-type>"
                    "<authentication-level>BANKID</authentication-level>")},
      {"subject over 255 characters",
       absl::StrCat("<uuid>", kDocument, "</uuid><subject>",
                    std::string(256, 'x'),
                    "</subject><file-type>pdf</file-type>")},
  };
  for (const Case& c : cases) {
    auto response = Send(MessageXml("m-bad", c.document));
    ASSERT_TRUE(response) << c.what;
    EXPECT_EQ(response->status, 400) << c.what;
    EXPECT_THAT(response->body,
                AllOf(HasSubstr("INVALID_MESSAGE"), HasSubstr("api_v8.xsd")))
        << c.what;
  }
  // A sender-id must be a number (xsd:long).
  std::string xml = MessageXml("m-bad", ValidDocument());
  xml.replace(xml.find("123456</sender-id>"), 6, "abc");
  auto bad_sender = Send(xml);
  ASSERT_TRUE(bad_sender);
  EXPECT_EQ(bad_sender->status, 400);
  EXPECT_THAT(bad_sender->body, Not(HasSubstr(kPerson)));
}

TEST_F(DigipostSimTest, EventFeedAnswersInThePublishedShape) {
  auto delivered = Send(MessageXml("m-1", ValidDocument()));
  ASSERT_TRUE(delivered);
  ASSERT_EQ(delivered->status, 200) << delivered->body;
  auto scheduled = client_->Post("/sim/v1/events",
                                 R"({"message_id": "m-1", "type": "OPENED"})",
                                 "application/json");
  ASSERT_TRUE(scheduled);
  ASSERT_EQ(scheduled->status, 204);

  auto page = Events(
      "from=2027-01-14T08%3A00%3A00.000%2B00%3A00&to=2027-01-15T08%3A01%3A00."
      "000%2B01%3A00&offset=0&maxResults=10");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200) << page->body;
  EXPECT_THAT(ValidateDigipostXml(page->body), IsOk()) << page->body;
  EXPECT_THAT(page->body,
              HasSubstr(absl::StrCat(
                  "<event uuid=\"", kDocument,
                  "\" type=\"OPENED\" created=\"2027-01-15T08:00:00.000Z\" "
                  "document-created=\"2027-01-15T08:00:00.000Z\"/>")));
  EXPECT_TRUE(SignedByDigipost(*page, "/documents/events"));
}

TEST_F(DigipostSimTest, EventQueryTakesTheJavaClientsTimeFormatOnly) {
  for (const char* query : {
           "from=2027-01-14T08%3A00%3A00Z&to=2027-01-15T08%3A01%3A00.000Z"
           "&offset=0&maxResults=10",
           "to=2027-01-15T08%3A01%3A00.000%2B00%3A00&offset=0&maxResults=10",
           "from=2027-01-16T08%3A00%3A00.000%2B00%3A00&to=2027-01-15T08%3A01"
           "%3A00.000%2B00%3A00&offset=0&maxResults=10",
           "from=2027-01-14T08%3A00%3A00.000%2B00%3A00&to=2027-01-15T08%3A01"
           "%3A00.000%2B00%3A00&offset=-1&maxResults=10",
       }) {
    auto page = Events(query);
    ASSERT_TRUE(page) << query;
    EXPECT_EQ(page->status, 400) << query;
    EXPECT_THAT(page->body, HasSubstr("INVALID_QUERY")) << query;
  }
}

}  // namespace
}  // namespace utpost::sim
