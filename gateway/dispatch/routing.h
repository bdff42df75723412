// Which channel a letter takes, from its delivery policy and what the
// registries say of its recipient. A pure function: no I/O, no clock; the
// dispatcher does the look-ups and acts on the decision.
//
// The table (DESIGN.md, PROTOCOLS.md):
//   PRINT_ONLY                                   -> "print"
//   person, active, not reserved, mailbox at a provider in
//     digipost_providers                         -> "digital" (Digipost direct)
//     dpi_providers                              -> "dpi"
//   person reserved, deleted, unregistered, without a mailbox, or with a
//     mailbox at a provider in neither list      -> no digital channel
//   organisation, active, with an inbox          -> "altinn"
//   organisation without an inbox, deleted or
//     unregistered, or no organisation registry  -> no digital channel
// No digital channel: DIGITAL_THEN_PRINT -> "print", DIGITAL_ONLY -> failed
// with the reason. Print without a postal address (the letter's own, or the
// business registry's for an organisation) -> failed.
//
// Whether the chosen channel is configured is the dispatcher's concern,
// not this table's.
#ifndef UTPOST_GATEWAY_DISPATCH_ROUTING_H_
#define UTPOST_GATEWAY_DISPATCH_ROUTING_H_

#include <string>
#include <vector>

#include "adapters/channel.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::dispatch {

// Channel names as routing chooses them (and as work stages
// "deliver.<name>" carry them).
inline constexpr char kDigitalChannel[] = "digital";
inline constexpr char kDpiChannel[] = "dpi";
inline constexpr char kAltinnChannel[] = "altinn";
inline constexpr char kPrintChannel[] = "print";

struct RoutingOptions {
  // Mailbox providers (organisation numbers) reached through the
  // Digipost-direct channel "digital".
  std::vector<std::string> digipost_providers = {"984661185"};
  // Mailbox providers reached through DPI (channel "dpi"): e-Boks.
  std::vector<std::string> dpi_providers = {"922020175"};
};

struct RoutingInput {
  ::utpost::v1::DeliveryPolicy::Mode mode =
      ::utpost::v1::DeliveryPolicy::DIGITAL_THEN_PRINT;  // UNSPECIFIED too.
  bool organisation = false;                             // Else a person.
  // The contact registry's answer for a person; null when it had none.
  const adapters::PersonContact* person = nullptr;
  // The business registry's answer for an organisation; null when no
  // organisation registry is configured.
  const adapters::OrganisationContact* org = nullptr;
  // The letter carries recipient.postal_address.
  bool has_postal_address = false;
};

struct RoutingDecision {
  // Empty when the letter fails.
  std::string channel;
  // Why, in words for the timeline ("digital mailbox at 984661185",
  // "DIGITAL_ONLY, but reserved against digital post").
  std::string reason;
  // For print to an organisation without its own address on the letter:
  // the business registry's address is used.
  bool use_registry_address = false;

  bool failed() const { return channel.empty(); }
};

RoutingDecision DecideRoute(const RoutingInput& in,
                            const RoutingOptions& options);

}  // namespace utpost::dispatch

#endif  // UTPOST_GATEWAY_DISPATCH_ROUTING_H_
