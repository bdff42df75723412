// The DPI channel and the registry over HTTPS against utpost-sim, started in
// this process: the simulator decrypts and checks what the adapter sends and
// signs the receipts the adapter verifies.
#include <zip.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/channel.h"
#include "adapters/dpi/asice.h"
#include "adapters/dpi/dpi_channel.h"
#include "adapters/dpi/dpi_crypto.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/http/digest.h"
#include "adapters/http/token_source.h"
#include "adapters/registry/krr_registry.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sim/persons.h"
#include "sim/simulator.h"
#include "tests/testing/sim_suite.h"

namespace utpost::adapters {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using Kind = ProviderEvent::Kind;

constexpr char kPdf[] = "%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
constexpr char kEboksPerson[] = "30925910089";
// The simulator refuses this token, and accepts any other.
constexpr char kRefusedToken[] = "revoked-token";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Der(const std::string& pem_file) {
  absl::StatusOr<std::string> der = CertificateToDer(ReadFile(pem_file));
  EXPECT_THAT(der, IsOk());
  return der.ok() ? *der : "";
}

// Changes each request on its way, as a faulty network or a broken
// implementation would.
class TamperingHttpClient final : public HttpClient {
 public:
  TamperingHttpClient(HttpClient* inner,
                      std::function<void(HttpRequest*)> tamper)
      : inner_(inner), tamper_(std::move(tamper)) {}
  absl::StatusOr<HttpResponse> Do(const HttpRequest& request) override {
    HttpRequest changed = request;
    tamper_(&changed);
    return inner_->Do(changed);
  }

 private:
  HttpClient* const inner_;
  const std::function<void(HttpRequest*)> tamper_;
};

// Flips one byte `offset` bytes into the body of the multipart part `name`.
void FlipInPart(HttpRequest* request, const std::string& name, size_t offset) {
  size_t part = request->body.find(absl::StrCat("name=\"", name, "\""));
  ASSERT_NE(part, std::string::npos);
  size_t body = request->body.find("\r\n\r\n", part) + 4;
  request->body[body + offset] ^= 0x01;
}

// Hands out the refused token until told, then a good one.
class RotatingTokens final : public TokenSource {
 public:
  absl::StatusOr<std::string> Token(const std::string&) override {
    absl::MutexLock lock(&mu_);
    return refused_ ? "good-token" : kRefusedToken;
  }
  void Invalidate(const std::string&, const std::string& token) override {
    absl::MutexLock lock(&mu_);
    if (token == kRefusedToken) refused_ = true;
    ++invalidations_;
  }
  int invalidations() {
    absl::MutexLock lock(&mu_);
    return invalidations_;
  }

 private:
  absl::Mutex mu_;
  bool refused_ ABSL_GUARDED_BY(mu_) = false;
  int invalidations_ ABSL_GUARDED_BY(mu_) = 0;
};

class DpiSimTest : public ::utpost::testing::SimulatorSuite {
 protected:
  static void SetUpTestSuite() {
    sim::SimulatorOptions options = DefaultOptions();
    options.dpi_token_check = [](const std::string& token,
                                 const std::string& scope) {
      return token != kRefusedToken && (scope == "digdir:dpi:message.out" ||
                                        scope == "digitalpostinnbygger:send");
    };
    StartSuite(std::move(options));
  }

  static void Receipts(const nlohmann::json& command) {
    ASSERT_EQ(Control("POST", "/sim/v1/dpi/receipts", command.dump()).status,
              204);
  }

  // The simulator's DPI counts only.
  static nlohmann::json Deliveries() {
    return SimulatorSuite::Deliveries()["dpi"];
  }

  std::unique_ptr<Channel> Dpi(
      HttpClient* http = nullptr, TokenSource* tokens = nullptr,
      const std::string& key = "certs-dev/sender.key",
      const std::string& cert = "certs-dev/sender.pem") {
    DpiOptions options;
    options.base_url = BaseUrl();
    options.signing_key_file = key;
    options.certificate_file = cert;
    options.provider_certificate_file = "certs-dev/dpi-provider.pem";
    options.provider_ca_file = "certs-dev/ca.pem";
    auto channel = NewDpiChannel(options, http != nullptr ? http : http_,
                                 tokens != nullptr ? tokens : &tokens_);
    EXPECT_THAT(channel, IsOk());
    return channel.ok() ? *std::move(channel) : nullptr;
  }

