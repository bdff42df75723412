// The DPI channel's parts checked against independent tools: the openssl
// command line decrypts the package and verifies the JWS, xmllint
// canonicalises the signed XML, libzip reads the container.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <zip.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "adapters/dpi/asice.h"
#include "adapters/dpi/dpi_channel.h"
#include "adapters/dpi/dpi_crypto.h"
#include "adapters/http/digest.h"
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
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

constexpr char kPdf[] = "%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
constexpr char kMessageId[] = "0b6b1f0e-6a3c-4c57-9a43-3f1d2c9e8a10";
constexpr int64_t kNow = 1795425600000;  // 2026-11-23T09:20:00Z

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/dpi_test_", getpid(), "_", name);
}

// Runs a shell command; its exit status.
int RunCommand(const std::string& command) {
  return std::system((command + " 2>/dev/null").c_str());
}

std::string PemFileToDer(const std::string& path) {
  absl::StatusOr<std::string> der = CertificateToDer(ReadFile(path));
  EXPECT_THAT(der, IsOk());
  return der.ok() ? *der : "";
}

std::unique_ptr<DpiSigner> Sender() {
  auto signer =
      DpiSigner::FromFiles("certs-dev/sender.key", "certs-dev/sender.pem");
  EXPECT_THAT(signer, IsOk());
  return signer.ok() ? *std::move(signer) : nullptr;
}

// Reads a zip: entry names in order, and their contents.
std::vector<std::pair<std::string, std::string>> Unzip(const std::string& z) {
  std::vector<std::pair<std::string, std::string>> out;
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(z.data(), z.size(), 0, &error);
  zip_t* zip = zip_open_from_source(src, ZIP_RDONLY, &error);
  zip_error_fini(&error);
  if (zip == nullptr) {
    ADD_FAILURE() << "not a zip";
    return out;
  }
  for (zip_int64_t i = 0; i < zip_get_num_entries(zip, 0); ++i) {
    zip_stat_t st;
    zip_stat_index(zip, i, 0, &st);
    std::string content(st.size, '\0');
    zip_file_t* f = zip_fopen_index(zip, i, 0);
    zip_fread(f, content.data(), st.size);
    zip_fclose(f);
    out.emplace_back(st.name, content);
  }
  zip_close(zip);
  return out;
}

std::string Between(const std::string& text, const std::string& open,
                    const std::string& close) {
  size_t a = text.find(open);
  size_t b = text.find(close, a);
  if (a == std::string::npos || b == std::string::npos) return "";
  return text.substr(a, b + close.size() - a);
}

std::string Inner(const std::string& text, const std::string& open,
                  const std::string& close) {
  std::string whole = Between(text, open, close);
  if (whole.empty()) return "";
  return whole.substr(open.size(), whole.size() - open.size() - close.size());
}

// ---- ASiC-E ---------------------------------------------------------------

class AsicETest : public ::testing::Test {
 protected:
  std::vector<AsicFile> Files() {
    return {{"vedtak.pdf", "application/pdf", kPdf},
            {"vedlegg æ.pdf", "application/pdf", "%PDF-1.4 second"},
            {"manifest.xml", "application/xml", "<manifest/>"}};
  }
};

TEST_F(AsicETest, MimetypeIsFirstStoredAndReadableAtOffset38) {
  auto signer = Sender();
  absl::StatusOr<std::string> zip = BuildAsicE(Files(), *signer, kNow);
  ASSERT_THAT(zip, IsOk());
  // Local file header: signature, method at 8 (0 = stored), name length at
  // 26, extra length at 28, name at 30, data at 30 + 8.
  ASSERT_GT(zip->size(), 70u);
  EXPECT_EQ(zip->substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_EQ((*zip)[8], 0);
  EXPECT_EQ((*zip)[9], 0);
  EXPECT_EQ((*zip)[26], 8);
  EXPECT_EQ((*zip)[28], 0);
  EXPECT_EQ((*zip)[29], 0);
  EXPECT_EQ(zip->substr(30, 8), "mimetype");
  EXPECT_EQ(zip->substr(38, 31), "application/vnd.etsi.asic-e+zip");
}

TEST_F(AsicETest, HoldsTheFilesAndBothManifestsInOrder) {
  auto signer = Sender();
  absl::StatusOr<std::string> zip = BuildAsicE(Files(), *signer, kNow);
  ASSERT_THAT(zip, IsOk());
  auto entries = Unzip(*zip);
  std::vector<std::string> names;
  for (const auto& [name, content] : entries) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("mimetype", "vedtak.pdf", "vedlegg æ.pdf",
                                 "manifest.xml", "META-INF/manifest.xml",
                                 "META-INF/signatures.xml"));
  EXPECT_EQ(entries[1].second, kPdf);
  const std::string& odf = entries[4].second;
  EXPECT_THAT(odf, HasSubstr("manifest:full-path=\"/\" manifest:media-type="
                             "\"application/vnd.etsi.asic-e+zip\""));
  EXPECT_THAT(odf, HasSubstr("manifest:full-path=\"vedtak.pdf\" "
                             "manifest:media-type=\"application/pdf\""));
  // Same input, same bytes: a retry sends the same container.
  EXPECT_EQ(*BuildAsicE(Files(), *signer, kNow), *zip);
}

