// Checks of utpostctl's command-line values before any call, so that bad
// input exits 2 with a message naming the valid values, instead of a
// server refusal (exit 1). Pure; no I/O.
#ifndef UTPOST_CLI_ARGUMENTS_H_
#define UTPOST_CLI_ARGUMENTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::cli {

// The delivery channels, as routing names them: "digital", "dpi",
// "altinn", "print".
const std::vector<std::string>& ChannelNames();
// Every letter state but STATE_UNSPECIFIED, in lifecycle (enum) order.
const std::vector<v1::Letter::State>& LetterStates();
// "RECEIVED, QUEUED, ..., PARKED".
std::string StateList();
// "digital, dpi, altinn, print".
std::string ChannelList();

// A state name in any case ("delivered", "Parked"). INVALID_ARGUMENT naming
// `flag`, the valid states and the nearest one otherwise.
absl::StatusOr<v1::Letter::State> ParseState(const std::string& text,
                                             const std::string& flag);
// OK for one of ChannelNames(); INVALID_ARGUMENT naming `flag` otherwise.
absl::Status CheckChannel(const std::string& text, const std::string& flag);
// OK for a 9-digit organisation number.
absl::Status CheckTenant(const std::string& text, const std::string& flag);
// OK for 1..1000.
absl::Status CheckPageSize(int page_size, const std::string& flag);

// True for states a letter of a batch is followed to: DELIVERED, READ,
// SENT_PRINT, PRINTED, FAILED, CANCELLED, PARKED (what needs no more work
// from the gateway unless someone acts).
bool IsFollowedToState(v1::Letter::State state);

// What a letter argument is: a whole id ("letters/ID" or "ID"), a prefix
// of one (4 to 35 lowercase hex digits or dashes, as `git` takes), or
// neither (INVALID_ARGUMENT, with what is expected).
struct LetterArgument {
  std::string id;      // Set for a whole id, without "letters/".
  std::string prefix;  // Set for a prefix.
};
absl::StatusOr<LetterArgument> ParseLetterArgument(const std::string& text);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_ARGUMENTS_H_