  // A letter to `person` addressed as the registry says.
  static OutgoingLetter Letter(const std::string& message_id,
                               const std::string& person = kEboksPerson) {
    auto registry = Registry();
    auto contacts = registry->LookupPersons({person});
    EXPECT_THAT(contacts, IsOk());
    OutgoingLetter letter;
    letter.message_id = message_id;
    letter.tenant = "964338531";
    letter.person_number = person;
    letter.title = "Vedtak om eiendomsskatt";
    letter.documents = {{"vedtak.pdf", "application/pdf", kPdf, ""},
                        {"vedlegg.pdf", "application/pdf", kPdf, ""}};
    if (contacts.ok() && !contacts->empty()) {
      letter.mailbox_address = (*contacts)[0].mailbox_address;
      letter.mailbox_provider = (*contacts)[0].mailbox_provider;
      letter.mailbox_certificate = (*contacts)[0].mailbox_certificate;
    }
    return letter;
  }

  static std::unique_ptr<adapters::Registry> Registry() {
    KrrRegistryOptions options;
    options.base_url = BaseUrl();
    return NewKrrRegistry(std::move(options), http_);
  }

  static std::vector<ProviderEvent> Fetch(Channel* channel, int max = 10) {
    absl::StatusOr<std::vector<ProviderEvent>> events =
        channel->FetchEvents(max);
    EXPECT_THAT(events, IsOk());
    return events.ok() ? *events : std::vector<ProviderEvent>{};
  }

  StaticTokenSource tokens_{"token-from-maskinporten"};
};

TEST_F(DpiSimTest, RegistryGivesEboksPersonsTheirMailboxCertificate) {
  auto registry = Registry();
  auto contacts = registry->LookupPersons({kEboksPerson, "01817010055"});
  ASSERT_THAT(contacts, IsOk());
  ASSERT_THAT(*contacts, SizeIs(2));
  EXPECT_EQ((*contacts)[0].mailbox_provider, "922020175");
  EXPECT_EQ((*contacts)[0].mailbox_certificate,
            Der("certs-dev/eboks-mailbox.pem"));
  EXPECT_EQ((*contacts)[1].mailbox_certificate, "");
}

TEST_F(DpiSimTest, LetterIsAcceptedAndReceiptsComeBackDeliveredThenRead) {
  const std::string id = "8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a01";
  auto channel = Dpi();
  absl::StatusOr<SendResult> sent = channel->Send(Letter(id));
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->outcome, SendResult::Outcome::kAccepted);
  EXPECT_EQ(Deliveries()[id]["accepted"], 1);

  std::vector<ProviderEvent> events = Fetch(channel.get());
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].kind, Kind::kDelivered);
  EXPECT_EQ(events[0].message_id, id);
  EXPECT_EQ(events[0].provider, "922020175");
  // The evidence is the provider's JWS, which anyone holding the
  // provider's certificate can check.
  auto verifier =
      DpiReceiptVerifier::FromFiles("", "certs-dev/dpi-provider.pem");
  absl::StatusOr<nlohmann::json> receipt =
      (*verifier)->Verify(events[0].evidence);
  ASSERT_THAT(receipt, IsOk());
  EXPECT_EQ(
      (*receipt)["standardBusinessDocument"]["standardBusinessDocumentHeader"]
                ["documentIdentification"]["type"],
      "leveringskvittering");

  // Until confirmed, the queue gives it again.
  EXPECT_EQ(Fetch(channel.get())[0].event_id, events[0].event_id);
  ASSERT_THAT(channel->ConfirmEvents({events[0].event_id}), IsOk());
  EXPECT_THAT(Fetch(channel.get()), SizeIs(0));

  // The recipient reads it.
  Receipts({{"message_id", id}});
  events = Fetch(channel.get());
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].kind, Kind::kRead);
  EXPECT_EQ(events[0].message_id, id);
  ASSERT_THAT(channel->ConfirmEvents({events[0].event_id}), IsOk());
  // Confirming again is harmless.
  EXPECT_THAT(channel->ConfirmEvents({events[0].event_id}), IsOk());
  EXPECT_THAT(Fetch(channel.get()), SizeIs(0));
}

