// Utpost's log output: one event per line on stderr through spdlog, as JSON
// (default) or plain text, with the letter, tenant, stage, attempt and trace
// id of the work in hand when known. Person numbers are masked in the
// message as a last line of defence (callers mask first; see common/mask.h).
// Document content is never passed to a log call.
//
// JSON event keys: "time" (UTC, RFC 3339 with milliseconds), "level",
// "message", then those of "letter_id", "tenant", "stage", "attempt",
// "trace_id" that the current thread's Context sets.
#ifndef UTPOST_COMMON_LOGGING_LOGGING_H_
#define UTPOST_COMMON_LOGGING_LOGGING_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spdlog/formatter.h"

namespace utpost::logging {

enum class Format { kJson, kText };

// "json" (also "") or "text"; INVALID_ARGUMENT otherwise.
absl::StatusOr<Format> ParseFormat(std::string_view name);

// Makes the default spdlog logger write to stderr in `format`, at `level`
// ("trace", "debug", "info", "warn", "error"; "" is info). Call once at
// start-up, before other threads log. INVALID_ARGUMENT for a bad level.
absl::Status Install(Format format, std::string_view level);

// Changes the level of the default logger at run time (thread-safe). For
// SIGHUP and an operator RPC. INVALID_ARGUMENT for an unknown level; the
// level is unchanged then.
absl::Status SetLevel(std::string_view level);
// The current level's name.
std::string GetLevel();

// What the current thread is working on. Empty strings and a negative
// attempt are left out of events.
struct Context {
  std::string letter_id;
  std::string tenant;
  std::string stage;
  int attempt = -1;
  std::string trace_id;
};

// Sets the calling thread's Context for its lifetime and restores the one
// before it on destruction. Not movable; nest freely.
class ScopedContext {
 public:
  explicit ScopedContext(Context context);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  const Context* previous_;
  Context context_;
};

// The calling thread's context, or null.
const Context* CurrentContext();

// spdlog formatters, for Install and for tests. Both mask valid person
// numbers in the message and read the context of the logging thread.
std::unique_ptr<spdlog::formatter> NewJsonFormatter();
std::unique_ptr<spdlog::formatter> NewTextFormatter();

// `s` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view s);

}  // namespace utpost::logging

#endif  // UTPOST_COMMON_LOGGING_LOGGING_H_