TEST_F(AsicETest, RefusesNamesTheContainerCannotCarry) {
  auto signer = Sender();
  for (const char* name :
       {"mimetype", "META-INF/x.xml", "../x.pdf", "/abs.pdf", ""}) {
    std::vector<AsicFile> files = {{name, "application/pdf", kPdf}};
    EXPECT_THAT(BuildAsicE(files, *signer, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_))
        << name;
  }
  std::vector<AsicFile> twice = {{"a.pdf", "application/pdf", kPdf},
                                 {"a.pdf", "application/pdf", kPdf}};
  EXPECT_THAT(BuildAsicE(twice, *signer, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

// The signature checked the way an outside verifier does: the signed XML is
// in inclusive canonical form (xmllint --c14n), every digest matches the
// file, and the signature verifies with the sender's public key (openssl).
// (tests/published/dpi/check_dpi.py verifies whole packages with xmlsec1.)
TEST_F(AsicETest, SignatureCoversEveryFileAndVerifiesWithOpenssl) {
  auto signer = Sender();
  std::vector<AsicFile> files = Files();
  absl::StatusOr<std::string> xml = SignaturesXml(files, *signer, kNow);
  ASSERT_THAT(xml, IsOk());
  std::string signed_info = Between(*xml, "<ds:SignedInfo", "</ds:SignedInfo>");
  std::string props =
      Between(*xml, "<xades:SignedProperties", "</xades:SignedProperties>");
  ASSERT_FALSE(signed_info.empty());
  ASSERT_FALSE(props.empty());

  for (const auto& [name, text] :
       {std::pair{"signedinfo", signed_info}, {"props", props}}) {
    std::string in = TempPath(absl::StrCat(name, ".xml"));
    std::string out = TempPath(absl::StrCat(name, ".c14n"));
    WriteFile(in, text);
    ASSERT_EQ(RunCommand(absl::StrCat("xmllint --c14n ", in, " > ", out)), 0);
    EXPECT_EQ(ReadFile(out), text) << name << " is not in canonical form";
  }

  // One reference per file, with its SHA-256, plus the signed properties.
  for (const AsicFile& f : files) {
    std::string digest = absl::Base64Escape(Sha256(f.content));
    EXPECT_THAT(signed_info,
                HasSubstr(absl::StrCat("URI=\"", PercentEncodePath(f.name),
                                       "\"><ds:DigestMethod Algorithm=\"http:"
                                       "//www.w3.org/2001/04/xmlenc#sha256\">"
                                       "</ds:DigestMethod><ds:DigestValue>",
                                       digest, "</ds:DigestValue>")))
        << f.name;
  }
  EXPECT_THAT(signed_info, HasSubstr("URI=\"vedlegg%20%C3%A6.pdf\""));
  EXPECT_THAT(signed_info,
              HasSubstr(absl::StrCat("URI=\"#SignedProperties\"><ds:Transforms>"
                                     "<ds:Transform Algorithm=\"http://www.w3."
                                     "org/TR/2001/REC-xml-c14n-20010315\"></ds:"
                                     "Transform></ds:Transforms><ds:"
                                     "DigestMethod Algorithm=\"http://www.w3."
                                     "org/2001/04/xmlenc#sha256\"></ds:"
                                     "DigestMethod><ds:DigestValue>",
                                     absl::Base64Escape(Sha256(props)),
                                     "</ds:DigestValue>")));
  EXPECT_THAT(props, HasSubstr("<xades:SigningTime>2026-11-23T09:20:00Z"));
  // CertDigest: SHA-1 of the signing certificate (dokumentpakke_sikkerhet.md
  // krav 5.1), computed by openssl over the certificate's DER.
  std::string fingerprint = TempPath("sender.sha1");
  ASSERT_EQ(RunCommand(absl::StrCat(
                "openssl x509 -in certs-dev/sender.pem -outform DER | "
                "openssl dgst -sha1 -binary | openssl base64 -A > ",
                fingerprint)),
            0);
  std::string sha1 = ReadFile(fingerprint);
  while (!sha1.empty() && sha1.back() == '\n') sha1.pop_back();
  EXPECT_THAT(props,
              HasSubstr(absl::StrCat("<ds:DigestMethod Algorithm=\"http://www."
                                     "w3.org/2000/09/xmldsig#sha1\"></ds:"
                                     "DigestMethod><ds:DigestValue>",
                                     sha1, "</ds:DigestValue>")));

  std::string signature;
  ASSERT_TRUE(absl::Base64Unescape(
      Inner(*xml, "<ds:SignatureValue>", "</ds:SignatureValue>"), &signature));
  std::string data = TempPath("si.bin"), sig = TempPath("si.sig"),
              pub = TempPath("sender.pub");
  WriteFile(data, signed_info);
  WriteFile(sig, signature);
  ASSERT_EQ(
      RunCommand(absl::StrCat("openssl x509 -in certs-dev/sender.pem -pubkey "
                              "-noout > ",
                              pub)),
      0);
  EXPECT_EQ(
      RunCommand(absl::StrCat("openssl dgst -sha256 -verify ", pub,
                              " -signature ", sig, " ", data, " >/dev/null")),
      0);
  // And a changed byte does not verify.
  WriteFile(data, signed_info + " ");
  EXPECT_NE(
      RunCommand(absl::StrCat("openssl dgst -sha256 -verify ", pub,
                              " -signature ", sig, " ", data, " >/dev/null")),
      0);
}

TEST(DpiManifestTest, NamesRecipientSenderAndDocuments) {
  DpiManifest m;
  m.mailbox_address = "per.eboksen#9C0D";
  m.sender_organisation = "964338531";
  m.documents = {{"vedtak.pdf", "application/pdf", "Vedtak & svar"},
                 {"vedlegg.pdf", "application/pdf", "Vedlegg"}};
  std::string xml = DpiManifestXml(m);
  EXPECT_THAT(xml, HasSubstr("<manifest xmlns=\"http://begrep.difi.no/sdp/"
                             "schema_v10\">"));
  // The mailbox address, not the person number (as the official example).
  EXPECT_THAT(xml, Not(HasSubstr("personidentifikator")));
  EXPECT_THAT(xml, HasSubstr("<postkasseadresse>per.eboksen#9C0D<"));
  EXPECT_THAT(xml, HasSubstr("<organisasjon authority=\"iso6523-actorid-upis"
                             "\">0192:964338531</organisasjon>"));
  EXPECT_THAT(xml, HasSubstr("<hoveddokument href=\"vedtak.pdf\" mime=\""
                             "application/pdf\">\n    <tittel lang=\"no\">"
                             "Vedtak &amp; svar</tittel>"));
  EXPECT_THAT(xml, HasSubstr("<vedlegg href=\"vedlegg.pdf\""));
}

// ---- CMS ------------------------------------------------------------------

TEST(DpiCmsTest, OpensslDecryptsWithTheMailboxKey) {
  std::string content = std::string("PK\x03\x04 package \x00\xff", 19);
  absl::StatusOr<std::string> cms =
      EncryptCms(content, PemFileToDer("certs-dev/eboks-mailbox.pem"));
  ASSERT_THAT(cms, IsOk());
  std::string in = TempPath("pkg.cms"), out = TempPath("pkg.out"),
              print = TempPath("pkg.txt");
  WriteFile(in, *cms);
  ASSERT_EQ(RunCommand(absl::StrCat(
                "openssl cms -decrypt -binary -inform DER -in ", in,
                " -recip certs-dev/eboks-mailbox.pem -inkey "
                "certs-dev/eboks-mailbox.key -out ",
                out)),
            0);
  EXPECT_EQ(ReadFile(out), content);
  // RSA-OAEP with SHA-256 (and MGF1 with SHA-256) and AES-256-CBC.
  ASSERT_EQ(
      RunCommand(absl::StrCat("openssl cms -cmsout -print -inform DER -in ", in,
                              " > ", print)),
      0);
  std::string dump = ReadFile(print);
  EXPECT_THAT(dump, HasSubstr("rsaesOaep"));
  EXPECT_THAT(dump, HasSubstr("sha256"));
  EXPECT_THAT(dump, HasSubstr("mgf1"));
  EXPECT_THAT(dump, HasSubstr("aes-256-cbc"));
  // Another key cannot open it.
  EXPECT_NE(RunCommand(absl::StrCat(
                "openssl cms -decrypt -binary -inform DER -in ", in,
                " -recip certs-dev/sender.pem -inkey certs-dev/sender.key "
                "-out ",
                out)),
            0);
}

TEST(DpiCmsTest, RefusesSomethingThatIsNotACertificate) {
  EXPECT_THAT(EncryptCms("x", "not a certificate"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(DpiCmsTest, CertificateToDerReadsPemBase64AndDer) {
  std::string der = PemFileToDer("certs-dev/eboks-mailbox.pem");
  ASSERT_FALSE(der.empty());
  EXPECT_EQ(*CertificateToDer(der), der);
  EXPECT_EQ(*CertificateToDer(absl::Base64Escape(der)), der);
  EXPECT_THAT(CertificateToDer("abc"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

// ---- JWS ------------------------------------------------------------------

TEST(DpiJwsTest, Rs256WithX5cVerifiesWithOpenssl) {
  auto signer = Sender();
  std::string payload = R"({"standardBusinessDocumentHeader":{}})";
  absl::StatusOr<std::string> jws = signer->SignJws(payload);
  ASSERT_THAT(jws, IsOk());
  std::vector<std::string> parts = absl::StrSplit(*jws, '.');
  ASSERT_THAT(parts, SizeIs(3));
  std::string header_text, payload_text, signature;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header_text));
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[1], &payload_text));
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[2], &signature));
  EXPECT_FALSE(absl::StrContains(*jws, "="));
  EXPECT_EQ(payload_text, payload);
  json header = json::parse(header_text);
  EXPECT_EQ(header["alg"], "RS256");
  ASSERT_TRUE(header["x5c"].is_array());
  std::string leaf;
  ASSERT_TRUE(absl::Base64Unescape(header["x5c"][0].get<std::string>(), &leaf));
  EXPECT_EQ(leaf, PemFileToDer("certs-dev/sender.pem"));

  std::string data = TempPath("jws.in"), sig = TempPath("jws.sig"),
              pub = TempPath("jws.pub");
  WriteFile(data, absl::StrCat(parts[0], ".", parts[1]));
  WriteFile(sig, signature);
  ASSERT_EQ(
      RunCommand(absl::StrCat(
          "openssl x509 -in certs-dev/sender.pem -pubkey -noout > ", pub)),
      0);
  EXPECT_EQ(
      RunCommand(absl::StrCat("openssl dgst -sha256 -verify ", pub,
                              " -signature ", sig, " ", data, " >/dev/null")),
      0);
}

// A receipt signed outside the adapter: RS256 with the key in `key_file`,
// x5c = the certificate in `cert_file`.
std::string SignReceipt(const std::string& key_file,
                        const std::string& cert_file,
                        const std::string& payload) {
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

TEST(DpiReceiptVerifierTest, AcceptsTheProvidersReceiptOnly) {
  auto pinned = DpiReceiptVerifier::FromFiles("certs-dev/ca.pem",
                                              "certs-dev/dpi-provider.pem");
  ASSERT_THAT(pinned, IsOk());
  const std::string payload = R"({"standardBusinessDocumentHeader":{"a":1}})";
  std::string good = SignReceipt("certs-dev/dpi-provider.key",
                                 "certs-dev/dpi-provider.pem", payload);
  absl::StatusOr<json> verified = (*pinned)->Verify(good);
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ((*verified)["standardBusinessDocumentHeader"]["a"], 1);

  // The payload changed after signing.
  std::vector<std::string> parts = absl::StrSplit(good, '.');
  std::string tampered = absl::StrCat(
      parts[0], ".",
      Base64UrlEncode(R"({"standardBusinessDocumentHeader":{"a":2}})"), ".",
      parts[2]);
  EXPECT_THAT((*pinned)->Verify(tampered),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
  // Signed by another certificate of the same CA: not the provider.
  EXPECT_THAT((*pinned)->Verify(SignReceipt("certs-dev/sender.key",
                                            "certs-dev/sender.pem", payload)),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
  // Signed under another CA.
  auto ca_only = DpiReceiptVerifier::FromFiles("certs-dev/ca.pem", "");
  ASSERT_THAT(ca_only, IsOk());
  EXPECT_THAT((*ca_only)->Verify(good), IsOk());
  EXPECT_THAT((*ca_only)->Verify(SignReceipt(
                  "certs-dev/stranger.key", "certs-dev/stranger.pem", payload)),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_THAT((*pinned)->Verify("a.b"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

// ---- The channel over a fake HTTP client ----------------------------------

// Hands out "stale" until told it was refused, then "fresh".
class RotatingTokens final : public TokenSource {
 public:
  absl::StatusOr<std::string> Token(const std::string& scope) override {
    scopes.push_back(scope);
    return invalidated ? "fresh" : "stale";
  }
  void Invalidate(const std::string&, const std::string& token) override {
    if (token == "stale") invalidated = true;
  }
  bool invalidated = false;
  std::vector<std::string> scopes;
};

struct Parts {
  std::string jws;
  std::string package;
};

// The two parts of a send, read with the boundary of its Content-Type.
Parts ReadParts(const HttpRequest& request) {
  std::string type = *FindHeader(request.headers, "Content-Type");
  std::string boundary = type.substr(type.find("boundary=") + 9);
  Parts parts;
  std::vector<std::string> pieces =
      absl::StrSplit(request.body, absl::StrCat("--", boundary));
  for (const std::string& piece : pieces) {
    size_t blank = piece.find("\r\n\r\n");
    if (blank == std::string::npos) continue;
    std::string body = piece.substr(blank + 4);
    if (absl::EndsWith(body, "\r\n")) body.resize(body.size() - 2);
    if (absl::StrContains(piece.substr(0, blank),
                          "name=\"forretningsmelding\"")) {
      parts.jws = body;
    } else if (absl::StrContains(piece.substr(0, blank),
                                 "name=\"dokumentpakke\"")) {
      parts.package = body;
    }
  }
  return parts;
}

class DpiChannelTest : public ::testing::Test {
 protected:
  std::unique_ptr<Channel> Make(FakeHttpClient* http, TokenSource* tokens) {
    DpiOptions options;
    options.base_url = "https://dpi.example/";
    options.signing_key_file = "certs-dev/sender.key";
    options.certificate_file = "certs-dev/sender.pem";
    options.provider_certificate_file = "certs-dev/dpi-provider.pem";
    options.provider_ca_file = "certs-dev/ca.pem";
    options.sender_id = "avsender-1";
    options.registry = registry_;
    options.clock = &clock_;
    auto channel = NewDpiChannel(options, http, tokens);
    EXPECT_THAT(channel, IsOk());
    return channel.ok() ? *std::move(channel) : nullptr;
  }

  static OutgoingLetter Letter() {
    OutgoingLetter letter;
    letter.message_id = kMessageId;
    letter.tenant = "964338531";
    letter.person_number = "30925910089";
    letter.title = "Vedtak om eiendomsskatt";
    letter.documents = {{"vedtak.pdf", "application/pdf", kPdf, ""}};
    letter.mailbox_address = "per.eboksen#9C0D";
    letter.mailbox_provider = "922020175";
    letter.mailbox_certificate = PemFileToDer("certs-dev/eboks-mailbox.pem");
    return letter;
  }

  FakeClock clock_{kNow};
  Registry* registry_ = nullptr;
};

TEST_F(DpiChannelTest, SendsASignedBusinessMessageAndTheEncryptedPackage) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{200, {}, R"({"status":"MOTTATT"})"};
  });
  StaticTokenSource tokens("t0k3n");
  auto channel = Make(&http, &tokens);
  EXPECT_EQ(channel->name(), "dpi");
  OutgoingLetter letter = Letter();
  letter.confidential = true;
  absl::StatusOr<SendResult> result = channel->Send(letter);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kAccepted);

  ASSERT_THAT(http.requests(), SizeIs(1));
  const HttpRequest request = http.requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://dpi.example/messages/out");
  EXPECT_EQ(FindHeader(request.headers, "Authorization"), "Bearer t0k3n");
  Parts parts = ReadParts(request);
  ASSERT_FALSE(parts.jws.empty());
  ASSERT_FALSE(parts.package.empty());

  // The business message verifies like a receipt would (same JWS rules),
  // against the sender's CA.
  auto verifier =
      DpiReceiptVerifier::FromFiles("certs-dev/ca.pem", "certs-dev/sender.pem");
  absl::StatusOr<json> payload = (*verifier)->Verify(parts.jws);
  ASSERT_THAT(payload, IsOk());
  ASSERT_TRUE(payload->contains("standardBusinessDocument"));
  EXPECT_THAT(*payload, SizeIs(1));
  const json& sbd = (*payload)["standardBusinessDocument"];
  const json& h = sbd["standardBusinessDocumentHeader"];
  EXPECT_EQ(h["headerVersion"], "1.0");
  EXPECT_EQ(h["sender"][0]["identifier"]["authority"], "iso6523-actorid-upis");
  EXPECT_EQ(h["sender"][0]["identifier"]["value"], "0192:964338531");
  // The mailbox provider, never the person.
  EXPECT_EQ(h["receiver"][0]["identifier"]["value"], "0192:922020175");
  EXPECT_THAT(h.dump(), Not(HasSubstr("30925910089")));
  EXPECT_EQ(h["documentIdentification"]["standard"],
            "urn:fdc:digdir.no:2020:innbyggerpost:xsd:digital::digital##"
            "urn:fdc:digdir.no:2020:innbyggerpost:schema:digital::1.0");
  EXPECT_EQ(h["documentIdentification"]["instanceIdentifier"], kMessageId);
  EXPECT_EQ(h["documentIdentification"]["type"], "digital");
  EXPECT_EQ(h["documentIdentification"]["creationDateAndTime"],
            "2026-11-23T09:20:00.000Z");
  const json& scope = h["businessScope"]["scope"][0];
  EXPECT_EQ(scope["type"], "ConversationId");
  EXPECT_EQ(scope["instanceIdentifier"], kMessageId);
  EXPECT_EQ(scope["identifier"],
            "urn:fdc:digdir.no:2020:profile:egovernment:innbyggerpost:"
            "digital:ver1.0");
  const json& d = sbd["digital"];
  EXPECT_EQ(d["avsender"]["virksomhetsidentifikator"]["value"],
            "0192:964338531");
  EXPECT_EQ(d["avsender"]["avsenderidentifikator"], "avsender-1");
  EXPECT_EQ(d["mottaker"], json({{"postkasseadresse", "per.eboksen#9C0D"}}));
  EXPECT_EQ(d["maskinportentoken"], "t0k3n");
  EXPECT_EQ(d["sikkerhetsnivaa"], 4);
  // Confidential: the title stays inside the package.
  EXPECT_EQ(d["ikkesensitivtittel"], "Brev");
  EXPECT_EQ(d["spraak"], "no");
  EXPECT_EQ(d["virkningsdato"], "2026-11-23");
  EXPECT_EQ(d["aapningskvittering"], true);
  EXPECT_FALSE(d.contains("varsler"));
  EXPECT_EQ(d["dokumentpakkefingeravtrykk"]["digestMethod"],
            "http://www.w3.org/2001/04/xmlenc#sha256");
  EXPECT_EQ(d["dokumentpakkefingeravtrykk"]["digestValue"],
            absl::Base64Escape(Sha256(parts.package)));
  EXPECT_EQ(result->provider, "922020175");

  // The package opens with the mailbox key, and holds the document.
  std::string in = TempPath("send.cms"), out = TempPath("send.zip");
  WriteFile(in, parts.package);
  ASSERT_EQ(RunCommand(absl::StrCat(
                "openssl cms -decrypt -binary -inform DER -in ", in,
                " -recip certs-dev/eboks-mailbox.pem -inkey "
                "certs-dev/eboks-mailbox.key -out ",
                out)),
            0);
  std::map<std::string, std::string> files;
  for (auto& [name, content] : Unzip(ReadFile(out))) files[name] = content;
  EXPECT_EQ(files["vedtak.pdf"], kPdf);
  EXPECT_THAT(files["manifest.xml"],
              HasSubstr("<postkasseadresse>per.eboksen#9C0D<"));
  EXPECT_THAT(files["META-INF/signatures.xml"],
              HasSubstr("URI=\"vedtak.pdf\""));
}

TEST_F(DpiChannelTest, AnyFileNameStillMakesAPackage) {
  // Names the container cannot carry (longer than a zip entry's name may
  // be, or with control characters) are replaced, never a retried error.
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{200, {}, "{}"};
  });
  StaticTokenSource tokens("t");
  auto channel = Make(&http, &tokens);
  for (std::string name :
       {std::string(70000, 'n') + ".pdf", std::string("a\nb\0c.pdf", 9)}) {
    OutgoingLetter letter = Letter();
    letter.documents[0].file_name = name;
    EXPECT_THAT(channel->Send(letter), IsOk()) << name.size();
  }
}

TEST_F(DpiChannelTest, ReplacesARefusedTokenOnce) {
  FakeHttpClient http([](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
    if (FindHeader(r.headers, "Authorization") == "Bearer fresh") {
      return HttpResponse{200, {}, "{}"};
    }
    return HttpResponse{401, {}, "{}"};
  });
  RotatingTokens tokens;
  auto channel = Make(&http, &tokens);
  EXPECT_THAT(channel->Send(Letter()), IsOk());
  EXPECT_TRUE(tokens.invalidated);
  EXPECT_THAT(http.requests(), SizeIs(2));
  EXPECT_THAT(tokens.scopes, ElementsAre("digitalpostinnbygger:send",
                                         "digitalpostinnbygger:send"));
}

TEST_F(DpiChannelTest, ClassifiesTheProvidersAnswers) {
  struct Case {
    int status;
    std::string body;
    absl::StatusCode code;
  };
  const std::vector<Case> cases = {
      {401, "{}", absl::StatusCode::kUnauthenticated},
      {403, "{}", absl::StatusCode::kPermissionDenied},
      {404, "{}", absl::StatusCode::kFailedPrecondition},
      {405, "{}", absl::StatusCode::kFailedPrecondition},
      {415, "{}", absl::StatusCode::kFailedPrecondition},
      {413, "{}", absl::StatusCode::kInvalidArgument},
      {414, "{}", absl::StatusCode::kInvalidArgument},
      {422, "{}", absl::StatusCode::kInvalidArgument},
      {431, "{}", absl::StatusCode::kInvalidArgument},
      {408, "{}", absl::StatusCode::kDeadlineExceeded},
      {429, "{}", absl::StatusCode::kResourceExhausted},
      {503, "{}", absl::StatusCode::kUnavailable},
      {400, R"({"kode":"UGYLDIG_SIGNATUR","feiltype":"KLIENT"})",
       absl::StatusCode::kFailedPrecondition},
      {400, R"({"kode":"UGYLDIG_FINGERAVTRYKK","feiltype":"KLIENT"})",
       absl::StatusCode::kFailedPrecondition},
      {400, R"({"kode":"UDEKRYPTERBAR_DOKUMENTPAKKE","feiltype":"KLIENT"})",
       absl::StatusCode::kInvalidArgument},
      {400, R"({"kode":"UKJENT_MOTTAKER","detail":"30925910089 unknown"})",
       absl::StatusCode::kInvalidArgument},
      {400, R"({"kode":"X","feiltype":"SERVER"})",
       absl::StatusCode::kUnavailable},
  };
  for (const Case& c : cases) {
    FakeHttpClient http(
        [&](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
          return HttpResponse{c.status, {}, c.body};
        });
    StaticTokenSource tokens("t");
    auto channel = Make(&http, &tokens);
    absl::StatusOr<SendResult> result = channel->Send(Letter());
    EXPECT_THAT(result, StatusIs(c.code, ::testing::_))
        << c.status << " " << c.body;
    if (!result.ok()) {
      EXPECT_THAT(result.status().message(), Not(HasSubstr("30925910089")));
    }
  }
  FakeHttpClient duplicate(
      [](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
        return HttpResponse{409, {}, R"({"kode":"DUPLIKAT"})"};
      });
  StaticTokenSource tokens("t");
  absl::StatusOr<SendResult> result = Make(&duplicate, &tokens)->Send(Letter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kDuplicate);
}

TEST_F(DpiChannelTest, RefusesALetterItCannotSendBeforeSending) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{200, {}, "{}"};
  });
  StaticTokenSource tokens("t");
  auto channel = Make(&http, &tokens);
  OutgoingLetter no_cert = Letter();
  no_cert.mailbox_certificate.clear();
  OutgoingLetter bad_cert = Letter();
  bad_cert.mailbox_certificate = "garbage";
  OutgoingLetter organisation = Letter();
  organisation.person_number.clear();
  organisation.organisation_number = "964338531";
  OutgoingLetter bad_id = Letter();
  bad_id.message_id = "not-a-uuid";
  for (const OutgoingLetter& letter :
       {no_cert, bad_cert, organisation, bad_id}) {
    EXPECT_THAT(channel->Send(letter),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  }
  EXPECT_THAT(http.requests(), SizeIs(0));
}

TEST_F(DpiChannelTest, ARetriedSendCarriesTheNewTokenInItsMessage) {
  std::vector<std::string> tokens_in_messages;
  FakeHttpClient http([&](const HttpRequest& r)
                          -> absl::StatusOr<HttpResponse> {
    auto verifier = DpiReceiptVerifier::FromFiles("certs-dev/ca.pem", "");
    absl::StatusOr<json> payload = (*verifier)->Verify(ReadParts(r).jws);
    EXPECT_THAT(payload, IsOk());
    if (payload.ok()) {
      tokens_in_messages.push_back((*payload)["standardBusinessDocument"]
                                             ["digital"]["maskinportentoken"]);
    }
    return HttpResponse{
        FindHeader(r.headers, "Authorization") == "Bearer fresh" ? 201 : 401,
        {},
        ""};
  });
  RotatingTokens tokens;
  auto channel = Make(&http, &tokens);
  EXPECT_THAT(channel->Send(Letter()), IsOk());
  EXPECT_THAT(tokens_in_messages, ElementsAre("stale", "fresh"));
}

class FakeRegistry final : public Registry {
 public:
  absl::StatusOr<std::vector<PersonContact>> LookupPersons(
      const std::vector<std::string>& numbers) override {
    ++calls;
    if (!answer.ok()) return answer.status();
    return std::vector<PersonContact>{*answer};
  }
  absl::StatusOr<PersonContact> answer;
  int calls = 0;
};

PersonContact EboksContact() {
  PersonContact c;
  c.person_number = "30925910089";
  c.status = PersonContact::Status::kActive;
  c.mailbox_address = "per.eboksen#NEW1";
  c.mailbox_provider = "922020175";
  c.mailbox_certificate = PemFileToDer("certs-dev/eboks-mailbox.pem");
  c.email = "per@example.no";
  c.mobile = "+4799999999";
  return c;
}

// The registry step is the channel's own: the mailbox the registry gives
// now, not what the letter carried, and its notice addresses.
TEST_F(DpiChannelTest, AsksTheRegistryForTheMailboxJustBeforeSending) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{201, {}, ""};
  });
  StaticTokenSource tokens("t");
  FakeRegistry registry;
  registry.answer = EboksContact();
  registry_ = &registry;
  auto channel = Make(&http, &tokens);
  OutgoingLetter letter = Letter();
  letter.mailbox_address.clear();
  letter.mailbox_certificate.clear();
  ASSERT_THAT(channel->Send(letter), IsOk());
  EXPECT_EQ(registry.calls, 1);
  auto verifier = DpiReceiptVerifier::FromFiles("certs-dev/ca.pem", "");
  absl::StatusOr<json> payload =
      (*verifier)->Verify(ReadParts(http.requests()[0]).jws);
  ASSERT_THAT(payload, IsOk());
  const json& d = (*payload)["standardBusinessDocument"]["digital"];
  EXPECT_EQ(d["mottaker"]["postkasseadresse"], "per.eboksen#NEW1");
  EXPECT_EQ(d["ikkesensitivtittel"], "Vedtak om eiendomsskatt");
  EXPECT_EQ(d["varsler"]["epostvarsel"]["epostadresse"], "per@example.no");
  EXPECT_EQ(d["varsler"]["epostvarsel"]["repetisjoner"], json({0, 7}));
  EXPECT_EQ(d["varsler"]["smsvarsel"]["mobiltelefonnummer"], "+4799999999");
  EXPECT_EQ(d["varsler"]["smsvarsel"]["varslingstekst"],
            "Du har mottatt et brev i din digitale postkasse.");

  // Refusals keep their class; nothing is sent.
  struct Case {
    absl::StatusOr<PersonContact> answer;
    absl::StatusCode code;
  };
  PersonContact reserved = EboksContact();
  reserved.reserved = true;
  PersonContact digipost = EboksContact();
  digipost.mailbox_provider = "Digipost";
  PersonContact no_mailbox = EboksContact();
  no_mailbox.mailbox_address.clear();
  std::vector<Case> cases = {
      {absl::UnavailableError("krr down"), absl::StatusCode::kUnavailable},
      {absl::PermissionDeniedError("scope"),
       absl::StatusCode::kPermissionDenied},
      {reserved, absl::StatusCode::kInvalidArgument},
      {digipost, absl::StatusCode::kInvalidArgument},
      {no_mailbox, absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    registry.answer = c.answer;
    EXPECT_THAT(channel->Send(letter), StatusIs(c.code, ::testing::_));
  }
  EXPECT_THAT(http.requests(), SizeIs(1));
  registry_ = nullptr;
}

