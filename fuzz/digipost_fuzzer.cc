// The Digipost adapter's parsing of what the provider answers. The input is
// a script of responses (scripted_http.h). Every body goes straight to the
// XML parsers (the entry point and the document event feed), since the
// channel reads them only from responses that carry Digipost's signature,
// which fuzzed responses do not; then the script answers the channel (the
// entry point first), which exercises the signature checks and the error
// paths.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "adapters/digipost/digipost_channel.h"
#include "adapters/digipost/digipost_protocol.h"
#include "common/clock.h"
#include "fuzz/scripted_http.h"

namespace utpost::fuzz {
namespace {

int Run(const uint8_t* data, size_t size) {
  static FakeClock* const clock = new FakeClock(1'800'000'000'000);
  std::vector<adapters::HttpResponse> script = ParseScript(data, size);
  for (const adapters::HttpResponse& r : script) {
    (void)adapters::ParseDigipostEntryPoint(r.body);
    auto events = adapters::ParseDigipostDocumentEvents(r.body);
    if (events.ok()) {
      for (const auto& e : *events) {
        if (e.uuid.empty() || e.type.empty()) __builtin_trap();
      }
    }
  }
  // A send only when the script answers more than the feed.
  const bool send = script.size() > 1;
  auto http = ScriptedClient(std::move(script));
  adapters::DigipostOptions options;
  options.base_url = "https://digipost.fuzz";
  options.sender_id = "123456";
  options.signing_key_file = SourcePath("certs-dev/sender.key");
  options.clock = clock;
  auto channel = adapters::NewDigipostChannel(options, http.get());
  if (!channel.ok()) __builtin_trap();  // The set-up itself is broken.
  adapters::OutgoingLetter letter;
  letter.message_id = "5f0c8a9e-1b2c-4d3e-8f40-123456789abc";
  letter.tenant = "964338531";
  letter.person_number = "30925910089";
  letter.title = "Vedtak";
  letter.documents = {{"vedtak.pdf", "application/pdf", "%PDF-1.4\n", ""}};
  DriveChannel(**channel, 50, send, letter);
  return 0;
}

}  // namespace
}  // namespace utpost::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return utpost::fuzz::Run(data, size);
}