TEST_F(DpiSimTest, RecipientWhoReadsAtOnceGivesBothReceiptsInOrder) {
  Receipts({{"read_after_ms", 0}});
  const std::string id = "8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a02";
  auto channel = Dpi();
  ASSERT_THAT(channel->Send(Letter(id)), IsOk());
  std::vector<ProviderEvent> events = Fetch(channel.get());
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].kind, Kind::kDelivered);
  EXPECT_EQ(events[1].kind, Kind::kRead);
}

TEST_F(DpiSimTest, RepeatedSendIsADuplicateAndDeliveredOnce) {
  const std::string id = "8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a03";
  auto channel = Dpi();
  ASSERT_THAT(channel->Send(Letter(id)), IsOk());
  absl::StatusOr<SendResult> again = channel->Send(Letter(id));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->outcome, SendResult::Outcome::kDuplicate);
  EXPECT_EQ(Deliveries()[id]["accepted"], 1);
  EXPECT_EQ(Deliveries()[id]["duplicates"], 1);
  EXPECT_THAT(Fetch(channel.get()), SizeIs(1));
}

TEST_F(DpiSimTest, PackageForAnotherCertificateIsRefusedAsTheLetters) {
  OutgoingLetter letter = Letter("8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a04");
  letter.mailbox_certificate = Der("certs-dev/stranger.pem");
  EXPECT_THAT(Dpi()->Send(letter),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("UDEKRYPTERBAR_DOKUMENTPAKKE")));
  EXPECT_TRUE(Deliveries().empty());
}

TEST_F(DpiSimTest, TamperedBusinessMessageIsASetUpError) {
  // One character of the JWS payload changed in flight (still valid
  // base64url): the signature no longer covers it.
  TamperingHttpClient tampering(http_, [](HttpRequest* r) {
    if (r->method != "POST") return;
    size_t part = r->body.find("name=\"forretningsmelding\"");
    size_t payload = r->body.find('.', part) + 20;
    r->body[payload] = r->body[payload] == 'A' ? 'B' : 'A';
  });
  EXPECT_THAT(
      Dpi(&tampering)->Send(Letter("8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a05")),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("UGYLDIG_SIGNATUR")));
  EXPECT_TRUE(Deliveries().empty());
}

TEST_F(DpiSimTest, BusinessCertificateOfAnotherCaIsASetUpError) {
  EXPECT_THAT(
      Dpi(nullptr, nullptr, "certs-dev/stranger.key", "certs-dev/stranger.pem")
          ->Send(Letter("8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a06")),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("UGYLDIG_SIGNATUR")));
}

TEST_F(DpiSimTest, PackageNotMatchingItsDigestIsASetUpError) {
  TamperingHttpClient tampering(http_, [](HttpRequest* r) {
    if (r->method == "POST") FlipInPart(r, "dokumentpakke", 200);
  });
  EXPECT_THAT(
      Dpi(&tampering)->Send(Letter("8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a07")),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("UGYLDIG_FINGERAVTRYKK")));
  EXPECT_TRUE(Deliveries().empty());
}

TEST_F(DpiSimTest, RecipientWithoutAnEboksMailboxIsRefused) {
  // A Digipost person, with the e-Boks certificate: the provider does not
  // know the recipient.
  OutgoingLetter letter =
      Letter("8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a08", "01817010055");
  letter.mailbox_certificate = Der("certs-dev/eboks-mailbox.pem");
  EXPECT_THAT(Dpi()->Send(letter), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("UKJENT_MOTTAKER")));
}

TEST_F(DpiSimTest, RefusedTokenIsReplacedOnce) {
  RotatingTokens rotating;
  auto channel = Dpi(nullptr, &rotating);
  EXPECT_THAT(channel->Send(Letter("8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a09")),
              IsOk());
  EXPECT_EQ(rotating.invalidations(), 1);

  StaticTokenSource revoked(kRefusedToken);
  EXPECT_THAT(Dpi(nullptr, &revoked)
                  ->Send(Letter("8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a0a")),
              StatusIs(absl::StatusCode::kUnauthenticated, _));
  EXPECT_THAT(Dpi(nullptr, &revoked)->FetchEvents(10),
              StatusIs(absl::StatusCode::kUnauthenticated, _));
}

