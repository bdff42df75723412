// The simulated contact registry's people, loaded from YAML
// (sim/data/persons.yaml documents the format).
#ifndef UTPOST_SIM_PERSONS_H_
#define UTPOST_SIM_PERSONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace utpost::sim {

// Organisation numbers of the mailbox providers.
inline constexpr std::string_view kDigipostOrganisation = "984661185";
inline constexpr std::string_view kEboksOrganisation = "922020175";

struct SimPerson {
  std::string number;  // 11 digits.
  std::string name;
  bool deleted = false;   // status SLETTET (else AKTIV).
  bool reserved = false;  // reservasjon JA.
  std::string email;
  std::string mobile;
  // Both empty without a digital mailbox.
  std::string mailbox_address;
  std::string mailbox_provider;
  // The recipient opens each letter delivered to the Digipost mailbox this
  // long after it arrived (an OPENED event); -1: never.
  int64_t reads_after_seconds = -1;
};

// Parses the YAML text of a persons file. INVALID_ARGUMENT naming the entry
// for a missing or malformed number, an unknown status or reservasjon, or
// a number listed twice.
absl::StatusOr<std::vector<SimPerson>> ParsePersons(std::string_view yaml);

// Reads and parses the file at `path`; its name is in every error.
absl::StatusOr<std::vector<SimPerson>> LoadPersons(const std::string& path);

}  // namespace utpost::sim

#endif  // UTPOST_SIM_PERSONS_H_