class DpiPrintChannelTest : public DpiChannelTest {
 protected:
  std::unique_ptr<Channel> MakePrint(FakeHttpClient* http,
                                     TokenSource* tokens) {
    DpiOptions options;
    options.base_url = "https://dpi.example";
    options.signing_key_file = "certs-dev/sender.key";
    options.certificate_file = "certs-dev/sender.pem";
    options.certificate_root_file = "certs-dev/ca.pem";
    options.provider_ca_file = "certs-dev/ca.pem";
    options.print_provider = "974761076";
    options.print_certificate_file = "certs-dev/stranger.pem";
    options.clock = &clock_;
    auto channel = NewDpiPrintChannel(options, http, tokens);
    EXPECT_THAT(channel, IsOk());
    return channel.ok() ? *std::move(channel) : nullptr;
  }

  static OutgoingLetter PrintLetter() {
    OutgoingLetter letter = Letter();
    letter.mailbox_address.clear();
    letter.mailbox_provider.clear();
    letter.mailbox_certificate.clear();
    letter.recipient_address = {
        "Per Eboksen", {"Storgata 1", "Leilighet H0201"}, "0150", "Oslo", ""};
    letter.return_address = {
        "Eksempel kommune", {"Postboks 1"}, "5020", "Bergen", ""};
    letter.color = true;
    letter.a_post = true;
    letter.shred_if_undeliverable = true;
    return letter;
  }
};

