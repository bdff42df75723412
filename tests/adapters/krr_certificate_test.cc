// The registry's "sertifikat" (the mailbox's encryption certificate, #3)
// reaches PersonContact::mailbox_certificate as DER.
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "adapters/http/fake_http_client.h"
#include "adapters/registry/krr_registry.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

using ::testing::SizeIs;
using ::utpost::testing::IsOk;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The base64 text between the PEM armour lines.
std::string PemBody(const std::string& pem) {
  std::string body;
  std::istringstream lines(pem);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("-----", 0) != 0) body += line;
  }
  return body;
}

TEST(KrrCertificateTest, SertifikatAsBase64OrPemBecomesDer) {
  const std::string pem = ReadFile("certs-dev/eboks-mailbox.pem");
  ASSERT_FALSE(pem.empty());
  std::string der;
  ASSERT_TRUE(absl::Base64Unescape(PemBody(pem), &der));
  nlohmann::json reply = {
      {"personer",
       {{{"personidentifikator", "30925910089"},
         {"status", "AKTIV"},
         {"reservasjon", "NEI"},
         {"sertifikat", PemBody(pem)}},
        {{"personidentifikator", "01817010055"},
         {"status", "AKTIV"},
         {"sertifikat", pem}},
        {{"personidentifikator", "15838210012"},
         {"status", "AKTIV"},
         {"sertifikat", "bm90IGEgY2VydGlmaWNhdGU="}},
        {{"personidentifikator", "28879110078"}, {"status", "AKTIV"}}}}};
  FakeHttpClient http([&](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{200, {}, reply.dump()};
  });
  KrrRegistryOptions options;
  options.base_url = "https://krr.test";
  auto registry = NewKrrRegistry(std::move(options), &http);
  auto contacts = registry->LookupPersons(
      {"30925910089", "01817010055", "15838210012", "28879110078"});
  ASSERT_THAT(contacts, IsOk());
  ASSERT_THAT(*contacts, SizeIs(4));
  EXPECT_EQ((*contacts)[0].mailbox_certificate, der);
  EXPECT_EQ((*contacts)[1].mailbox_certificate, der);
  // Not a certificate, or none: empty, and the look-up still succeeds.
  EXPECT_EQ((*contacts)[2].mailbox_certificate, "");
  EXPECT_EQ((*contacts)[3].mailbox_certificate, "");
}

}  // namespace
}  // namespace utpost::adapters
