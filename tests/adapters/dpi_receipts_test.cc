// DPI receipts judged by the published artefacts, not by the simulator:
// receipts written from the published receipt schemas (fixtures in
// tests/published/dpi/receipts/, proven valid with python3-jsonschema here)
// are signed as the provider would and fed to the channel over a fake HTTP
// client; the listing and marking read are checked against the OpenAPI.
#include "adapters/dpi/dpi_receipts.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/dpi/dpi_channel.h"
#include "adapters/dpi/dpi_crypto.h"
#include "adapters/dpi/dpi_factory.h"
#include "adapters/http/fake_http_client.h"
#include "adapters/http/token_source.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using Kind = ProviderEvent::Kind;

constexpr char kFixtures[] = "tests/published/dpi/receipts/";
constexpr char kConversation[] = "0b6b1f0e-6a3c-4c57-9a43-3f1d2c9e8a10";
constexpr char kPerson[] = "30925910089";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

json Example(const std::string& type) {
  json j =
      json::parse(ReadFile(absl::StrCat(kFixtures, "examples/", type, ".json")),
                  nullptr, false);
  EXPECT_TRUE(j.is_object()) << type;
  return j;
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/utpost-dpirecv-",
                      ::getpid(), "-", name);
}

// Runs the published-schema check on `receipts`; its exit status.
int Validate(const std::vector<json>& receipts, std::string* output) {
  std::vector<std::string> files;
  for (size_t i = 0; i < receipts.size(); ++i) {
    files.push_back(TempPath(absl::StrCat("receipt-", i, ".json")));
    std::ofstream(files.back()) << receipts[i].dump(2);
  }
  std::string out = TempPath("validate.out");
  std::string command =
      absl::StrCat("/usr/bin/python3 ", kFixtures, "validate.py ",
                   absl::StrJoin(files, " "), " > ", out, " 2>&1");
  int rc = std::system(command.c_str());
  *output = ReadFile(out);
  for (const std::string& f : files) std::remove(f.c_str());
  std::remove(out.c_str());
  return rc;
}

std::string PemFileToDer(const std::string& path) {
  absl::StatusOr<std::string> der = CertificateToDer(ReadFile(path));
  EXPECT_THAT(der, IsOk());
  return der.ok() ? *der : "";
}

// A receipt signed outside the adapter: RS256 with the key in `key_file`,
// x5c = the certificate in `cert_file`.
std::string Sign(const std::string& payload,
                 const std::string& key_file = "certs-dev/dpi-provider.key",
                 const std::string& cert_file = "certs-dev/dpi-provider.pem") {
  std::FILE* f = std::fopen(key_file.c_str(), "rb");
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  json header = {{"alg", "RS256"},
                 {"x5c", {absl::Base64Escape(PemFileToDer(cert_file))}}};
  std::string input = absl::StrCat(Base64UrlEncode(header.dump()), ".",
                                   Base64UrlEncode(payload));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len,
                 reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(&sig[0]), &len,
                 reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return absl::StrCat(input, ".", Base64UrlEncode(sig));
}

bool HasPersonNumber(const std::string& text) {
  int run = 0;
  for (char c : text) {
    run = (c >= '0' && c <= '9') ? run + 1 : 0;
    if (run >= 11) return true;
  }
  return false;
}

const std::vector<std::string>& Types() {
  static const auto* types = new std::vector<std::string>{
      "leveringskvittering", "aapningskvittering",  "varslingfeiletkvittering",
      "mottakskvittering",   "returpostkvittering", "feil"};
  return *types;
}

class DpiReceiptsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Channel> Make(FakeHttpClient* http,
                                const std::string& kanal = "utpost-1") {
    DpiOptions options;
    options.base_url = "https://dpi.example";
    options.signing_key_file = "certs-dev/sender.key";
    options.certificate_file = "certs-dev/sender.pem";
    options.provider_certificate_file = "certs-dev/dpi-provider.pem";
    options.provider_ca_file = "certs-dev/ca.pem";
    options.sender_id = "avsender 1";
    options.kanal = kanal;
    options.clock = &clock_;
    auto channel = NewDpiChannel(options, http, &tokens_);
    EXPECT_THAT(channel, IsOk());
    return channel.ok() ? *std::move(channel) : nullptr;
  }

  // A fake provider whose listing answers `list` (204 when empty) and whose
  // read marks answer 200.
  static FakeHttpClient::Handler Queue(const json* list) {
    return [list](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
      if (r.method == "GET") {
        if (list->empty()) return HttpResponse{204, {}, ""};
        return HttpResponse{
            200, {{"Content-Type", "application/json"}}, list->dump()};
      }
      return HttpResponse{200, {}, ""};
    };
  }

  FakeClock clock_{1795425600000};
  StaticTokenSource tokens_{"token"};
};

TEST_F(DpiReceiptsTest, FixturesAreValidAgainstThePublishedSchemas) {
  std::vector<json> receipts;
  for (const std::string& type : Types()) receipts.push_back(Example(type));
  std::string output;
  EXPECT_EQ(Validate(receipts, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("0 errors in 6 receipts"));
  // The check can fail: a receipt without its tidspunkt is refused.
  json broken = Example("leveringskvittering");
  broken["standardBusinessDocument"]["leveringskvittering"].erase("tidspunkt");
  EXPECT_NE(Validate({broken}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("'tidspunkt' is a required property"));
}

TEST_F(DpiReceiptsTest, EveryPublishedReceiptTypeGivesItsEvent) {
  json list = json::array();
  std::vector<std::string> jws;
  for (const std::string& type : Types()) {
    jws.push_back(Sign(Example(type).dump()));
    list.push_back({{"forretningsmelding", jws.back()}});
  }
  FakeHttpClient http(Queue(&list));
  auto channel = Make(&http);
  absl::StatusOr<std::vector<ProviderEvent>> events = channel->FetchEvents(10);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(6));
  const Kind kinds[] = {Kind::kDelivered,          Kind::kRead,
                        Kind::kNotificationFailed, Kind::kPrintReceived,
                        Kind::kReturned,           Kind::kFailed};
  for (size_t i = 0; i < events->size(); ++i) {
    const ProviderEvent& e = (*events)[i];
    SCOPED_TRACE(Types()[i]);
    EXPECT_EQ(e.kind, kinds[i]);
    // The receipt's own instanceIdentifier, as the fixture has it.
    EXPECT_EQ(e.event_id,
              absl::StrCat("3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a0", i + 1));
    EXPECT_EQ(e.message_id, kConversation);
    // The SBDH sender, "0192:922020175".
    EXPECT_EQ(e.provider, "922020175");
    EXPECT_EQ(e.evidence, jws[i]);
  }
  // tidspunkt, with its offset: 2026-11-23T10:00:01.250+01:00.
  EXPECT_EQ((*events)[0].time_ms, 1795424401250);
  EXPECT_EQ((*events)[1].time_ms, 1795437000000);  // 12:30:00Z
  EXPECT_EQ((*events)[2].reason, "sms: Mobilnummeret svarer ikke");
  EXPECT_EQ((*events)[4].reason, "");
  EXPECT_EQ((*events)[5].reason,
            "KLIENT: Dokumentpakken kunne ikke dekrypteres");

  // The listing as the OpenAPI names its parameters.
  std::vector<HttpRequest> requests = http.requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].url,
            "https://dpi.example/messages/in?page_size=10&kanal=utpost-1"
            "&avsenderidentifikator=avsender%201");

  // Marked read, each by its id; nothing deleted.
  std::vector<std::string> ids;
  for (const ProviderEvent& e : *events) ids.push_back(e.event_id);
  ASSERT_THAT(channel->ConfirmEvents(ids), IsOk());
  requests = http.requests();
  ASSERT_THAT(requests, SizeIs(7));
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(requests[i + 1].method, "POST");
    EXPECT_EQ(
        requests[i + 1].url,
        absl::StrCat("https://dpi.example/messages/in/", ids[i], "/read"));
  }
}

