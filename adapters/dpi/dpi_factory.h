// The "dpi" adapter: the channel "dpi" to digital mailboxes reached through
// DPI (e-Boks), made from `providers.dpi`; it asks the contact registry
// (AdapterContext::persons) for the mailbox itself just before sending.
#ifndef UTPOST_ADAPTERS_DPI_DPI_FACTORY_H_
#define UTPOST_ADAPTERS_DPI_DPI_FACTORY_H_

#include "adapters/adapter.h"

namespace utpost::adapters {

ChannelAdapter DpiAdapter();

// The "dpi-print" adapter: print through DPI (NewDpiPrintChannel) from
// `providers.dpi` with its print_provider and print_certificate_file; it
// serves the print channel when providers.channel_adapters chooses it.
ChannelAdapter DpiPrintAdapter();

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_DPI_DPI_FACTORY_H_
