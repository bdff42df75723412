#include "adapters/registry/registry_factory.h"

#include <utility>

#include "adapters/registry/business_registry.h"
#include "adapters/registry/krr_registry.h"
#include "adapters/registry/registry_decorators.h"

namespace utpost::adapters {

RegistryAdapter KrrAdapter() {
  RegistryAdapter a;
  a.make = [](const config::v1::Providers& p, const AdapterContext& context)
      -> absl::StatusOr<std::unique_ptr<Registry>> {
    if (p.registry_url().empty()) {
      return absl::InvalidArgumentError("registry_url: must be set");
    }
    KrrRegistryOptions options;
    options.base_url = p.registry_url();
    options.tokens = context.tokens;
    std::unique_ptr<Registry> registry =
        NewKrrRegistry(std::move(options), context.http);
    // Concurrent look-ups are gathered into one request.
    registry =
        NewBatchingRegistry(std::move(registry), BatchingRegistryOptions{});
    RegistryCacheOptions cache;
    cache.lifetime_ms = p.has_registry_cache_seconds()
                            ? int64_t{p.registry_cache_seconds()} * 1000
                            : cache.lifetime_ms;
    cache.clock = context.clock;
    return NewCachingRegistry(std::move(registry), cache);
  };
  return a;
}

OrganisationRegistryAdapter BrregAdapter() {
  OrganisationRegistryAdapter a;
  a.configured = [](const config::v1::Providers& p) {
    return !p.business_registry().url().empty();
  };
  a.make = [](const config::v1::Providers& p, const AdapterContext& context)
      -> absl::StatusOr<std::unique_ptr<OrganisationRegistry>> {
    if (p.business_registry().url().empty()) {
      return absl::InvalidArgumentError("business_registry.url: must be set");
    }
    BusinessRegistryOptions options;
    options.base_url = p.business_registry().url();
    // Altinn's register takes a platform access token, not an Altinn
    // token: no Maskinporten exchange here.
    if (!p.altinn().url().empty()) {
      options.altinn_url = p.altinn().url();
      options.platform_access_token_file =
          p.business_registry().altinn_platform_access_token_file();
    }
    RegistryCacheOptions cache;
    cache.lifetime_ms =
        p.business_registry().has_cache_seconds()
            ? int64_t{p.business_registry().cache_seconds()} * 1000
            : cache.lifetime_ms;
    cache.clock = context.clock;
    return NewCachingOrganisationRegistry(
        NewBusinessRegistry(std::move(options), context.http), cache);
  };
  return a;
}

}  // namespace utpost::adapters