TEST_F(DpiPrintChannelTest, SendsUtskriftToThePrintProvider) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{201, {}, ""};
  });
  StaticTokenSource tokens("t0k3n");
  auto channel = MakePrint(&http, &tokens);
  EXPECT_EQ(channel->name(), "dpi-print");
  absl::StatusOr<SendResult> result = channel->Send(PrintLetter());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->provider, "974761076");
  Parts parts = ReadParts(http.requests()[0]);
  auto verifier = DpiReceiptVerifier::FromFiles("certs-dev/ca.pem", "");
  absl::StatusOr<json> payload = (*verifier)->Verify(parts.jws);
  ASSERT_THAT(payload, IsOk());
  const json& sbd = (*payload)["standardBusinessDocument"];
  const json& h = sbd["standardBusinessDocumentHeader"];
  EXPECT_EQ(h["receiver"][0]["identifier"]["value"], "0192:974761076");
  EXPECT_EQ(h["documentIdentification"]["type"], "utskrift");
  EXPECT_EQ(h["documentIdentification"]["standard"],
            "urn:fdc:digdir.no:2020:innbyggerpost:xsd:digital::utskrift##"
            "urn:fdc:digdir.no:2020:innbyggerpost:schema:utskrift::1.0");
  EXPECT_EQ(h["businessScope"]["scope"][0]["identifier"],
            "urn:fdc:digdir.no:2020:profile:egovernment:innbyggerpost:"
            "utskrift:ver1.0");
  EXPECT_FALSE(sbd.contains("digital"));
  const json& u = sbd["utskrift"];
  EXPECT_EQ(u["mottaker"], json({{"navn", "Per Eboksen"},
                                 {"adresselinje1", "Storgata 1"},
                                 {"adresselinje2", "Leilighet H0201"},
                                 {"postnummer", "0150"},
                                 {"poststed", "Oslo"}}));
  EXPECT_EQ(u["retur"]["mottaker"]["navn"], "Eksempel kommune");
  EXPECT_EQ(u["retur"]["returposthaandtering"], "MAKULERING_MED_MELDING");
  EXPECT_EQ(u["utskriftstype"], "FARGE");
  EXPECT_EQ(u["posttype"], "A");
  EXPECT_EQ(u["maskinportentoken"], "t0k3n");
  EXPECT_THAT(payload->dump(), Not(HasSubstr("30925910089")));

  // Encrypted to the print provider's certificate.
  std::string in = TempPath("print.cms"), out = TempPath("print.zip");
  WriteFile(in, parts.package);
  ASSERT_EQ(RunCommand(absl::StrCat(
                "openssl cms -decrypt -binary -inform DER -in ", in,
                " -recip certs-dev/stranger.pem -inkey certs-dev/stranger.key "
                "-out ",
                out)),
            0);
  std::map<std::string, std::string> files;
  for (auto& [name, content] : Unzip(ReadFile(out))) files[name] = content;
  EXPECT_EQ(files["vedtak.pdf"], kPdf);
  EXPECT_THAT(files["manifest.xml"], Not(HasSubstr("<mottaker>")));
}

