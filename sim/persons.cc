#include "sim/persons.h"

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sim/yaml_list.h"

namespace utpost::sim {
namespace {

absl::StatusOr<SimPerson> ParsePerson(const YAML::Node& node, size_t index) {
  std::string where = absl::StrCat("persons[", index, "]");
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not a map"));
  }
  SimPerson person;
  person.number = YamlScalar(node, "number");
  if (!IsDigits(person.number, 11)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".number: must be 11 digits (quote it)"));
  }
  person.name = YamlScalar(node, "name");
  std::string status = YamlScalar(node, "status");
  if (status == "SLETTET") {
    person.deleted = true;
  } else if (!status.empty() && status != "AKTIV") {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".status: AKTIV or SLETTET, not \"", status, "\""));
  }
  std::string reservation = YamlScalar(node, "reservasjon");
  if (reservation == "JA") {
    person.reserved = true;
  } else if (!reservation.empty() && reservation != "NEI") {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".reservasjon: JA or NEI, not \"", reservation, "\""));
  }
  if (std::string reads = YamlScalar(node, "reads_after_seconds");
      !reads.empty()) {
    if (!absl::SimpleAtoi(reads, &person.reads_after_seconds) ||
        person.reads_after_seconds < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".reads_after_seconds: a whole number of seconds, 0 or more"));
    }
  }
  person.email = YamlScalar(node, "email");
  person.mobile = YamlScalar(node, "mobile");
  if (const YAML::Node post = node["digital_post"]) {
    person.mailbox_address = YamlScalar(post, "postkasseadresse");
    person.mailbox_provider = YamlScalar(post, "postkasseleverandoeradresse");
    if (person.mailbox_address.empty() || person.mailbox_provider.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where,
                       ".digital_post: needs postkasseadresse and "
                       "postkasseleverandoeradresse"));
    }
  }
  return person;
}

}  // namespace

absl::StatusOr<std::vector<SimPerson>> ParsePersons(std::string_view yaml) {
  return ParseYamlList<SimPerson>(yaml, "persons", ParsePerson);
}

absl::StatusOr<std::vector<SimPerson>> LoadPersons(const std::string& path) {
  return LoadYamlFile<SimPerson>(path, ParsePersons);
}

}  // namespace utpost::sim
