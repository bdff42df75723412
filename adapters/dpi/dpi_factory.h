// The "dpi" adapter: the channel "dpi" to digital mailboxes reached through
// DPI (e-Boks), made from `providers.dpi`.
#ifndef UTPOST_ADAPTERS_DPI_DPI_FACTORY_H_
#define UTPOST_ADAPTERS_DPI_DPI_FACTORY_H_

#include "adapters/adapter.h"

namespace utpost::adapters {

ChannelAdapter DpiAdapter();

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_DPI_DPI_FACTORY_H_
