// The registry adapters: "krr", the contact registry of persons, made from
// `providers.registry_url` (batched and cached), and "brreg", the business
// registry of organisations, made from `providers.business_registry`
// (cached; Altinn's register says which organisations have an inbox when
// providers.altinn is set).
#ifndef UTPOST_ADAPTERS_REGISTRY_REGISTRY_FACTORY_H_
#define UTPOST_ADAPTERS_REGISTRY_REGISTRY_FACTORY_H_

#include "adapters/adapter.h"

namespace utpost::adapters {

RegistryAdapter KrrAdapter();
OrganisationRegistryAdapter BrregAdapter();

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_REGISTRY_REGISTRY_FACTORY_H_
