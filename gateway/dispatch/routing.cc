#include "gateway/dispatch/routing.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace utpost::dispatch {
namespace {

using Mode = ::utpost::v1::DeliveryPolicy;

bool Contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// The digital channel for the recipient, or empty with `why` set.
std::string DigitalChannel(const RoutingInput& in,
                           const RoutingOptions& options, std::string* why) {
  if (in.organisation) {
    using S = adapters::OrganisationContact::Status;
    const adapters::OrganisationContact* o = in.org;
    if (o == nullptr) {
      *why = "no organisation registry configured";
    } else if (o->status == S::kNotRegistered) {
      *why = "not registered in the business registry";
    } else if (o->status == S::kDeleted) {
      *why = "deleted in the business registry";
    } else if (!o->has_inbox) {
      *why = "organisation has no digital inbox";
    } else {
      *why = "organisation inbox";
      return kAltinnChannel;
    }
    return "";
  }
  using S = adapters::PersonContact::Status;
  const adapters::PersonContact* p = in.person;
  if (p == nullptr || p->status == S::kNotRegistered) {
    *why = "not registered in the contact registry";
  } else if (p->status == S::kDeleted) {
    *why = "deleted in the contact registry";
  } else if (p->reserved) {
    *why = "reserved against digital post";
  } else if (p->mailbox_address.empty() || p->mailbox_provider.empty()) {
    *why = "no digital mailbox";
  } else if (Contains(options.digipost_providers, p->mailbox_provider)) {
    *why = absl::StrCat("digital mailbox at ", p->mailbox_provider);
    return kDigitalChannel;
  } else if (Contains(options.dpi_providers, p->mailbox_provider)) {
    *why = absl::StrCat("digital mailbox at ", p->mailbox_provider, " (DPI)");
    return kDpiChannel;
  } else {
    *why = absl::StrCat("mailbox provider ", p->mailbox_provider,
                        " not reachable");
  }
  return "";
}

}  // namespace

RoutingDecision DecideRoute(const RoutingInput& in,
                            const RoutingOptions& options) {
  RoutingDecision d;
  std::string why;
  if (in.mode == Mode::PRINT_ONLY) {
    why = "policy PRINT_ONLY";
  } else {
    d.channel = DigitalChannel(in, options, &why);
    if (!d.channel.empty()) {
      d.reason = why;
      return d;
    }
    if (in.mode == Mode::DIGITAL_ONLY) {
      d.reason = absl::StrCat("DIGITAL_ONLY, but ", why);
      return d;
    }
  }
  // Print.
  if (!in.has_postal_address) {
    const bool registry_address =
        in.organisation && in.org != nullptr &&
        in.org->status == adapters::OrganisationContact::Status::kActive &&
        !in.org->postal_address.postal_code.empty();
    if (!registry_address) {
      d.reason =
          absl::StrCat(why, ", and print needs recipient.postal_address");
      return d;
    }
    d.use_registry_address = true;
  }
  d.channel = kPrintChannel;
  d.reason = why;
  return d;
}

}  // namespace utpost::dispatch
