#include "adapters/http/http_client.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace utpost::adapters {

std::optional<std::string> FindHeader(const HttpHeaders& headers,
                                      std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

void SetHeader(HttpHeaders* headers, std::string_view name,
               std::string value) {
  headers->erase(std::remove_if(headers->begin(), headers->end(),
                                [name](const auto& header) {
                                  return absl::EqualsIgnoreCase(header.first,
                                                                name);
                                }),
                 headers->end());
  headers->emplace_back(std::string(name), std::move(value));
}

}  // namespace utpost::adapters
