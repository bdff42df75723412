// Writes the upload request the Altinn channel sends for a sample letter
// (through FakeHttpClient) to the file named by argv[1]: the Content-Type
// header line, an empty line, then the body. altinn_form_check.py parses it
// with Python's own MIME parser and judges it by the published binding
// (tests/published/altinn/upload-form-fields.json), not by utpost-sim.
#include <fstream>
#include <iostream>
#include <string>

#include "adapters/altinn/altinn_channel.h"
#include "adapters/http/fake_http_client.h"
#include "common/clock.h"

namespace {

using utpost::adapters::HttpRequest;
using utpost::adapters::HttpResponse;

class FixedTokens final : public utpost::adapters::TokenSource {
 public:
  absl::StatusOr<std::string> Token(const std::string&) override {
    return "altinn-token";
  }
  void Invalidate(const std::string&, const std::string&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: altinn_upload_capture <out-file>\n";
    return 2;
  }
  utpost::adapters::FakeHttpClient http(
      [](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
        HttpResponse r;
        r.status = 200;
        r.body = R"({"correspondences": [{"correspondenceId": "c-1",
                     "status": "Initialized"}], "attachmentIds": []})";
        return r;
      });
  FixedTokens tokens;
  utpost::FakeClock clock(1'800'000'000'000);
  utpost::adapters::AltinnOptions options;
  options.base_url = "https://platform.tt02.altinn.no";
  options.resource_id = "utpost-correspondence";
  options.tokens = &tokens;
  options.clock = &clock;
  auto channel = utpost::adapters::NewAltinnChannel(options, &http);
  if (!channel.ok()) {
    std::cerr << channel.status() << "\n";
    return 1;
  }
  utpost::adapters::OutgoingLetter letter;
  letter.message_id = "5f0c8a9e-1b2c-4d3e-8f40-123456789abc";
  letter.tenant = "964338531";
  letter.organisation_number = "910000004";
  // Long and non-ASCII, so that the length limits are exercised.
  letter.title = "Vedtak om løyve – ";
  while (letter.title.size() < 400) letter.title += "særskilt ærend ";
  letter.confidential = false;
  letter.documents.push_back(
      {"vedtak.pdf", "application/pdf", "%PDF-1.7 main", ""});
  letter.documents.push_back(
      {"kart over tomta.pdf", "application/pdf", "%PDF-1.7 map", ""});
  auto sent = (*channel)->Send(letter);
  if (!sent.ok() || http.requests().size() != 1) {
    std::cerr << "send failed: " << sent.status() << "\n";
    return 1;
  }
  const HttpRequest r = http.requests()[0];
  std::ofstream out(argv[1], std::ios::binary);
  for (const auto& [name, value] : r.headers) {
    if (name == "Content-Type") out << "Content-Type: " << value << "\r\n";
  }
  out << "X-Method: " << r.method << "\r\nX-Url: " << r.url << "\r\n\r\n"
      << r.body;
  return out.good() ? 0 : 1;
}
