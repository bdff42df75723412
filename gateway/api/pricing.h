// Unit prices of the providers, from the configuration's `pricing`, and
// what one letter costs by them. Used by the preflight of a bulk run and
// by statistics.
#ifndef UTPOST_GATEWAY_API_PRICING_H_
#define UTPOST_GATEWAY_API_PRICING_H_

#include <cstdint>
#include <string>

namespace utpost::config::v1 {
class Config;
}  // namespace utpost::config::v1

namespace utpost::api {

// Amounts in the minor unit of `currency` (øre for NOK); every one >= 0
// (the configuration loader checks). Immutable once made.
struct UnitPrices {
  // False when the configuration has no `pricing`: every cost is then 0.
  bool configured = false;
  std::string currency = "NOK";
  int64_t digital_per_letter = 0;
  int64_t dpi_per_letter = 0;
  int64_t altinn_per_letter = 0;
  int64_t print_per_letter = 0;
  int64_t print_per_sheet = 0;
  int64_t postage_b = 0;
  int64_t postage_a = 0;
};

// The prices of a loaded (validated) configuration.
UnitPrices UnitPricesOf(const config::v1::Config& config);

// What one letter costs on `channel` ("digital", "dpi", "altinn",
// "print"; 0 for anything else). For print: the per-letter price, each of
// `sheets` and the postage of one envelope, A-post when `a_post`.
int64_t LetterCost(const UnitPrices& prices, const std::string& channel,
                   int sheets, bool a_post);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_PRICING_H_
