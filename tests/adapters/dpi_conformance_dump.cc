// Writes what the DPI channels send for several letter shapes, for the
// conformance check that does not trust the simulator
// (tests/published/dpi/check_dpi.py): per case <dir>/<case>.jwt (the
// "forretningsmelding" part) and <dir>/<case>.cms (the "dokumentpakke"
// part), taken from the request over a fake HTTP client. Run from the
// repository root (certs-dev/). Exit status 0 when every case was sent.
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "adapters/channel.h"
#include "adapters/dpi/dpi_channel.h"
#include "adapters/dpi/dpi_crypto.h"
#include "adapters/http/fake_http_client.h"
#include "adapters/http/token_source.h"
#include "common/clock.h"

namespace utpost::adapters {
namespace {

constexpr char kPdf[] = "%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class OneContact final : public Registry {
 public:
  explicit OneContact(PersonContact contact) : contact_(std::move(contact)) {}
  absl::StatusOr<std::vector<PersonContact>> LookupPersons(
      const std::vector<std::string>&) override {
    return std::vector<PersonContact>{contact_};
  }

 private:
  PersonContact contact_;
};

// The two parts of the multipart body.
bool WriteParts(const HttpRequest& request, const std::string& prefix) {
  const std::string type =
      FindHeader(request.headers, "Content-Type").value_or("");
  const std::string boundary = type.substr(type.find("boundary=") + 9);
  int found = 0;
  std::vector<std::string> pieces =
      absl::StrSplit(request.body, absl::StrCat("--", boundary));
  for (const std::string& piece : pieces) {
    size_t blank = piece.find("\r\n\r\n");
    if (blank == std::string::npos) continue;
    std::string head = piece.substr(0, blank);
    std::string body = piece.substr(blank + 4);
    if (absl::EndsWith(body, "\r\n")) body.resize(body.size() - 2);
    const char* ext =
        absl::StrContains(head, "name=\"forretningsmelding\"") ? ".jwt"
        : absl::StrContains(head, "name=\"dokumentpakke\"")    ? ".cms"
                                                               : nullptr;
    if (ext == nullptr) continue;
    std::ofstream(prefix + ext, std::ios::binary) << body;
    ++found;
  }
  return found == 2;
}

int Run(const std::string& dir) {
  FakeClock clock(1795425600000);  // 2026-11-23T09:20:00Z
  std::vector<HttpRequest> sent;
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse{201, {}, ""};
  });
  StaticTokenSource tokens(
      "eyJhbGciOiJSUzI1NiJ9.eyJzY29wZSI6ImRpZ2l0YWxwb3N0aW5uYnlnZ2VyOnNlbmQifQ."
      "c2ln");
  DpiOptions options;
  options.base_url = "https://dpi.example";
  options.signing_key_file = "certs-dev/sender.key";
  options.certificate_file = "certs-dev/sender.pem";
  options.certificate_root_file = "certs-dev/ca.pem";
  options.provider_ca_file = "certs-dev/ca.pem";
  options.print_provider = "974761076";
  options.print_certificate_file = "certs-dev/eboks-mailbox.pem";
  options.clock = &clock;

  OutgoingLetter base;
  base.message_id = "0b6b1f0e-6a3c-4c57-9a43-3f1d2c9e8a10";
  base.tenant = "964338531";
  base.person_number = "30925910089";
  base.title = "Vedtak om eiendomsskatt";
  base.documents = {{"vedtak.pdf", "application/pdf", kPdf, ""}};
  base.mailbox_address = "per.eboksen#9C0D";
  base.mailbox_provider = "922020175";
  absl::StatusOr<std::string> cert =
      CertificateToDer(ReadFile("certs-dev/eboks-mailbox.pem"));
  if (!cert.ok()) return 2;
  base.mailbox_certificate = *cert;
  base.recipient_address = {"Per Eboksen", {"Storgata 1"}, "0150", "Oslo", ""};
  base.return_address = {
      "Eksempel kommune", {"Postboks 1", "Rådhuset"}, "5020", "Bergen", ""};

  PersonContact contact;
  contact.person_number = base.person_number;
  contact.status = PersonContact::Status::kActive;
  contact.mailbox_address = base.mailbox_address;
  contact.mailbox_provider = base.mailbox_provider;
  contact.mailbox_certificate = base.mailbox_certificate;
  contact.email = "per@example.no";
  contact.mobile = "+47 999 99 999";
  OneContact registry(contact);

  struct Case {
    std::string name;
    bool print;
    bool with_registry;
    std::function<void(OutgoingLetter&, DpiOptions&)> shape;
  };
  const std::vector<Case> cases = {
      {"digital-plain", false, false, [](OutgoingLetter&, DpiOptions&) {}},
      {"digital-confidential-notices", false, true,
       [](OutgoingLetter& l, DpiOptions& o) {
         l.confidential = true;
         o.sender_id = "avsender-1";
       }},
      {"digital-attachments-odd-names", false, false,
       [](OutgoingLetter& l, DpiOptions&) {
         l.title = std::string(300, 'T');
         l.documents.push_back(
             {"vedlegg æøå & <1>.pdf", "application/pdf", "%PDF-1.4 a", ""});
         l.documents.push_back({"a.b", "text/plain", "hei", ""});
         l.documents.push_back({std::string(150, 'n') + ".pdf", "", kPdf, ""});
       }},
      {"print-norway", true, false, [](OutgoingLetter&, DpiOptions&) {}},
      {"print-abroad-colour-a-shred", true, false,
       [](OutgoingLetter& l, DpiOptions&) {
         l.recipient_address = {"Sven Svensson",
                                {"Storgatan 2", "Lgh 1101"},
                                "111 22",
                                "Stockholm",
                                "SE"};
         l.color = true;
         l.a_post = true;
         l.shred_if_undeliverable = true;
       }},
  };
  for (const Case& c : cases) {
    OutgoingLetter letter = base;
    DpiOptions o = options;
    if (c.with_registry) o.registry = &registry;
    c.shape(letter, o);
    auto channel = c.print ? NewDpiPrintChannel(o, &http, &tokens)
                           : NewDpiChannel(o, &http, &tokens);
    if (!channel.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.name.c_str(),
                   std::string(channel.status().message()).c_str());
      return 1;
    }
    size_t before = http.requests().size();
    absl::StatusOr<SendResult> result = (*channel)->Send(letter);
    if (!result.ok() || http.requests().size() != before + 1 ||
        !WriteParts(http.requests().back(), absl::StrCat(dir, "/", c.name))) {
      std::fprintf(stderr, "%s: not sent: %s\n", c.name.c_str(),
                   result.ok()
                       ? "no request"
                       : std::string(result.status().message()).c_str());
      return 1;
    }
    std::printf("%s\n", c.name.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace utpost::adapters

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
    return 2;
  }
  return utpost::adapters::Run(argv[1]);
}
