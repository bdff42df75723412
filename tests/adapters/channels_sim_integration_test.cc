// Tokens, the contact registry with tokens, the business registry and the
// Altinn channel over HTTPS against utpost-sim, started in this process.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "adapters/altinn/altinn_channel.h"
#include "adapters/altinn/altinn_token_source.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/http/maskinporten_token_source.h"
#include "adapters/registry/business_registry.h"
#include "adapters/registry/krr_registry.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sim/organisations.h"
#include "sim/persons.h"
#include "sim/simulator.h"
#include "tests/testing/sim_suite.h"

namespace utpost::adapters {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using Kind = ProviderEvent::Kind;

constexpr char kIssuer[] = "https://maskinporten.sim/";
constexpr char kPdf[] = "%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n";

std::string Base64Der(const std::string& pem_file) {
  FILE* f = fopen(pem_file.c_str(), "r");
  EXPECT_NE(f, nullptr) << pem_file;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  unsigned char* der = nullptr;
  int n = i2d_X509(cert, &der);
  std::string out = absl::Base64Escape(
      absl::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(n)));
  OPENSSL_free(der);
  X509_free(cert);
  return out;
}

// A JWT grant built by hand, so that each rule can be broken on purpose.
std::string MakeJwt(const std::string& key_file, const std::string& cert_file,
                    const json& claims) {
  json header = {{"alg", "RS256"}, {"x5c", {Base64Der(cert_file)}}};
  std::string input =
      absl::StrCat(absl::WebSafeBase64Escape(header.dump()), ".",
                   absl::WebSafeBase64Escape(claims.dump()));
  FILE* f = fopen(key_file.c_str(), "r");
  EXPECT_NE(f, nullptr) << key_file;
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  fclose(f);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &length,
                 reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string signature(length, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()),
                 &length, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  signature.resize(length);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return absl::StrCat(input, ".", absl::WebSafeBase64Escape(signature));
}

class ChannelsSimTest : public ::utpost::testing::SimulatorSuite {
 protected:
  static void SetUpTestSuite() {
    clock_ = new FakeClock(RealClock()->NowMillis());
    auto organisations = sim::LoadOrganisations("sim/data/organisations.yaml");
    ASSERT_THAT(organisations, IsOk());
    sim::SimulatorOptions options = DefaultOptions();
    options.organisations = *std::move(organisations);
    options.token_ca_file = "certs-dev/ca.pem";
    options.token_issuer = kIssuer;
    options.require_tokens = true;
    options.clock = clock_;
    StartSuite(std::move(options));
  }

  static void TearDownTestSuite() {
    SimulatorSuite::TearDownTestSuite();
    delete clock_;
    clock_ = nullptr;
  }

  static HttpResponse Grant(const std::string& jwt) {
    return Control(
        "POST", "/token",
        absl::StrCat("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3A"
                     "jwt-bearer&assertion=",
                     jwt),
        "application/x-www-form-urlencoded");
  }

  static json Claims(int64_t iat_offset_s = 0, int64_t lifetime_s = 100) {
    int64_t now = clock_->NowMillis() / 1000 + iat_offset_s;
    static int counter = 0;
    return {{"aud", kIssuer},
            {"iss", "test-client"},
            {"iat", now},
            {"exp", now + lifetime_s},
            {"jti", absl::StrCat("jti-", ++counter, "-", now)},
            {"scope", "krr:global/kontaktinformasjon.read"}};
  }

  static std::unique_ptr<TokenSource> Maskinporten(const Clock* clock) {
    MaskinportenOptions options;
    options.token_url = BaseUrl() + "/token";
    options.audience = kIssuer;
    options.client_id = "utpost-test";
    options.key_file = "certs-dev/sender.key";
    options.cert_chain_file = "certs-dev/sender.pem";
    options.clock = clock;
    auto source = NewMaskinportenTokenSource(options, http_);
    EXPECT_THAT(source, IsOk());
    return source.ok() ? *std::move(source) : nullptr;
  }

  static FakeClock* clock_;
};

