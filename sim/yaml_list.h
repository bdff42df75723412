// Reading the simulator's YAML data files: a top-level list of entries,
// each with a unique "number", every error naming the entry and field.
#ifndef UTPOST_SIM_YAML_LIST_H_
#define UTPOST_SIM_YAML_LIST_H_

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <exception>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace utpost::sim {

// The scalar at `key` of `node`; "" when absent or not a scalar.
inline std::string YamlScalar(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  return value && value.IsScalar() ? value.as<std::string>() : std::string();
}

// True when `s` is exactly `n` ASCII digits.
inline bool IsDigits(absl::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Parses the list under `key` ("persons") of the YAML text `yaml`, each
// entry with `parse_one(node, index)`; T has a `number`, which must not
// repeat. Errors are INVALID_ARGUMENT naming "key[index].field".
template <typename T>
absl::StatusOr<std::vector<T>> ParseYamlList(
    std::string_view yaml, const char* key,
    const std::function<absl::StatusOr<T>(const YAML::Node&, size_t)>&
        parse_one) {
  // yaml-cpp reports errors by exception; they end here.
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    const YAML::Node list = root[key];
    if (!list || !list.IsSequence()) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": must be a list"));
    }
    std::vector<T> out;
    absl::flat_hash_set<std::string> seen;
    for (size_t i = 0; i < list.size(); ++i) {
      absl::StatusOr<T> entry = parse_one(list[i], i);
      if (!entry.ok()) return entry.status();
      if (!seen.insert(entry->number).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, "[", i, "].number: listed twice"));
      }
      out.push_back(*std::move(entry));
    }
    return out;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": not valid YAML: ", e.what()));
  }
}

// Reads the file at `path` and parses it with `parse`; errors start with
// the path.
template <typename T>
absl::StatusOr<std::vector<T>> LoadYamlFile(
    const std::string& path,
    const std::function<absl::StatusOr<std::vector<T>>(std::string_view)>&
        parse) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read \"", path, "\""));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<T>> parsed = parse(text.str());
  if (!parsed.ok()) {
    return absl::Status(parsed.status().code(),
                        absl::StrCat(path, ": ", parsed.status().message()));
  }
  return parsed;
}

}  // namespace utpost::sim

#endif  // UTPOST_SIM_YAML_LIST_H_
