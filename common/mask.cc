#include "common/mask.h"

#include <cctype>

namespace utpost {

std::string MaskPersonNumber(std::string_view number) {
  if (number.size() != 11) return std::string(number.size(), '*');
  return std::string(number.substr(0, 6)) + "*****";
}

namespace {

template <typename Keep>
std::string MaskRuns(std::string_view text, Keep keep) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      out.push_back(text[i++]);
      continue;
    }
    size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])))
      ++j;
    std::string_view run = text.substr(i, j - i);
    out += run.size() == 11 && !keep(run) ? MaskPersonNumber(run)
                                          : std::string(run);
    i = j;
  }
  return out;
}

}  // namespace

bool IsValidPersonNumber(std::string_view n) {
  if (n.size() != 11) return false;
  int d[11];
  for (int i = 0; i < 11; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(n[i]))) return false;
    d[i] = n[i] - '0';
  }
  int day = d[0] * 10 + d[1];
  int month = d[2] * 10 + d[3];
  if (day >= 40 && day <= 79) day -= 40;  // D number.
  if (month >= 40 && month <= 59)
    month -= 40;  // H number.
  else if (month >= 80 && month <= 99)
    month -= 80;  // Synthetic.
  if (day < 1 || day > 31 || month < 1 || month > 12) return false;
  static constexpr int kK1[] = {3, 7, 6, 1, 8, 9, 4, 5, 2};
  static constexpr int kK2[] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  int s1 = 0;
  for (int i = 0; i < 9; ++i) s1 += kK1[i] * d[i];
  if ((s1 + d[9]) % 11 > 3) return false;  // 0 classic; 1..3 from 2032.
  int s2 = 0;
  for (int i = 0; i < 10; ++i) s2 += kK2[i] * d[i];
  int k2 = s2 % 11 == 0 ? 0 : 11 - s2 % 11;
  return k2 != 10 && k2 == d[10];
}

std::string MaskValidPersonNumbersIn(std::string_view text) {
  return MaskRuns(
      text, [](std::string_view run) { return !IsValidPersonNumber(run); });
}

std::string MaskPersonNumbersIn(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      out.push_back(text[i++]);
      continue;
    }
    size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])))
      ++j;
    std::string_view run = text.substr(i, j - i);
    out += run.size() == 11 ? MaskPersonNumber(run) : std::string(run);
    i = j;
  }
  return out;
}

}  // namespace utpost