TEST_F(DpiSimTest, ServerErrorsAreTransient) {
  nlohmann::json fault = {{"endpoint", "dpi"}, {"status", 503}, {"count", 1}};
  ASSERT_EQ(Control("POST", "/sim/v1/faults", fault.dump()).status, 204);
  const std::string id = "8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a0b";
  auto channel = Dpi();
  EXPECT_THAT(channel->Send(Letter(id)),
              StatusIs(absl::StatusCode::kUnavailable, _));
  EXPECT_THAT(channel->Send(Letter(id)), IsOk());
  EXPECT_EQ(Deliveries()[id]["accepted"], 1);
}

TEST_F(DpiSimTest, TimeoutIsTransient) {
  // Answered (with a refusal, so that nothing arrives behind the test's
  // back) only after the client gave up.
  nlohmann::json fault = {
      {"endpoint", "dpi"}, {"status", 503}, {"count", 1}, {"delay_ms", 1500}};
  ASSERT_EQ(Control("POST", "/sim/v1/faults", fault.dump()).status, 204);
  CurlHttpClientOptions options;
  options.ca_file = "certs-dev/ca.pem";
  options.timeout_ms = 500;
  auto impatient = NewCurlHttpClient(options);
  ASSERT_THAT(impatient, IsOk());
  EXPECT_THAT(Dpi(impatient->get())
                  ->Send(Letter("8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a11")),
              StatusIs(absl::StatusCode::kDeadlineExceeded, _));
}

TEST_F(DpiSimTest, ForgedReceiptsAreNotEvents) {
  const std::string id = "8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a0c";
  auto channel = Dpi();
  ASSERT_THAT(channel->Send(Letter(id)), IsOk());
  Receipts({{"message_id", id}, {"tamper", "signature"}});
  Receipts({{"message_id", id}, {"tamper", "signer"}});
  Receipts({{"message_id", id},
            {"receipt", "feil"},
            {"feiltype", "KLIENT"},
            {"detaljer", "mailbox closed"}});
  std::vector<ProviderEvent> events = Fetch(channel.get());
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].kind, Kind::kDelivered);
  EXPECT_EQ(events[1].kind, Kind::kFailed);
  EXPECT_EQ(events[1].reason, "KLIENT: mailbox closed");
  // The forged ones stay at the provider, and stay out of later fetches.
  EXPECT_THAT(Fetch(channel.get()), SizeIs(2));
}

TEST_F(DpiSimTest, EveryReceiptTypeBecomesItsEvent) {
  const std::string id = "8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a10";
  auto channel = Dpi();
  ASSERT_THAT(channel->Send(Letter(id)), IsOk());
  Receipts({{"message_id", id},
            {"receipt", "varslingfeiletkvittering"},
            {"varslingskanal", "sms"},
            {"beskrivelse", "sms not delivered"}});
  Receipts({{"message_id", id}, {"receipt", "mottakskvittering"}});
  Receipts({{"message_id", id}, {"receipt", "returpostkvittering"}});
  Receipts({{"message_id", id},
            {"receipt", "feil"},
            {"feiltype", "SERVER"},
            {"detaljer", "internal"}});
  std::vector<ProviderEvent> events = Fetch(channel.get());
  ASSERT_THAT(events, SizeIs(5));
  EXPECT_EQ(events[0].kind, Kind::kDelivered);
  EXPECT_EQ(events[1].kind, Kind::kNotificationFailed);
  EXPECT_EQ(events[1].reason, "sms: sms not delivered");
  EXPECT_EQ(events[2].kind, Kind::kPrintReceived);
  EXPECT_EQ(events[3].kind, Kind::kReturned);
  // The published returpostkvittering has no words of its own.
  EXPECT_EQ(events[3].reason, "");
  EXPECT_EQ(events[4].kind, Kind::kFailed);
  EXPECT_EQ(events[4].reason, "SERVER: internal");
  for (const ProviderEvent& e : events) EXPECT_EQ(e.message_id, id);
  // At most `max` at a time, oldest first.
  std::vector<ProviderEvent> two = Fetch(channel.get(), 2);
  ASSERT_THAT(two, SizeIs(2));
  EXPECT_EQ(two[0].event_id, events[0].event_id);
}

