#include "sim/organisations.h"

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sim/yaml_list.h"

namespace utpost::sim {
namespace {

absl::StatusOr<SimOrganisation> ParseOne(const YAML::Node& node, size_t index) {
  std::string where = absl::StrCat("organisations[", index, "]");
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not a map"));
  }
  SimOrganisation o;
  o.number = YamlScalar(node, "number");
  if (!IsDigits(o.number, 9)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".number: must be 9 digits (quote it)"));
  }
  o.name = YamlScalar(node, "name");
  if (const YAML::Node lines = node["address_lines"]) {
    if (!lines.IsSequence()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".address_lines: must be a list"));
    }
    for (const YAML::Node& line : lines) {
      o.address_lines.push_back(line.as<std::string>());
    }
  }
  o.postal_code = YamlScalar(node, "postal_code");
  o.city = YamlScalar(node, "city");
  if (std::string country = YamlScalar(node, "country_code");
      !country.empty()) {
    o.country_code = country;
  }
  o.deleted_date = YamlScalar(node, "deleted");
  if (node["inbox"]) {
    // The old field said "has an inbox" outright; Altinn publishes no such
    // fact (docs/protocols.md).
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".inbox: replaced by altinn_party"));
  }
  std::string party = YamlScalar(node, "altinn_party");
  if (party == "false") {
    o.altinn_party = false;
  } else if (!party.empty() && party != "true") {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".altinn_party: true or false"));
  }
  if (std::string read = YamlScalar(node, "read_after_seconds");
      !read.empty()) {
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(read, &seconds) || seconds < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".read_after_seconds: 0 or more"));
    }
    o.read_after_ms = seconds * 1000;
  }
  return o;
}

}  // namespace

absl::StatusOr<std::vector<SimOrganisation>> ParseOrganisations(
    std::string_view yaml) {
  return ParseYamlList<SimOrganisation>(yaml, "organisations", ParseOne);
}

absl::StatusOr<std::vector<SimOrganisation>> LoadOrganisations(
    const std::string& path) {
  return LoadYamlFile<SimOrganisation>(path, ParseOrganisations);
}

}  // namespace utpost::sim
