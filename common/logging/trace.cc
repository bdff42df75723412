#include "common/logging/trace.h"

#include <openssl/rand.h>

#include <cctype>

namespace utpost::logging {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string TraceIdFromTraceparent(std::string_view v) {
  // version(2) '-' trace-id(32) '-' parent-id(16) '-' flags(2); later
  // versions may append fields after another '-'.
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return "";
  if (v.size() > 55 && v[55] != '-') return "";
  std::string_view version = v.substr(0, 2);
  std::string_view trace = v.substr(3, 32);
  std::string_view parent = v.substr(36, 16);
  if (!IsLowerHex(version) || version == "ff" || !IsLowerHex(trace) ||
      !IsLowerHex(parent) || !IsLowerHex(v.substr(53, 2))) {
    return "";
  }
  if (trace.find_first_not_of('0') == std::string_view::npos) return "";
  return std::string(trace);
}

std::string NewTraceId() {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char bytes[16];
  std::string out;
  do {
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      // Never fails on a seeded system; a fixed id is still a valid one.
      for (auto& b : bytes) b = 0x11;
    }
    out.clear();
    for (unsigned char b : bytes) {
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  } while (out.find_first_not_of('0') == std::string::npos);
  return out;
}

}  // namespace utpost::logging
