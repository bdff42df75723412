// The simulated business registry's organisations and whether Altinn's
// register knows them, loaded from YAML (sim/data/organisations.yaml documents
// the format).
#ifndef UTPOST_SIM_ORGANISATIONS_H_
#define UTPOST_SIM_ORGANISATIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace utpost::sim {

struct SimOrganisation {
  std::string number;  // 9 digits.
  std::string name;
  std::vector<std::string> address_lines;
  std::string postal_code;
  std::string city;
  std::string country_code = "NO";
  // Set (YYYY-MM-DD) when the organisation has been deleted.
  std::string deleted_date;
  // A party in Altinn's register (every unit of Enhetsregisteret is, so the
  // default): false for one Altinn does not know, which Altinn's register
  // answers 404 and the correspondence upload 404 with error 1029.
  bool altinn_party = true;
  // Reads a correspondence this long after it is published; -1 never
  // (unless told so through the test-control endpoint).
  int64_t read_after_ms = -1;
};

// Parses the YAML text of an organisations file. INVALID_ARGUMENT naming
// the entry for a missing or malformed number or a number listed twice.
absl::StatusOr<std::vector<SimOrganisation>> ParseOrganisations(
    std::string_view yaml);

// Reads and parses the file at `path`; its name is in every error.
absl::StatusOr<std::vector<SimOrganisation>> LoadOrganisations(
    const std::string& path);

}  // namespace utpost::sim

#endif  // UTPOST_SIM_ORGANISATIONS_H_