FakeClock* ChannelsSimTest::clock_ = nullptr;

// ---- The token endpoint ----

TEST_F(ChannelsSimTest, TokenEndpointIssuesForAValidGrant) {
  HttpResponse r =
      Grant(MakeJwt("certs-dev/sender.key", "certs-dev/sender.pem", Claims()));
  ASSERT_EQ(r.status, 200) << r.body;
  json reply = json::parse(r.body);
  EXPECT_FALSE(reply["access_token"].get<std::string>().empty());
  EXPECT_EQ(reply["token_type"], "Bearer");
  EXPECT_GT(reply["expires_in"].get<int>(), 0);
  EXPECT_EQ(reply["scope"], "krr:global/kontaktinformasjon.read");
}

TEST_F(ChannelsSimTest, TokenEndpointRefusesAnExpiredGrant) {
  HttpResponse r = Grant(MakeJwt("certs-dev/sender.key", "certs-dev/sender.pem",
                                 Claims(-200, 100)));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("invalid_grant"));
}

TEST_F(ChannelsSimTest, TokenEndpointRefusesAGrantLongerThan120Seconds) {
  HttpResponse r = Grant(
      MakeJwt("certs-dev/sender.key", "certs-dev/sender.pem", Claims(0, 121)));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("exp"));
}

TEST_F(ChannelsSimTest, TokenEndpointRefusesAKeyThatDoesNotMatchX5c) {
  HttpResponse r = Grant(
      MakeJwt("certs-dev/stranger.key", "certs-dev/sender.pem", Claims()));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("signature"));
}

TEST_F(ChannelsSimTest, TokenEndpointRefusesACertificateFromAnotherCa) {
  HttpResponse r = Grant(
      MakeJwt("certs-dev/stranger.key", "certs-dev/stranger.pem", Claims()));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("x5c"));
}

TEST_F(ChannelsSimTest, TokenEndpointRefusesAReusedJti) {
  std::string jwt =
      MakeJwt("certs-dev/sender.key", "certs-dev/sender.pem", Claims());
  EXPECT_EQ(Grant(jwt).status, 200);
  HttpResponse again = Grant(jwt);
  EXPECT_EQ(again.status, 400);
  EXPECT_THAT(again.body, HasSubstr("jti"));
}

TEST_F(ChannelsSimTest, TokenEndpointRefusesAnExtraClaim) {
  json claims = Claims();
  claims["sub"] = "someone";
  HttpResponse r =
      Grant(MakeJwt("certs-dev/sender.key", "certs-dev/sender.pem", claims));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("sub"));
}

TEST_F(ChannelsSimTest, TokenEndpointRefusesAnotherAudienceAndScope) {
  json claims = Claims();
  claims["aud"] = "https://elsewhere.test/";
  EXPECT_EQ(
      Grant(MakeJwt("certs-dev/sender.key", "certs-dev/sender.pem", claims))
          .status,
      400);
  claims = Claims();
  claims["scope"] = "krr:global/everything";
  EXPECT_EQ(
      Grant(MakeJwt("certs-dev/sender.key", "certs-dev/sender.pem", claims))
          .status,
      400);
}

TEST_F(ChannelsSimTest, MaskinportenTokenSourceGetsATokenFromTheSim) {
  auto tokens = Maskinporten(clock_);
  ASSERT_NE(tokens, nullptr);
  auto token = tokens->Token(kKrrScope);
  ASSERT_THAT(token, IsOk());
  EXPECT_FALSE(token->empty());
  // Cached: the second call asks nothing.
  EXPECT_EQ(*tokens->Token(kKrrScope), *token);
  EXPECT_EQ(Deliveries()["token"]["issued"], 1);
}

TEST_F(ChannelsSimTest, TokenIssuerFaultsAreTransient) {
  InjectFault("token", 503, 1);
  auto tokens = Maskinporten(clock_);
  auto failed = tokens->Token(kKrrScope);
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_TRUE(IsTransient(failed.status()));
  EXPECT_THAT(tokens->Token(kKrrScope), IsOk());
}