TEST_F(DpiPrintChannelTest, ForeignAddressAndMonochromeBPost) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{201, {}, ""};
  });
  StaticTokenSource tokens("t");
  auto channel = MakePrint(&http, &tokens);
  OutgoingLetter letter = PrintLetter();
  letter.recipient_address = {
      "Sven Svensson", {"Storgatan 2"}, "111 22", "Stockholm", "se"};
  letter.color = false;
  letter.a_post = false;
  letter.shred_if_undeliverable = false;
  ASSERT_THAT(channel->Send(letter), IsOk());
  auto verifier = DpiReceiptVerifier::FromFiles("certs-dev/ca.pem", "");
  absl::StatusOr<json> payload =
      (*verifier)->Verify(ReadParts(http.requests()[0]).jws);
  ASSERT_THAT(payload, IsOk());
  const json& u = (*payload)["standardBusinessDocument"]["utskrift"];
  EXPECT_EQ(u["mottaker"], json({{"navn", "Sven Svensson"},
                                 {"adresselinje1", "Storgatan 2"},
                                 {"adresselinje2", "111 22 Stockholm"},
                                 {"landkode", "SE"}}));
  EXPECT_EQ(u["utskriftstype"], "SORT_HVIT");
  EXPECT_EQ(u["posttype"], "B");
  EXPECT_EQ(u["retur"]["returposthaandtering"], "DIREKTE_RETUR");
}

