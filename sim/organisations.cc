#include "sim/organisations.h"

#include <yaml-cpp/yaml.h>

#include <exception>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace utpost::sim {
namespace {

bool IsNineDigits(absl::string_view s) {
  if (s.size() != 9) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string Scalar(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  return value && value.IsScalar() ? value.as<std::string>() : std::string();
}

absl::StatusOr<SimOrganisation> ParseOne(const YAML::Node& node, size_t index) {
  std::string where = absl::StrCat("organisations[", index, "]");
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not a map"));
  }
  SimOrganisation o;
  o.number = Scalar(node, "number");
  if (!IsNineDigits(o.number)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".number: must be 9 digits (quote it)"));
  }
  o.name = Scalar(node, "name");
  if (const YAML::Node lines = node["address_lines"]) {
    if (!lines.IsSequence()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".address_lines: must be a list"));
    }
    for (const YAML::Node& line : lines) {
      o.address_lines.push_back(line.as<std::string>());
    }
  }
  o.postal_code = Scalar(node, "postal_code");
  o.city = Scalar(node, "city");
  if (std::string country = Scalar(node, "country_code"); !country.empty()) {
    o.country_code = country;
  }
  o.deleted_date = Scalar(node, "deleted");
  std::string inbox = Scalar(node, "inbox");
  if (inbox == "true") {
    o.inbox = true;
  } else if (!inbox.empty() && inbox != "false") {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".inbox: true or false"));
  }
  if (std::string read = Scalar(node, "read_after_seconds"); !read.empty()) {
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
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    const YAML::Node list = root["organisations"];
    if (!list || !list.IsSequence()) {
      return absl::InvalidArgumentError("organisations: must be a list");
    }
    std::vector<SimOrganisation> out;
    absl::flat_hash_set<std::string> seen;
    for (size_t i = 0; i < list.size(); ++i) {
      absl::StatusOr<SimOrganisation> o = ParseOne(list[i], i);
      if (!o.ok()) return o.status();
      if (!seen.insert(o->number).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("organisations[", i, "].number: listed twice"));
      }
      out.push_back(*std::move(o));
    }
    return out;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("organisations: not valid YAML: ", e.what()));
  }
}

absl::StatusOr<std::vector<SimOrganisation>> LoadOrganisations(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read \"", path, "\""));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<SimOrganisation>> parsed =
      ParseOrganisations(text.str());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", parsed.status().message()));
  }
  return parsed;
}

}  // namespace utpost::sim