TEST_F(DpiReceiptsTest, NoContentMeansNoReceipts) {
  json list = json::array();
  FakeHttpClient http(Queue(&list));
  auto channel = Make(&http, "");
  absl::StatusOr<std::vector<ProviderEvent>> events = channel->FetchEvents(5);
  ASSERT_THAT(events, IsOk());
  EXPECT_THAT(*events, IsEmpty());
  EXPECT_EQ(http.requests()[0].url,
            "https://dpi.example/messages/in?page_size=5"
            "&avsenderidentifikator=avsender%201");
}

TEST_F(DpiReceiptsTest, ReadOfAReceiptAlreadyGoneIsNoError) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{404, {}, R"({"title":"Not Found","status":404})"};
  });
  auto channel = Make(&http);
  EXPECT_THAT(channel->ConfirmEvents({"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a01"}),
              IsOk());
  FakeHttpClient down([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{503, {}, ""};
  });
  auto other = Make(&down);
  EXPECT_THAT(other->ConfirmEvents({"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a01"}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("read")));
  EXPECT_THAT(other->FetchEvents(1),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

TEST_F(DpiReceiptsTest, AKanalTheOpenApiForbidsIsASetUpError) {
  FakeHttpClient http([](const HttpRequest&) {
    return HttpResponse{200, {}, ""};
  });
  DpiOptions options;
  options.base_url = "https://dpi.example";
  options.signing_key_file = "certs-dev/sender.key";
  options.certificate_file = "certs-dev/sender.pem";
  options.provider_ca_file = "certs-dev/ca.pem";
  for (const std::string& kanal : std::vector<std::string>{
           "with space", "særnorsk", std::string(29, 'a'), "a/b"}) {
    options.kanal = kanal;
    EXPECT_THAT(
        NewDpiChannel(options, &http, &tokens_),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dpi.kanal")))
        << kanal;
  }
  options.kanal = std::string(28, 'A');
  EXPECT_THAT(NewDpiChannel(options, &http, &tokens_), IsOk());
  options.receipt_page_size = 0;
  EXPECT_THAT(NewDpiChannel(options, &http, &tokens_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dpi.receipt_page_size")));
}

TEST_F(DpiReceiptsTest, ConfiguredKanalAndPageSizeReachTheListing) {
  json list = json::array();
  FakeHttpClient http(Queue(&list));
  config::v1::Providers providers;
  config::v1::Dpi* dpi = providers.mutable_dpi();
  dpi->set_url("https://dpi.example");
  dpi->set_signing_key_file("certs-dev/sender.key");
  dpi->set_certificate_file("certs-dev/sender.pem");
  dpi->set_provider_certificate_file("certs-dev/dpi-provider.pem");
  dpi->set_kanal("saksystem-7");
  dpi->set_receipt_page_size(3);
  AdapterContext context;
  context.http = &http;
  context.clock = &clock_;
  context.tokens = &tokens_;
  absl::StatusOr<std::unique_ptr<Channel>> channel =
      DpiAdapter().make(providers, context);
  ASSERT_THAT(channel, IsOk());
  ASSERT_THAT((*channel)->FetchEvents(50), IsOk());
  ASSERT_THAT(http.requests(), SizeIs(1));
  EXPECT_EQ(http.requests()[0].url,
            "https://dpi.example/messages/in?page_size=3&kanal=saksystem-7");

  dpi->set_kanal("saksystem 7");
  EXPECT_THAT(
      DpiAdapter().make(providers, context),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dpi.kanal")));
  dpi->set_kanal("");
  dpi->set_receipt_page_size(1001);
  EXPECT_THAT(DpiAdapter().make(providers, context),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dpi.receipt_page_size")));
}

// Copies of a valid receipt, each wrong in one way the parser must notice.
std::map<std::string, json> Broken() {
  std::map<std::string, json> out;
  auto change = [&](const std::string& name, const std::string& type,
                    const std::function<void(json&)>& edit) {
    json r = Example(type);
    edit(r);
    out[name] = r;
  };
  const std::string lev = "leveringskvittering";
  change("old shape, no wrapper", lev,
         [](json& r) { r = r["standardBusinessDocument"]; });
  change("unknown type", lev, [](json& r) {
    auto& s = r["standardBusinessDocument"];
    s["standardBusinessDocumentHeader"]["documentIdentification"]["type"] =
        "digital";
    s["digital"] = s["leveringskvittering"];
    s.erase("leveringskvittering");
  });
  change("body under another type", lev, [](json& r) {
    auto& s = r["standardBusinessDocument"];
    s["aapningskvittering"] = s["leveringskvittering"];
    s.erase("leveringskvittering");
  });
  change("two bodies", lev, [](json& r) {
    auto& s = r["standardBusinessDocument"];
    s["feil"] = s["leveringskvittering"];
  });
  change("instance id a path", lev, [](json& r) {
    r["standardBusinessDocument"]["standardBusinessDocumentHeader"]
     ["documentIdentification"]["instanceIdentifier"] = "../../messages/out";
  });
  change("instance id a number", lev, [](json& r) {
    r["standardBusinessDocument"]["standardBusinessDocumentHeader"]
     ["documentIdentification"]["instanceIdentifier"] = 42;
  });
  change("no ConversationId", lev, [](json& r) {
    r["standardBusinessDocument"]["standardBusinessDocumentHeader"]
     ["businessScope"]["scope"][0]["type"] = "SenderProcess";
  });
  change("two ConversationIds", lev, [](json& r) {
    auto& scope = r["standardBusinessDocument"]
                   ["standardBusinessDocumentHeader"]["businessScope"]["scope"];
    json other = scope[0];
    other["instanceIdentifier"] = "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5aff";
    scope.push_back(other);
  });
  change("scope not a list", lev, [](json& r) {
    r["standardBusinessDocument"]["standardBusinessDocumentHeader"]
     ["businessScope"]["scope"] = "ConversationId";
  });
  change("person as sender", lev, [](json& r) {
    r["standardBusinessDocument"]["standardBusinessDocumentHeader"]["sender"][0]
     ["identifier"]["value"] = absl::StrCat("NO:", kPerson);
  });
  change("no sender", lev, [](json& r) {
    r["standardBusinessDocument"]["standardBusinessDocumentHeader"].erase(
        "sender");
  });
  change("tidspunkt not a time", lev, [](json& r) {
    r["standardBusinessDocument"]["leveringskvittering"]["tidspunkt"] = "i går";
  });
  change("no tidspunkt", lev, [](json& r) {
    r["standardBusinessDocument"]["leveringskvittering"].erase("tidspunkt");
  });
  change("body a string", lev, [](json& r) {
    r["standardBusinessDocument"]["leveringskvittering"] = "levert";
  });
  change("feiltype outside the enum", "feil", [](json& r) {
    r["standardBusinessDocument"]["feil"]["feiltype"] = kPerson;
  });
  change("varslingskanal outside the enum", "varslingfeiletkvittering",
         [](json& r) {
           r["standardBusinessDocument"]["varslingfeiletkvittering"]
            ["varslingskanal"] = "brev";
         });
  change("a huge type", lev, [](json& r) {
    r["standardBusinessDocument"]["standardBusinessDocumentHeader"]
     ["documentIdentification"]["type"] = std::string(1 << 20, 'x');
  });
  out["not an object"] = json::array({1, 2, 3});
  out["null"] = json();
  return out;
}

TEST_F(DpiReceiptsTest, ReceiptsNotOfThePublishedShapeAreRefusedBriefly) {
  for (const auto& [name, receipt] : Broken()) {
    absl::StatusOr<ProviderEvent> event = ParseDpiReceipt(receipt);
    EXPECT_THAT(event, StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("published shape")))
        << name;
    if (!event.ok()) {
      std::string message(event.status().message());
      EXPECT_LT(message.size(), 200u) << name;
      EXPECT_FALSE(HasPersonNumber(message)) << name << ": " << message;
    }
  }
  for (const std::string& type : Types()) {
    EXPECT_THAT(ParseDpiReceipt(Example(type)), IsOk()) << type;
  }
}

TEST_F(DpiReceiptsTest, HostileReceiptsAreSkippedAndLeftUnread) {
  json list = json::array();
  for (const auto& [name, receipt] : Broken()) {
    list.push_back({{"forretningsmelding", Sign(receipt.dump())}});
  }
  // Forged: signed by a certificate of the right CA that is not the
  // provider's; and one with its payload changed after signing.
  list.push_back({{"forretningsmelding",
                   Sign(Example("aapningskvittering").dump(),
                        "certs-dev/sender.key", "certs-dev/sender.pem")}});
  std::string good = Sign(Example("leveringskvittering").dump());
  std::string changed = good;
  changed[changed.find('.') + 5] ^= 1;
  list.push_back({{"forretningsmelding", changed}});
  // Entries not of the listing's shape.
  list.push_back({{"forretningsmelding", 42}});
  list.push_back("forretningsmelding");
  list.push_back(json::object());
  list.push_back({{"forretningsmelding", good}});
  FakeHttpClient http(Queue(&list));
  auto channel = Make(&http);
  for (int round = 0; round < 2; ++round) {
    absl::StatusOr<std::vector<ProviderEvent>> events = channel->FetchEvents(1);
    ASSERT_THAT(events, IsOk());
    ASSERT_THAT(*events, SizeIs(1)) << "round " << round;
    EXPECT_EQ((*events)[0].event_id, "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a01");
  }
  // The second listing asked for enough to see past the rejected ones.
  std::vector<HttpRequest> requests = http.requests();
  ASSERT_THAT(requests, SizeIs(2));
  EXPECT_THAT(requests[0].url, HasSubstr("page_size=1&"));
  // Every broken one, the two forged ones, and the entries without a
  // forretningsmelding string (one content, so one rejection).
  const size_t rejected = Broken().size() + 2 + 1;
  EXPECT_THAT(requests[1].url,
              HasSubstr(absl::StrCat("page_size=", rejected + 1, "&")));
  // Nothing was marked read.
  for (const HttpRequest& r : requests) EXPECT_EQ(r.method, "GET");
}

TEST_F(DpiReceiptsTest, ReasonsAreBoundedAndMasked) {
  json feil = Example("feil");
  feil["standardBusinessDocument"]["feil"]["detaljer"] =
      absl::StrCat("mottaker ", kPerson, " har ", std::string(2000, 'x'));
  absl::StatusOr<ProviderEvent> event = ParseDpiReceipt(feil);
  ASSERT_THAT(event, IsOk());
  EXPECT_FALSE(HasPersonNumber(event->reason)) << event->reason;
  EXPECT_LE(event->reason.size(), 300u);
  EXPECT_THAT(event->reason, HasSubstr("KLIENT: mottaker "));
  // SERVER without detaljer.
  feil["standardBusinessDocument"]["feil"]["feiltype"] = "SERVER";
  feil["standardBusinessDocument"]["feil"].erase("detaljer");
  event = ParseDpiReceipt(feil);
  ASSERT_THAT(event, IsOk());
  EXPECT_EQ(event->reason, "SERVER");
}

TEST_F(DpiReceiptsTest, ListingQueryEncodesItsValues) {
  EXPECT_EQ(DpiReceiptListQuery("", "", 100), "?page_size=100");
  EXPECT_EQ(DpiReceiptListQuery("Kanal_1", "a&b=c", 7),
            "?page_size=7&kanal=Kanal_1&avsenderidentifikator=a%26b%3Dc");
  EXPECT_THAT(CheckDpiKanal(""), IsOk());
  EXPECT_THAT(CheckDpiKanal("a-Z_09"), IsOk());
  EXPECT_THAT(CheckDpiKanal("a b"), Not(IsOk()));
}

}  // namespace
}  // namespace utpost::adapters
