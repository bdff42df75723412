#include "sim/persons.h"

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

bool IsElevenDigits(absl::string_view s) {
  if (s.size() != 11) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string Scalar(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  return value && value.IsScalar() ? value.as<std::string>() : std::string();
}

absl::StatusOr<SimPerson> ParsePerson(const YAML::Node& node, size_t index) {
  std::string where = absl::StrCat("persons[", index, "]");
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not a map"));
  }
  SimPerson person;
  person.number = Scalar(node, "number");
  if (!IsElevenDigits(person.number)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".number: must be 11 digits (quote it)"));
  }
  person.name = Scalar(node, "name");
  std::string status = Scalar(node, "status");
  if (status == "SLETTET") {
    person.deleted = true;
  } else if (!status.empty() && status != "AKTIV") {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".status: AKTIV or SLETTET, not \"", status, "\""));
  }
  std::string reservation = Scalar(node, "reservasjon");
  if (reservation == "JA") {
    person.reserved = true;
  } else if (!reservation.empty() && reservation != "NEI") {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".reservasjon: JA or NEI, not \"", reservation, "\""));
  }
  if (std::string reads = Scalar(node, "reads_after_seconds"); !reads.empty()) {
    if (!absl::SimpleAtoi(reads, &person.reads_after_seconds) ||
        person.reads_after_seconds < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".reads_after_seconds: a whole number of seconds, 0 or more"));
    }
  }
  person.email = Scalar(node, "email");
  person.mobile = Scalar(node, "mobile");
  if (const YAML::Node post = node["digital_post"]) {
    person.mailbox_address = Scalar(post, "postkasseadresse");
    person.mailbox_provider = Scalar(post, "postkasseleverandoeradresse");
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
  // yaml-cpp reports errors by exception; they end here.
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    const YAML::Node list = root["persons"];
    if (!list || !list.IsSequence()) {
      return absl::InvalidArgumentError("persons: must be a list");
    }
    std::vector<SimPerson> persons;
    absl::flat_hash_set<std::string> seen;
    for (size_t i = 0; i < list.size(); ++i) {
      absl::StatusOr<SimPerson> person = ParsePerson(list[i], i);
      if (!person.ok()) return person.status();
      if (!seen.insert(person->number).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("persons[", i, "].number: listed twice"));
      }
      persons.push_back(*std::move(person));
    }
    return persons;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("persons: ", e.what()));
  }
}

absl::StatusOr<std::vector<SimPerson>> LoadPersons(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("persons file: cannot read \"", path, "\""));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<SimPerson>> persons = ParsePersons(text.str());
  if (!persons.ok()) {
    return absl::Status(persons.status().code(),
                        absl::StrCat(path, ": ", persons.status().message()));
  }
  return persons;
}

}  // namespace utpost::sim
