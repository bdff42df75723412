// Provider answers for the adapter fuzz targets: the fuzzer's input is a
// script of HTTP responses, one per request in the order the adapter sends
// them. Parts are separated by a line "--next--"; a part that starts with
// "HTTP <status>\n" has that status, otherwise 200. Requests beyond the
// script are answered 404 with an empty body.
#ifndef UTPOST_FUZZ_SCRIPTED_HTTP_H_
#define UTPOST_FUZZ_SCRIPTED_HTTP_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "adapters/channel.h"
#include "adapters/http/fake_http_client.h"

namespace utpost::fuzz {

inline constexpr char kPartSeparator[] = "\n--next--\n";

// The responses in `data`, in order.
inline std::vector<adapters::HttpResponse> ParseScript(const uint8_t* data,
                                                       size_t size) {
  std::vector<adapters::HttpResponse> script;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (absl::string_view part : absl::StrSplit(text, kPartSeparator)) {
    adapters::HttpResponse r;
    r.status = 200;
    if (part.substr(0, 5) == "HTTP ") {
      size_t eol = part.find('\n');
      absl::string_view line =
          part.substr(5, eol == part.npos ? part.npos : eol - 5);
      int status = 0;
      if (absl::SimpleAtoi(line, &status)) r.status = status;
      part = eol == part.npos ? absl::string_view() : part.substr(eol + 1);
    }
    r.body = std::string(part);
    r.headers.push_back({"Content-Type", "application/octet-stream"});
    script.push_back(std::move(r));
  }
  return script;
}

// A FakeHttpClient that answers with the script's responses in turn.
inline std::unique_ptr<adapters::FakeHttpClient> ScriptedClient(
    std::vector<adapters::HttpResponse> script) {
  auto next = std::make_shared<size_t>(0);
  auto responses =
      std::make_shared<std::vector<adapters::HttpResponse>>(std::move(script));
  return std::make_unique<adapters::FakeHttpClient>(
      [next, responses](const adapters::HttpRequest&)
          -> absl::StatusOr<adapters::HttpResponse> {
        if (*next < responses->size()) return (*responses)[(*next)++];
        adapters::HttpResponse not_found;
        not_found.status = 404;
        return not_found;
      });
}

// With UTPOST_FUZZ_VERBOSE set, what a target's calls returned goes to
// stderr: to see whether a seed reaches the paths it is meant for.
inline void Note(absl::string_view what, const absl::Status& status,
                 size_t items = 0) {
  static const bool verbose = std::getenv("UTPOST_FUZZ_VERBOSE") != nullptr;
  if (!verbose) return;
  std::fprintf(stderr, "%.*s: %s (%zu)\n", static_cast<int>(what.size()),
               what.data(), status.ToString().c_str(), items);
}

// A file of the source tree (certs-dev/...), by its path from the root.
inline std::string SourcePath(const std::string& relative) {
  return std::string(UTPOST_SOURCE_DIR) + "/" + relative;
}

// What every channel target does with its answers: reads the event feed
// (up to `max_events`), confirms what it read, then, when the script has
// answers left for a send (`send`), sends `letter`.
inline void DriveChannel(adapters::Channel& channel, int max_events, bool send,
                         const adapters::OutgoingLetter& letter) {
  auto events = channel.FetchEvents(max_events);
  Note("events", events.status(), events.ok() ? events->size() : 0);
  if (events.ok()) {
    std::vector<std::string> ids;
    for (const auto& e : *events) ids.push_back(e.event_id);
    Note("confirm", channel.ConfirmEvents(ids));
  }
  if (send) Note("send", channel.Send(letter).status());
}

}  // namespace utpost::fuzz

#endif  // UTPOST_FUZZ_SCRIPTED_HTTP_H_