TEST_F(DpiPrintChannelTest, RefusesAddressesThePrintProviderCannotUse) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{201, {}, ""};
  });
  StaticTokenSource tokens("t");
  auto channel = MakePrint(&http, &tokens);
  OutgoingLetter no_name = PrintLetter();
  no_name.recipient_address.name.clear();
  OutgoingLetter bad_code = PrintLetter();
  bad_code.recipient_address.postal_code = "150";
  OutgoingLetter five_lines = PrintLetter();
  five_lines.recipient_address.lines = {"1", "2", "3", "4", "5"};
  OutgoingLetter long_line = PrintLetter();
  long_line.recipient_address.lines = {std::string(101, 'x')};
  for (const OutgoingLetter& l : {no_name, bad_code, five_lines, long_line}) {
    EXPECT_THAT(channel->Send(l),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  }
  OutgoingLetter no_return = PrintLetter();
  no_return.return_address = {};
  EXPECT_THAT(channel->Send(no_return),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_THAT(http.requests(), SizeIs(0));
}

TEST(DpiPrintChannelOptionsTest, NeedsThePrintProviderAndItsCertificate) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{201, {}, ""};
  });
  StaticTokenSource tokens("t");
  DpiOptions options;
  options.base_url = "https://dpi.example";
  options.signing_key_file = "certs-dev/sender.key";
  options.certificate_file = "certs-dev/sender.pem";
  options.provider_ca_file = "certs-dev/ca.pem";
  options.print_certificate_file = "certs-dev/stranger.pem";
  options.print_provider = "97476107";
  EXPECT_THAT(NewDpiPrintChannel(options, &http, &tokens),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dpi.print_provider")));
  options.print_provider = "974761076";
  options.print_certificate_file = "certs-dev/nothing.pem";
  EXPECT_THAT(NewDpiPrintChannel(options, &http, &tokens),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dpi.print_certificate_file")));
  options.print_certificate_file = "certs-dev/stranger.pem";
  options.language = "NO";
  EXPECT_THAT(
      NewDpiPrintChannel(options, &http, &tokens),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dpi.language")));
}

// A receipt in the published shape (tests/published/dpi/receipts/ has the
// schemas; dpi_receipts_test.cc checks every type against them).
json ReceiptSbd(const std::string& id, const std::string& type,
                const json& fields) {
  json org = {{"authority", "iso6523-actorid-upis"},
              {"value", "0192:922020175"}};
  json body = {{"avsender",
                {{"virksomhetsidentifikator",
                  {{"authority", "iso6523-actorid-upis"},
                   {"value", "0192:964338531"}}}}},
               {"mottaker", {{"virksomhetsidentifikator", org}}},
               {"tidspunkt", "2026-11-23T10:00:00Z"}};
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    body[it.key()] = it.value();
  }
  return {{"standardBusinessDocument",
           {{"standardBusinessDocumentHeader",
             {{"headerVersion", "1.0"},
              {"sender", {{{"identifier", org}}}},
              {"documentIdentification",
               {{"instanceIdentifier", id},
                {"type", type},
                {"creationDateAndTime", "2026-11-23T10:00:00Z"}}},
              {"businessScope",
               {{"scope",
                 {{{"type", "ConversationId"},
                   {"instanceIdentifier", kMessageId}}}}}}}},
            {type, body}}}};
}

TEST_F(DpiChannelTest, TurnsVerifiedReceiptsIntoEventsAndSkipsForgedOnes) {
  const std::string r1 = "11111111-2222-4333-8444-555555555501";
  const std::string r2 = "11111111-2222-4333-8444-555555555502";
  const std::string r3 = "11111111-2222-4333-8444-555555555503";
  std::string delivered =
      SignReceipt("certs-dev/dpi-provider.key", "certs-dev/dpi-provider.pem",
                  ReceiptSbd(r1, "leveringskvittering",
                             {{"tidspunkt", "2026-11-23T10:00:01Z"}})
                      .dump());
  std::string forged =
      SignReceipt("certs-dev/sender.key", "certs-dev/sender.pem",
                  ReceiptSbd(r2, "aapningskvittering", json::object()).dump());
  std::string failed = SignReceipt(
      "certs-dev/dpi-provider.key", "certs-dev/dpi-provider.pem",
      ReceiptSbd(r3, "feil",
                 {{"feiltype", "KLIENT"}, {"detaljer", "ugyldig dokument"}})
          .dump());
  // The entries have no id of their own: the signed one counts.
  json queue = json::array({{{"forretningsmelding", delivered}},
                            {{"forretningsmelding", forged}},
                            {{"forretningsmelding", failed}}});
  FakeHttpClient http(
      [&](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
        if (r.method == "GET") return HttpResponse{200, {}, queue.dump()};
        return HttpResponse{200, {}, ""};
      });
  RotatingTokens tokens;
  tokens.invalidated = true;
  auto channel = Make(&http, &tokens);
  absl::StatusOr<std::vector<ProviderEvent>> events = channel->FetchEvents(10);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(2));
  EXPECT_EQ((*events)[0].event_id, r1);
  EXPECT_EQ((*events)[0].message_id, kMessageId);
  EXPECT_EQ((*events)[0].kind, ProviderEvent::Kind::kDelivered);
  EXPECT_EQ((*events)[0].time_ms, 1795428001000);
  EXPECT_EQ((*events)[0].provider, "922020175");
  EXPECT_EQ((*events)[0].evidence, delivered);
  EXPECT_EQ((*events)[1].kind, ProviderEvent::Kind::kFailed);
  EXPECT_EQ((*events)[1].reason, "KLIENT: ugyldig dokument");
  EXPECT_EQ(http.requests()[0].url,
            "https://dpi.example/messages/in?page_size=10"
            "&avsenderidentifikator=avsender-1");

  ASSERT_THAT(channel->ConfirmEvents({r1, r3}), IsOk());
  std::vector<HttpRequest> requests = http.requests();
  ASSERT_THAT(requests, SizeIs(3));
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[1].url,
            absl::StrCat("https://dpi.example/messages/in/", r1, "/read"));
  EXPECT_THAT(tokens.scopes, Contains("digitalpostinnbygger:send"));
}

}  // namespace
}  // namespace utpost::adapters
