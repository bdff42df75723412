// The DPI adapter's parsing of what the provider answers: the receipt queue
// (a JSON list of entries with a signed receipt each) and, for a send, the
// error body (JSON). The input is a script of responses (scripted_http.h):
// the first answers the receipt queue, the next ones the acknowledgements,
// the send and anything after.
//
// So that the fuzzer reaches what is read from a receipt after its
// signature is checked, a queue entry whose "forretningsmelding" is a JSON
// object (not a string) gets that object signed as the provider would
// (certs-dev/dpi-provider.*) before the adapter sees it; strings are passed
// as they are, to the JWS parser and verifier.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/dpi/dpi_channel.h"
#include "adapters/dpi/dpi_crypto.h"
#include "adapters/http/token_source.h"
#include "common/clock.h"
#include "fuzz/scripted_http.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace utpost::fuzz {
namespace {

using nlohmann::json;

const adapters::DpiSigner& ProviderSigner() {
  static const adapters::DpiSigner* const signer = [] {
    auto s = adapters::DpiSigner::FromFiles(
        SourcePath("certs-dev/dpi-provider.key"),
        SourcePath("certs-dev/dpi-provider.pem"));
    if (!s.ok()) __builtin_trap();
    return s->release();
  }();
  return *signer;
}

std::string MailboxCertificateDer() {
  static const std::string* const der = [] {
    std::ifstream in(SourcePath("certs-dev/eboks-mailbox.pem"));
    std::stringstream pem;
    pem << in.rdbuf();
    auto d = adapters::CertificateToDer(pem.str());
    if (!d.ok()) __builtin_trap();
    return new std::string(*d);
  }();
  return *der;
}

// Signs the receipts given as objects in a queue listing.
void SignReceipts(adapters::HttpResponse* queue) {
  json list = json::parse(queue->body, nullptr, false);
  if (!list.is_array()) return;
  bool changed = false;
  for (json& entry : list) {
    if (!entry.is_object()) continue;
    auto it = entry.find("forretningsmelding");
    if (it == entry.end() || !it->is_object()) continue;
    auto jws = ProviderSigner().SignJws(it->dump());
    if (!jws.ok()) continue;
    *it = *jws;
    changed = true;
  }
  if (changed) queue->body = list.dump();
}

int Run(const uint8_t* data, size_t size) {
  // Rejected receipts are logged; the fuzzer's output has no use for it.
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;
  static FakeClock* const clock = new FakeClock(1'800'000'000'000);
  static adapters::StaticTokenSource* const tokens =
      new adapters::StaticTokenSource("dpi-token");
  std::vector<adapters::HttpResponse> script = ParseScript(data, size);
  if (!script.empty()) SignReceipts(&script[0]);
  // A send (which signs and encrypts a package) only when the script
  // answers more than the receipt queue.
  const bool send = script.size() > 1;
  auto http = ScriptedClient(std::move(script));
  adapters::DpiOptions options;
  options.base_url = "https://dpi.fuzz";
  options.signing_key_file = SourcePath("certs-dev/sender.key");
  options.certificate_file = SourcePath("certs-dev/sender.pem");
  options.provider_certificate_file = SourcePath("certs-dev/dpi-provider.pem");
  options.provider_ca_file = SourcePath("certs-dev/ca.pem");
  options.sender_id = "avsender-1";
  options.clock = clock;
  auto channel = adapters::NewDpiChannel(options, http.get(), tokens);
  if (!channel.ok()) __builtin_trap();  // The set-up itself is broken.
  adapters::OutgoingLetter letter;
  letter.message_id = "5f0c8a9e-1b2c-4d3e-8f40-123456789abc";
  letter.tenant = "964338531";
  letter.person_number = "30925910089";
  letter.title = "Vedtak";
  letter.documents = {{"vedtak.pdf", "application/pdf", "%PDF-1.4\n", ""}};
  letter.mailbox_address = "per.eboksen#9C0D";
  letter.mailbox_provider = "922020175";
  letter.mailbox_certificate = MailboxCertificateDer();
  DriveChannel(**channel, 20, send, letter);
  return 0;
}

}  // namespace
}  // namespace utpost::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return utpost::fuzz::Run(data, size);
}
