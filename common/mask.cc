#include "common/mask.h"

#include <cctype>

namespace utpost {

std::string MaskPersonNumber(std::string_view number) {
  if (number.size() != 11) return std::string(number.size(), '*');
  return std::string(number.substr(0, 6)) + "*****";
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