TEST_F(DpiSimTest, DuplicateLateAndOutOfOrderReceipts) {
  auto channel = Dpi();
  Receipts({{"duplicate", true}});
  const std::string twice = "8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a0d";
  ASSERT_THAT(channel->Send(Letter(twice)), IsOk());
  std::vector<ProviderEvent> events = Fetch(channel.get());
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].event_id, events[1].event_id);
  ASSERT_THAT(channel->ConfirmEvents({events[0].event_id}), IsOk());
  EXPECT_THAT(Fetch(channel.get()), SizeIs(0));

  Receipts({{"duplicate", false}, {"out_of_order", true}});
  const std::string reordered = "8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a0e";
  ASSERT_THAT(channel->Send(Letter(reordered)), IsOk());
  absl::SleepFor(absl::Milliseconds(5));
  events = Fetch(channel.get());
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].kind, Kind::kRead);
  EXPECT_EQ(events[1].kind, Kind::kDelivered);
  std::vector<std::string> ids = {events[0].event_id, events[1].event_id};
  ASSERT_THAT(channel->ConfirmEvents(ids), IsOk());

  Receipts({{"out_of_order", false}, {"late_ms", 60000}});
  ASSERT_THAT(channel->Send(Letter("8f14e45f-ceea-4e7a-9c1b-2f1c2b0d5a0f")),
              IsOk());
  EXPECT_THAT(Fetch(channel.get()), SizeIs(0));  // Not yet.
}

// ---- Packages made by hand, to see the simulator refuse bad ones ---------

struct Entry {
  std::string name;
  std::string content;
};

// A zip of `entries` in order, the first stored, the rest deflated.
std::string Zip(const std::vector<Entry>& entries) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* zip = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  zip_error_fini(&error);
  zip_source_keep(buffer);
  for (size_t i = 0; i < entries.size(); ++i) {
    zip_source_t* source = zip_source_buffer(zip, entries[i].content.data(),
                                             entries[i].content.size(), 0);
    zip_int64_t index = zip_file_add(zip, entries[i].name.c_str(), source, 0);
    zip_set_file_compression(zip, index, i == 0 ? ZIP_CM_STORE : ZIP_CM_DEFLATE,
                             0);
  }
  zip_close(zip);
  zip_stat_t stat;
  zip_source_stat(buffer, &stat);
  std::string out(stat.size, '\0');
  zip_source_open(buffer);
  zip_source_read(buffer, out.data(), stat.size);
  zip_source_close(buffer);
  zip_source_free(buffer);
  return out;
}

class DpiPackageTest : public DpiSimTest {
 protected:
  // Sends `zip` as the package of a well-formed business message naming
  // `main_document`, signed with the sender's key.
  static HttpResponse Send(const std::string& zip,
                           const std::string& main_document = "vedtak.pdf") {
    auto signer =
        DpiSigner::FromFiles("certs-dev/sender.key", "certs-dev/sender.pem");
    EXPECT_THAT(signer, IsOk());
    absl::StatusOr<std::string> cms =
        EncryptCms(zip, Der("certs-dev/eboks-mailbox.pem"));
    EXPECT_THAT(cms, IsOk());
    const std::string id = "5d41402a-bc4b-4a76-b971-9d911017c592";
    auto party = [](const std::string& value) {
      return nlohmann::json::array(
          {{{"identifier",
             {{"authority", "iso6523-actorid-upis"}, {"value", value}}}}});
    };
    nlohmann::json sbd = {
        {"standardBusinessDocumentHeader",
         {{"headerVersion", "1.0"},
          {"sender", party("0192:964338531")},
          {"receiver", party(kEboksPerson)},
          {"documentIdentification",
           {{"standard", "urn:test"},
            {"typeVersion", "1.0"},
            {"instanceIdentifier", id},
            {"type", "digital"},
            {"creationDateAndTime", "2026-11-23T10:00:00Z"}}},
          {"businessScope",
           {{"scope",
             {{{"type", "ConversationId"}, {"instanceIdentifier", id}}}}}}}},
        {"digital",
         {{"sikkerhetsnivaa", 3},
          {"hoveddokument", main_document},
          {"tittel", "Vedtak"},
          {"spraak", "NO"},
          {"digitalPostInfo",
           {{"virkningsdato", "2026-11-23"}, {"aapningskvittering", true}}},
          {"dokumentpakkefingeravtrykk",
           {{"digestMethod", "http://www.w3.org/2001/04/xmlenc#sha256"},
            {"digestValue", absl::Base64Escape(Sha256(*cms))}}}}}};
    absl::StatusOr<std::string> jws = (*signer)->SignJws(sbd.dump());
    EXPECT_THAT(jws, IsOk());
    HttpRequest request;
    request.method = "POST";
    request.url = BaseUrl() + "/messages/out";
    request.headers = {{"Content-Type", "multipart/form-data; boundary=XyZ"},
                       {"Authorization", "Bearer t"}};
    request.body = absl::StrCat(
        "--XyZ\r\nContent-Disposition: form-data; "
        "name=\"forretningsmelding\"\r\n\r\n",
        *jws,
        "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"dokumentpakke\"; "
        "filename=\"p.cms\"\r\nContent-Type: application/cms\r\n\r\n",
        *cms, "\r\n--XyZ--\r\n");
    absl::StatusOr<HttpResponse> response = http_->Do(request);
    EXPECT_THAT(response, IsOk());
    return response.ok() ? *response : HttpResponse{};
  }