// ---- The contact registry with tokens ----

TEST_F(ChannelsSimTest, RegistryRefusesARequestWithoutAToken) {
  auto registry = NewKrrRegistry({BaseUrl()}, http_);
  EXPECT_THAT(registry->LookupPersons({"01817010055"}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("401")));
}

TEST_F(ChannelsSimTest, RegistryClientReplacesARevokedTokenOnce) {
  auto tokens = Maskinporten(clock_);
  KrrRegistryOptions options;
  options.base_url = BaseUrl();
  options.tokens = tokens.get();
  auto registry = NewKrrRegistry(options, http_);
  auto first = registry->LookupPersons({"01817010055"});
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ((*first)[0].status, PersonContact::Status::kActive);
  ASSERT_EQ(Control("DELETE", "/sim/v1/tokens", "").status, 204);
  auto second = registry->LookupPersons({"01817010055"});
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ((*second)[0].status, PersonContact::Status::kActive);
  json d = Deliveries();
  EXPECT_EQ(d["token"]["issued"], 2);
  EXPECT_EQ(d["registry"]["requests"], 2);
}

TEST_F(ChannelsSimTest, RegistryClientReplacesAnExpiredToken) {
  ASSERT_EQ(
      Control("POST", "/sim/v1/tokens", R"({"lifetime_seconds": 5})").status,
      204);
  // The client's clock stands still, so it believes its token is fresh;
  // the simulator's moves past the token's expiry.
  FakeClock client_clock(clock_->NowMillis());
  auto tokens = Maskinporten(&client_clock);
  KrrRegistryOptions options;
  options.base_url = BaseUrl();
  options.tokens = tokens.get();
  auto registry = NewKrrRegistry(options, http_);
  ASSERT_THAT(registry->LookupPersons({"01817010055"}), IsOk());
  clock_->Advance(6'000);
  ASSERT_THAT(registry->LookupPersons({"01817010055"}), IsOk());
  EXPECT_EQ(Deliveries()["token"]["issued"], 2);
}

TEST_F(ChannelsSimTest, RegistryRefusesATokenWithoutItsScopes) {
  auto tokens = Maskinporten(clock_);
  KrrRegistryOptions options;
  options.base_url = BaseUrl();
  options.tokens = tokens.get();
  options.scope = "krr:global/kontaktinformasjon.read";  // Half of it.
  auto registry = NewKrrRegistry(options, http_);
  EXPECT_THAT(registry->LookupPersons({"01817010055"}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("403")));
}

// ---- The business registry ----

// Every active unit can receive correspondence; Altinn's register is asked
// only with a platform access token (docs/protocols.md).
TEST_F(ChannelsSimTest, BusinessRegistryKnowsUnitsAndDeletions) {
  BusinessRegistryOptions options;
  options.base_url = BaseUrl();
  options.altinn_url = BaseUrl();
  auto registry = NewBusinessRegistry(options, http_);
  auto with_inbox = registry->LookupOrganisation("910000004");
  ASSERT_THAT(with_inbox, IsOk());
  EXPECT_EQ(with_inbox->status, OrganisationContact::Status::kActive);
  EXPECT_EQ(with_inbox->name, "Testbedrift AS");
  EXPECT_EQ(with_inbox->postal_address.city, "OSLO");
  EXPECT_TRUE(with_inbox->has_inbox);
  // Not asked: the correspondence service answers for this one (1029).
  auto unasked = registry->LookupOrganisation("932000008");
  ASSERT_THAT(unasked, IsOk());
  EXPECT_TRUE(unasked->has_inbox);
  auto deleted = registry->LookupOrganisation("943000018");
  ASSERT_THAT(deleted, IsOk());
  EXPECT_EQ(deleted->status, OrganisationContact::Status::kDeleted);
  EXPECT_FALSE(deleted->has_inbox);
  auto unknown = registry->LookupOrganisation("954000001");
  ASSERT_THAT(unknown, IsOk());
  EXPECT_EQ(unknown->status, OrganisationContact::Status::kNotRegistered);
  InjectFault("enhetsregisteret", 503, 1);
  EXPECT_THAT(registry->LookupOrganisation("910000004"),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  // Without Altinn there is no inbox.
  auto no_altinn = NewBusinessRegistry({BaseUrl()}, http_);
  auto plain = no_altinn->LookupOrganisation("910000004");
  ASSERT_THAT(plain, IsOk());
  EXPECT_FALSE(plain->has_inbox);
}

TEST_F(ChannelsSimTest, AltinnsRegisterIsAskedWithAPlatformAccessToken) {
  std::string file = ::testing::TempDir() + "/platform-access-token";
  {
    std::ofstream out(file);
    out << "eyJhbGciOiJSUzI1NiJ9.eyJ1cm46YWx0aW5uOmFwcCI6InV0cG9zdCJ9.c2ln\n";
  }
  BusinessRegistryOptions options;
  options.base_url = BaseUrl();
  options.altinn_url = BaseUrl();
  options.platform_access_token_file = file;
  auto registry = NewBusinessRegistry(options, http_);
  auto party = registry->LookupOrganisation("910000004");
  ASSERT_THAT(party, IsOk());
  EXPECT_TRUE(party->has_inbox);
  auto not_party = registry->LookupOrganisation("932000008");
  ASSERT_THAT(not_party, IsOk());
  EXPECT_EQ(not_party->status, OrganisationContact::Status::kActive);
  EXPECT_FALSE(not_party->has_inbox);
  // The register refuses a call without the header.
  HttpRequest request;
  request.url = BaseUrl() + "/register/api/v1/organizations/910000004";
  auto refused = http_->Do(request);
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(refused->status, 403);
  // An unreadable token file is the gateway's set-up.
  options.platform_access_token_file = file + ".missing";
  EXPECT_THAT(
      NewBusinessRegistry(options, http_)->LookupOrganisation("910000004"),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("platform_access_token_file")));
}

// ---- Altinn ----

class AltinnSimTest : public ChannelsSimTest {
 protected:
  void SetUp() override {
    ChannelsSimTest::SetUp();
    maskinporten_ = Maskinporten(clock_);
    altinn_tokens_ =
        NewAltinnTokenSource(BaseUrl(), maskinporten_.get(), http_);
    AltinnOptions options;
    options.base_url = BaseUrl();
    options.resource_id = "utpost-correspondence";
    options.tokens = altinn_tokens_.get();
    options.clock = clock_;
    auto channel = NewAltinnChannel(options, http_);
    ASSERT_THAT(channel, IsOk());
    channel_ = *std::move(channel);
  }

  static OutgoingLetter Letter(const std::string& message_id,
                               const std::string& organisation) {
    OutgoingLetter l;
    l.message_id = message_id;
    l.tenant = "964338531";
    l.organisation_number = organisation;
    l.title = "Vedtak om tilskudd";
    l.documents = {{"vedtak.pdf", "application/pdf", kPdf, ""}};
    return l;
  }

  // Events until `count` have come or a few tries pass; confirms them.
  std::vector<ProviderEvent> Events() {
    auto events = channel_->FetchEvents(50);
    EXPECT_THAT(events, IsOk());
    if (!events.ok()) return {};
    std::vector<std::string> ids;
    for (const auto& e : *events) ids.push_back(e.event_id);
    EXPECT_THAT(channel_->ConfirmEvents(ids), IsOk());
    return *events;
  }

  std::unique_ptr<TokenSource> maskinporten_;
  std::unique_ptr<TokenSource> altinn_tokens_;
  std::unique_ptr<Channel> channel_;
};

TEST_F(AltinnSimTest, SendToAnInboxIsPublishedThenRead) {
  const std::string id = "0b6f7e3a-6a47-4c59-9a3e-4f1d7a0e0001";
  auto result = channel_->Send(Letter(id, "910000004"));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kAccepted);
  EXPECT_FALSE(result->provider_reference.empty());

  std::vector<ProviderEvent> published = Events();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].kind, Kind::kDelivered);
  EXPECT_EQ(published[0].message_id, id);
  EXPECT_TRUE(Events().empty());  // Confirmed: not again.

  clock_->Advance(2'000);  // 910000004 reads after 2 s.
  std::vector<ProviderEvent> read = Events();
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].kind, Kind::kRead);
  EXPECT_EQ(read[0].message_id, id);
  EXPECT_NE(read[0].event_id, published[0].event_id);
}

