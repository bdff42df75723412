#include "gateway/api/pricing.h"

#include "gateway/dispatch/routing.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::api {

UnitPrices UnitPricesOf(const config::v1::Config& config) {
  UnitPrices p;
  if (!config.has_pricing()) return p;
  const config::v1::Pricing& c = config.pricing();
  p.configured = true;
  if (!c.currency().empty()) p.currency = c.currency();
  p.digital_per_letter = c.digital_per_letter();
  p.dpi_per_letter = c.dpi_per_letter();
  p.altinn_per_letter = c.altinn_per_letter();
  p.print_per_letter = c.print_per_letter();
  p.print_per_sheet = c.print_per_sheet();
  p.postage_b = c.postage_b();
  p.postage_a = c.postage_a();
  return p;
}

int64_t LetterCost(const UnitPrices& prices, const std::string& channel,
                   int sheets, bool a_post) {
  if (channel == dispatch::kDigitalChannel) return prices.digital_per_letter;
  if (channel == dispatch::kDpiChannel) return prices.dpi_per_letter;
  if (channel == dispatch::kAltinnChannel) return prices.altinn_per_letter;
  if (channel == dispatch::kPrintChannel) {
    return prices.print_per_letter + prices.print_per_sheet * sheets +
           (a_post ? prices.postage_a : prices.postage_b);
  }
  return 0;
}

}  // namespace utpost::api
