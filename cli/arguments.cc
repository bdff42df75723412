#include "cli/arguments.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/text.h"
#include "common/uuid.h"

namespace utpost::cli {

using v1::Letter;

const std::vector<std::string>& ChannelNames() {
  static const auto* names =
      new std::vector<std::string>{"digital", "dpi", "altinn", "print"};
  return *names;
}

const std::vector<Letter::State>& LetterStates() {
  static const auto* states = [] {
    auto* v = new std::vector<Letter::State>;
    for (int s = Letter::State_MIN; s <= Letter::State_MAX; ++s) {
      if (Letter::State_IsValid(s) && s != Letter::STATE_UNSPECIFIED) {
        v->push_back(static_cast<Letter::State>(s));
      }
    }
    return v;
  }();
  return *states;
}

std::string StateList() {
  return absl::StrJoin(LetterStates(), ", ",
                       [](std::string* out, Letter::State s) {
                         out->append(Letter::State_Name(s));
                       });
}

std::string ChannelList() { return absl::StrJoin(ChannelNames(), ", "); }

absl::StatusOr<Letter::State> ParseState(const std::string& text,
                                         const std::string& flag) {
  const std::string upper = absl::AsciiStrToUpper(text);
  Letter::State state;
  if (upper != "STATE_UNSPECIFIED" && Letter::State_Parse(upper, &state)) {
    return state;
  }
  std::vector<std::string> names;
  for (Letter::State s : LetterStates()) names.push_back(Letter::State_Name(s));
  const std::string near = ClosestMatch(upper, names);
  return absl::InvalidArgumentError(absl::StrCat(
      flag, ": unknown state \"", text, "\"",
      near.empty() ? "" : absl::StrCat("; did you mean ", near, "?"),
      " (valid, any case: ", StateList(), ")"));
}

absl::Status CheckChannel(const std::string& text, const std::string& flag) {
  const auto& names = ChannelNames();
  if (std::find(names.begin(), names.end(), text) != names.end()) {
    return absl::OkStatus();
  }
  const std::string near = ClosestMatch(absl::AsciiStrToLower(text), names);
  return absl::InvalidArgumentError(absl::StrCat(
      flag, ": unknown channel \"", text, "\"",
      near.empty() ? "" : absl::StrCat("; did you mean ", near, "?"),
      " (valid: ", ChannelList(), ")"));
}

absl::Status CheckTenant(const std::string& text, const std::string& flag) {
  if (text.size() == 9 &&
      std::all_of(text.begin(), text.end(),
                  [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": \"", text,
                   "\" is not an organisation number (9 digits, e.g. "
                   "964338531)"));
}

absl::Status CheckPageSize(int page_size, const std::string& flag) {
  if (page_size >= 1 && page_size <= 1000) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": ", page_size, " is out of range (1 to 1000)"));
}

bool IsFollowedToState(Letter::State state) {
  switch (state) {
    case Letter::DELIVERED:
    case Letter::READ:
    case Letter::SENT_PRINT:
    case Letter::PRINTED:
    case Letter::FAILED:
    case Letter::CANCELLED:
    case Letter::PARKED:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<LetterArgument> ParseLetterArgument(const std::string& text) {
  std::string id = text;
  if (absl::StartsWith(id, "letters/")) id = id.substr(8);
  LetterArgument out;
  if (IsUuid(id)) {
    out.id = absl::AsciiStrToLower(id);
    return out;
  }
  const std::string lower = absl::AsciiStrToLower(id);
  const bool hex =
      !lower.empty() && std::all_of(lower.begin(), lower.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) || c == '-';
      });
  if (!hex || lower.size() > 36) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text,
        "\" is not a letter id (a UUID such as "
        "0b7c9f2e-5d1a-4c3e-9f00-1a2b3c4d5e6f, or its first 4 or more "
        "characters)"));
  }
  if (lower.size() < 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("letter id prefix \"", text,
                     "\" is too short: give at least 4 characters"));
  }
  out.prefix = lower;
  return out;
}

}  // namespace utpost::cli
