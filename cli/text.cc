#include "cli/text.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace utpost::cli {

int EditDistance(std::string_view a, std::string_view b) {
  // One row of the dynamic-programming table at a time.
  std::vector<int> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string ClosestMatch(std::string_view word,
                         const std::vector<std::string>& candidates) {
  std::string best;
  int best_distance = 0;
  for (const auto& c : candidates) {
    if (c.empty()) continue;
    int d = EditDistance(word, c);
    const int longer = static_cast<int>(std::max(word.size(), c.size()));
    const int limit = std::max(1, std::min(2, longer / 3));
    if (word.size() >= 3 && c.compare(0, word.size(), word) == 0) {
      d = std::min(d, limit);  // A prefix of the name: surely meant.
    }
    if (d > limit) continue;
    if (best.empty() || d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string CutMiddle(std::string_view s, size_t width) {
  if (s.size() <= width) return std::string(s);
  constexpr std::string_view kEllipsis = "...";
  if (width < kEllipsis.size() + 2) return std::string(s.substr(0, width));
  const size_t keep = width - kEllipsis.size();
  // The end carries the serial number; give it the larger half.
  const size_t head = keep / 2;
  const size_t tail = keep - head;
  std::string out(s.substr(0, head));
  out += kEllipsis;
  out += s.substr(s.size() - tail);
  return out;
}

std::string Counted(int64_t n, std::string_view singular) {
  std::string out = absl::StrCat(n, " ");
  out += singular;
  if (n != 1) out += "s";
  return out;
}

std::string BatchSummary(const BatchCounts& c) {
  std::string out =
      absl::StrCat(c.submitted, " submitted, ", c.already_submitted,
                   " already submitted, ", c.refused, " refused");
  if (c.invalid > 0) absl::StrAppend(&out, ", ", c.invalid, " invalid");
  if (c.unreachable > 0) {
    absl::StrAppend(&out, ", ", c.unreachable, " unreachable");
  }
  return out;
}

}  // namespace utpost::cli
