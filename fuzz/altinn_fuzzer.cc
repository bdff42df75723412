// The Altinn adapter's parsing of what the service answers: the events feed
// (CloudEvents JSON), the correspondence look-ups it leads to, and the
// upload's answer or problem body (JSON). The input is a script of
// responses (scripted_http.h) answering the feed, the look-ups, the upload
// and anything after, in the order the adapter asks.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adapters/altinn/altinn_channel.h"
#include "adapters/http/token_source.h"
#include "common/clock.h"
#include "fuzz/scripted_http.h"

namespace utpost::fuzz {
namespace {

int Run(const uint8_t* data, size_t size) {
  static FakeClock* const clock = new FakeClock(1'800'000'000'000);
  static adapters::StaticTokenSource* const tokens =
      new adapters::StaticTokenSource("altinn-token");
  std::vector<adapters::HttpResponse> script = ParseScript(data, size);
  // A send only when the script answers more than the feed.
  const bool send = script.size() > 1;
  auto http = ScriptedClient(std::move(script));
  adapters::AltinnOptions options;
  options.base_url = "https://altinn.fuzz";
  options.resource_id = "utpost-fuzz";
  options.tokens = tokens;
  options.clock = clock;
  auto channel = adapters::NewAltinnChannel(options, http.get());
  if (!channel.ok()) __builtin_trap();  // The set-up itself is broken.
  adapters::OutgoingLetter letter;
  letter.message_id = "5f0c8a9e-1b2c-4d3e-8f40-123456789abc";
  letter.tenant = "964338531";
  letter.organisation_number = "910000004";
  letter.title = "Vedtak om byggesak";
  letter.documents = {{"vedtak.pdf", "application/pdf", "%PDF-1.7 a", ""}};
  DriveChannel(**channel, 20, send, letter);
  return 0;
}

}  // namespace
}  // namespace utpost::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return utpost::fuzz::Run(data, size);
}