  static std::string Kode(const HttpResponse& response) {
    nlohmann::json problem =
        nlohmann::json::parse(response.body, nullptr, false);
    return problem.is_object() ? problem.value("kode", "") : "";
  }

  // The files of a good package: the document and the DPI manifest.
  static std::vector<AsicFile> Files() {
    DpiManifest manifest;
    manifest.person_number = kEboksPerson;
    manifest.sender_organisation = "964338531";
    manifest.documents = {{"vedtak.pdf", "application/pdf", "Vedtak"}};
    return {{"vedtak.pdf", "application/pdf", kPdf},
            {"manifest.xml", "application/xml", DpiManifestXml(manifest)}};
  }

  // The container around `files`, with the signature made over `signed`.
  static std::string Container(const std::vector<AsicFile>& files,
                               const std::vector<AsicFile>& signed_files,
                               bool mimetype_first = true) {
    auto signer =
        DpiSigner::FromFiles("certs-dev/sender.key", "certs-dev/sender.pem");
    std::vector<Entry> entries;
    Entry mimetype{"mimetype", kAsicEMimeType};
    if (mimetype_first) entries.push_back(mimetype);
    for (const AsicFile& f : files) entries.push_back({f.name, f.content});
    if (!mimetype_first) entries.push_back(mimetype);
    entries.push_back({"META-INF/manifest.xml", "<manifest/>"});
    entries.push_back(
        {"META-INF/signatures.xml", *SignaturesXml(signed_files, **signer, 0)});
    return Zip(entries);
  }
};

TEST_F(DpiPackageTest, AWellMadePackageIsAccepted) {
  auto signer =
      DpiSigner::FromFiles("certs-dev/sender.key", "certs-dev/sender.pem");
  HttpResponse response = Send(*BuildAsicE(Files(), **signer, 0));
  EXPECT_EQ(response.status, 200) << response.body;
  // The hand-made container too, so the refusals below are about what
  // each one changes.
  ASSERT_EQ(Control("POST", "/sim/v1/reset", "").status, 204);
  response = Send(Container(Files(), Files()));
  EXPECT_EQ(response.status, 200) << response.body;
}

TEST_F(DpiPackageTest, DocumentNotMatchingTheSignedDigestIsRefused) {
  std::vector<AsicFile> changed = Files();
  changed[0].content = "%PDF-1.7 another document";
  HttpResponse response = Send(Container(changed, Files()));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Kode(response), "UGYLDIG_DOKUMENTPAKKE");
  EXPECT_THAT(response.body, HasSubstr("digest of vedtak.pdf"));
}

TEST_F(DpiPackageTest, UnsignedFileIsRefused) {
  std::vector<AsicFile> more = Files();
  more.push_back({"extra.pdf", "application/pdf", kPdf});
  HttpResponse response = Send(Container(more, Files()));
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr("extra.pdf is not signed"));
}

TEST_F(DpiPackageTest, MimetypeNotFirstIsRefused) {
  HttpResponse response = Send(Container(Files(), Files(), false));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Kode(response), "UGYLDIG_DOKUMENTPAKKE");
  EXPECT_THAT(response.body, HasSubstr("mimetype"));
}

TEST_F(DpiPackageTest, ManifestNamingAnotherMainDocumentIsRefused) {
  HttpResponse response = Send(Container(Files(), Files()), "brev.pdf");
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr("hoveddokument"));
}

}  // namespace
}  // namespace utpost::adapters
