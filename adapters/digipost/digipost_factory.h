// The "digipost" adapter: the Digipost-direct channel "digital", made from
// `providers.digipost`.
#ifndef UTPOST_ADAPTERS_DIGIPOST_DIGIPOST_FACTORY_H_
#define UTPOST_ADAPTERS_DIGIPOST_DIGIPOST_FACTORY_H_

#include "adapters/adapter.h"

namespace utpost::adapters {

ChannelAdapter DigipostAdapter();

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_DIGIPOST_DIGIPOST_FACTORY_H_
