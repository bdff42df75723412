#include "common/text.h"

#include <cstdint>

#include "absl/strings/str_format.h"

namespace utpost {
namespace {

// Decodes the code point at text[*i] and moves *i past it. Returns -1 for a
// malformed sequence.
int32_t Decode(std::string_view text, size_t* i) {
  const auto byte = [&](size_t k) -> uint32_t {
    return static_cast<unsigned char>(text[k]);
  };
  const uint32_t b0 = byte(*i);
  if (b0 < 0x80) {
    *i += 1;
    return static_cast<int32_t>(b0);
  }
  size_t length;
  uint32_t cp;
  uint32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    length = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (text.size() - *i < length) return -1;
  for (size_t k = 1; k < length; ++k) {
    const uint32_t b = byte(*i + k);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *i += length;
  return static_cast<int32_t>(cp);
}

const char* ForbiddenKind(int32_t cp) {
  if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) {
    return "a control character";
  }
  if (cp == 0x061C || cp == 0x200E || cp == 0x200F ||
      (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) {
    return "a bidirectional control";
  }
  if (cp == 0x2028 || cp == 0x2029) return "a line separator";
  if (cp == 0xFEFF) return "a byte order mark";
  return nullptr;
}

}  // namespace

size_t ValidUtf8Prefix(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t next = i;
    if (Decode(text, &next) < 0) return i;
    i = next;
  }
  return i;
}

bool IsValidUtf8(std::string_view text) {
  return ValidUtf8Prefix(text) == text.size();
}

size_t CountCodePoints(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

std::optional<ForbiddenCharacter> FindForbiddenCharacter(
    std::string_view text) {
  size_t i = 0;
  size_t position = 0;
  while (i < text.size()) {
    const int32_t cp = Decode(text, &i);
    ++position;
    if (cp < 0) {
      return ForbiddenCharacter{position, "an invalid UTF-8 sequence"};
    }
    if (const char* kind = ForbiddenKind(cp)) {
      return ForbiddenCharacter{position,
                                absl::StrFormat("U+%04X (%s)", cp, kind)};
    }
  }
  return std::nullopt;
}

std::string Utf8ToCp1252(std::string_view utf8) {
  std::string out;
  size_t i = 0;
  while (i < utf8.size()) {
    unsigned char c = static_cast<unsigned char>(utf8[i]);
    uint32_t code = 0;
    int length = 0;
    if (c < 0x80) {
      code = c;
      length = 1;
    } else if ((c & 0xE0) == 0xC0) {
      code = c & 0x1F;
      length = 2;
    } else if ((c & 0xF0) == 0xE0) {
      code = c & 0x0F;
      length = 3;
    } else if ((c & 0xF8) == 0xF0) {
      code = c & 0x07;
      length = 4;
    } else {
      out.push_back('?');
      ++i;
      continue;
    }
    if (i + length > utf8.size()) {
      out.push_back('?');
      break;
    }
    for (int k = 1; k < length; ++k) {
      code = (code << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    i += length;
    if (code < 0x20) {
      out.push_back(' ');  // No control characters on paper.
    } else if (code < 0x7F || (code >= 0xA0 && code <= 0xFF)) {
      out.push_back(static_cast<char>(code));  // Latin-1 is CP1252 here.
    } else if (code == 0x20AC) {
      out.push_back(static_cast<char>(0x80));  // Euro sign.
    } else {
      out.push_back('?');
    }
  }
  return out;
}

}  // namespace utpost
