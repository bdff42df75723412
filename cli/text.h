// Pure text helpers of utpostctl's output: suggestions for mistyped names,
// cutting long values to a column, and counted nouns. No I/O.
#ifndef UTPOST_CLI_TEXT_H_
#define UTPOST_CLI_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace utpost::cli {

// Levenshtein distance (insert, delete, substitute; each costs 1) between
// `a` and `b`, by bytes.
int EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `word` by EditDistance, when it is near enough
// to be a typo: at most 2 edits, and at most a third of the longer of the
// two (at least 1). A candidate that starts with `word` (3 or more
// characters) counts as near too. Ties go to the first. Empty when none.
std::string ClosestMatch(std::string_view word,
                         const std::vector<std::string>& candidates);

// `s` when it fits in `width` bytes; else its start and end around "..."
// so the result is exactly `width` bytes (references often differ only at
// their end, as in "property-tax-2026-000123"). Widths below 5 cut the end.
std::string CutMiddle(std::string_view s, size_t width);

// "1 letter", "0 letters", "12 letters": `singular` plus "s" unless n == 1.
std::string Counted(int64_t n, std::string_view singular);

// What happened to the letters of a batch submission.
struct BatchCounts {
  int64_t submitted = 0;          // Created by this run.
  int64_t already_submitted = 0;  // Created earlier (same reference, body).
  int64_t refused = 0;            // The server refused them.
  int64_t invalid = 0;            // Unreadable or malformed files.
  int64_t unreachable = 0;        // Not answered in time.
};
// "12 submitted, 3 already submitted, 1 refused": the first three always,
// invalid and unreachable only when not zero.
std::string BatchSummary(const BatchCounts& counts);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_TEXT_H_
