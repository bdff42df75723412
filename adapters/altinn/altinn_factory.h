// The "altinn" adapter: the channel "altinn" to organisations' inboxes,
// made from `providers.altinn` (its tokens exchanged from
// providers.maskinporten's).
#ifndef UTPOST_ADAPTERS_ALTINN_ALTINN_FACTORY_H_
#define UTPOST_ADAPTERS_ALTINN_ALTINN_FACTORY_H_

#include "adapters/adapter.h"

namespace utpost::adapters {

ChannelAdapter AltinnAdapter();

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_ALTINN_ALTINN_FACTORY_H_