TEST_F(AltinnSimTest, ReadOnCommandAndFailureWithReason) {
  const std::string a = "0b6f7e3a-6a47-4c59-9a3e-4f1d7a0e0002";
  const std::string b = "0b6f7e3a-6a47-4c59-9a3e-4f1d7a0e0003";
  ASSERT_THAT(channel_->Send(Letter(a, "921000006")), IsOk());
  ASSERT_THAT(channel_->Send(Letter(b, "921000006")), IsOk());
  ASSERT_EQ(Events().size(), 2u);
  ASSERT_EQ(
      Control("POST", "/sim/v1/altinn/read", json{{"idempotent_key", a}}.dump())
          .status,
      204);
  ASSERT_EQ(Control("POST", "/sim/v1/altinn/fail",
                    json{{"idempotent_key", b}, {"reason", "blocked"}}.dump())
                .status,
            204);
  std::vector<ProviderEvent> events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::kRead);
  EXPECT_EQ(events[0].message_id, a);
  EXPECT_EQ(events[1].kind, Kind::kFailed);
  EXPECT_EQ(events[1].message_id, b);
  EXPECT_EQ(events[1].reason, "blocked");
}

TEST_F(AltinnSimTest, SendToAnOrganisationWithoutInboxIsRefused) {
  EXPECT_THAT(channel_->Send(
                  Letter("0b6f7e3a-6a47-4c59-9a3e-4f1d7a0e0004", "932000008")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no digital inbox")));
  EXPECT_THAT(
      channel_->Send(
          Letter("0b6f7e3a-6a47-4c59-9a3e-4f1d7a0e0005", "943000018")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("error 1029")));
}

// The simulator binds form fields as the real controller: the old single
// JSON part binds nothing.
TEST_F(AltinnSimTest, TheUploadIsCheckedAsTheControllerBindsIt) {
  auto token = altinn_tokens_->Token(kAltinnScope);
  ASSERT_THAT(token, IsOk());
  auto upload = [&](const std::string& parts) {
    HttpRequest request;
    request.method = "POST";
    request.url = BaseUrl() + "/correspondence/api/v1/correspondence/upload";
    request.headers = {{"Authorization", "Bearer " + *token},
                       {"Content-Type", "multipart/form-data; boundary=XyZ"}};
    request.body = parts + "--XyZ--\r\n";
    return http_->Do(request);
  };
  auto part = [](const std::string& name, const std::string& value,
                 const std::string& filename = "") {
    return "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"" +
           (filename.empty() ? "" : "; filename=\"" + filename + "\"") +
           "\r\n\r\n" + value + "\r\n";
  };
  auto json_part = upload(
      part("correspondence",
           R"({"resourceId": "r", "recipients": ["urn:altinn:organization:)"
           R"(identifier-no:910000004"]})"));
  ASSERT_THAT(json_part, IsOk());
  EXPECT_EQ(json_part->status, 400);
  json problem = json::parse(json_part->body);
  EXPECT_TRUE(problem["errors"].contains("correspondence.resourceId"))
      << json_part->body;
  EXPECT_TRUE(problem["errors"].contains("recipients")) << json_part->body;

  std::string fields =
      part("correspondence.resourceId", "r") +
      part("Correspondence.Sender", "0192:964338531") +  // Any case binds.
      part("correspondence.sendersReference", "ref") +
      part("correspondence.content.language", "nb") +
      part("correspondence.content.messageTitle", "T") +
      part("correspondence.content.messageSummary", "T") +
      part("correspondence.content.messageBody", "B") +
      part("recipients[0]", "urn:altinn:organization:identifier-no:910000004");
  // A file without its metadata: 1005.
  auto mismatch = upload(fields + part("attachments", "%PDF", "a.pdf"));
  ASSERT_THAT(mismatch, IsOk());
  EXPECT_EQ(mismatch->status, 400);
  EXPECT_EQ(json::parse(mismatch->body)["errorCode"], 1005);
  auto ok = upload(
      fields + part("correspondence.content.attachments[0].fileName", "a.pdf") +
      part("correspondence.content.attachments[0].sendersReference", "a") +
      part("attachments", "%PDF", "a.pdf"));
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST_F(AltinnSimTest, ARepeatedSendIsADuplicateAndCountedOnce) {
  const std::string id = "0b6f7e3a-6a47-4c59-9a3e-4f1d7a0e0006";
  auto first = channel_->Send(Letter(id, "910000004"));
  ASSERT_THAT(first, IsOk());
  auto second = channel_->Send(Letter(id, "910000004"));
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(first->provider, kAltinnProvider);
  EXPECT_EQ(second->outcome, SendResult::Outcome::kDuplicate);
  EXPECT_EQ(second->provider, kAltinnProvider);
  EXPECT_THAT(second->provider_reference, HasSubstr("error 1034"));
  json d = Deliveries()["altinn"][id];
  EXPECT_EQ(d["accepted"], 1);
  EXPECT_EQ(d["duplicates"], 1);
}

TEST_F(AltinnSimTest, ServerErrorsAreTransient) {
  // A first send exchanges the token, so the fault meets the upload.
  ASSERT_THAT(channel_->Send(
                  Letter("0b6f7e3a-6a47-4c59-9a3e-4f1d7a0e0007", "910000004")),
              IsOk());
  InjectFault("altinn", 503, 1);
  auto failed = channel_->Send(
      Letter("0b6f7e3a-6a47-4c59-9a3e-4f1d7a0e0008", "910000004"));
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_TRUE(IsTransient(failed.status()));
  // Recovered: the same letter goes through once.
  ASSERT_THAT(channel_->Send(
                  Letter("0b6f7e3a-6a47-4c59-9a3e-4f1d7a0e0008", "910000004")),
              IsOk());
  EXPECT_EQ(Deliveries()["altinn"]["0b6f7e3a-6a47-4c59-9a3e-4f1d7a0e0008"]
                        ["accepted"],
            1);
}

TEST_F(AltinnSimTest, AltinnRefusesAMaskinportenTokenDirectly) {
  auto token = maskinporten_->Token(kAltinnScope);
  ASSERT_THAT(token, IsOk());
  HttpRequest request;
  request.method = "GET";
  request.url =
      BaseUrl() + "/events/api/v1/events?resource=urn:altinn:resource:x";
  request.headers = {{"Authorization", "Bearer " + *token}};
  auto response = http_->Do(request);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 401);
}

TEST_F(AltinnSimTest, EventsNeedAfterAndTheirOwnScope) {
  auto events_token = altinn_tokens_->Token(kAltinnEventsScope);
  ASSERT_THAT(events_token, IsOk());
  HttpRequest request;
  request.method = "GET";
  request.url =
      BaseUrl() + "/events/api/v1/events?resource=urn:altinn:resource:x&size=5";
  request.headers = {{"Authorization", "Bearer " + *events_token}};
  auto no_after = http_->Do(request);
  ASSERT_THAT(no_after, IsOk());
  EXPECT_EQ(no_after->status, 400);
  EXPECT_EQ(json::parse(no_after->body)["detail"],
            "The 'after' parameter must be defined.");
  // The correspondence write token is not an events token.
  auto write_token = altinn_tokens_->Token(kAltinnScope);
  ASSERT_THAT(write_token, IsOk());
  request.url += "&after=0";
  request.headers = {{"Authorization", "Bearer " + *write_token}};
  auto wrong_scope = http_->Do(request);
  ASSERT_THAT(wrong_scope, IsOk());
  EXPECT_EQ(wrong_scope->status, 403);
}

}  // namespace
}  // namespace utpost::adapters
