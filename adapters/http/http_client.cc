#include "adapters/http/http_client.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace utpost::adapters {

std::optional<std::string> FindHeader(const HttpHeaders& headers,
                                      std::string_view wanted) {
  absl::string_view name(wanted.data(), wanted.size());
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

void SetHeader(HttpHeaders* headers, std::string_view wanted,
               std::string value) {
  absl::string_view name(wanted.data(), wanted.size());
  headers->erase(std::remove_if(headers->begin(), headers->end(),
                                [name](const auto& header) {
                                  return absl::EqualsIgnoreCase(header.first,
                                                                name);
                                }),
                 headers->end());
  headers->emplace_back(std::string(wanted), std::move(value));
}

bool IsContentRefusal(int http_status) {
  switch (http_status) {
    case 400:  // Bad Request
    case 413:  // Content Too Large
    case 414:  // URI Too Long
    case 422:  // Unprocessable Content
    case 431:  // Request Header Fields Too Large
      return true;
    default:
      return false;
  }
}

}  // namespace utpost::adapters
