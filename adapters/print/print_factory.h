// The "print" adapter: the print provider's channel "print", made from
// `providers.print`.
#ifndef UTPOST_ADAPTERS_PRINT_PRINT_FACTORY_H_
#define UTPOST_ADAPTERS_PRINT_PRINT_FACTORY_H_

#include "adapters/adapter.h"

namespace utpost::adapters {

ChannelAdapter PrintAdapter();

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_PRINT_PRINT_FACTORY_H_
