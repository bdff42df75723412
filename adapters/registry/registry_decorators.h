// Registries wrapped around other registries: one that gathers look-ups
// from many threads into one request, and caches that reuse answers for a
// configured time. Stack them as cache(batching(krr)).
#ifndef UTPOST_ADAPTERS_REGISTRY_REGISTRY_DECORATORS_H_
#define UTPOST_ADAPTERS_REGISTRY_REGISTRY_DECORATORS_H_

#include <cstdint>
#include <memory>

#include "adapters/channel.h"
#include "common/clock.h"

namespace utpost::adapters {

struct BatchingRegistryOptions {
  // Most numbers in one request to the inner registry. Default (and the
  // contact registry's maximum) 1000.
  int max_batch = 1000;
  // How long the first caller of a batch waits for others to join before
  // the request goes, unless the batch fills first. This is all the delay a
  // lone look-up sees. Default 5 ms.
  int64_t window_ms = 5;
  // Requests to the inner registry at once; callers beyond it keep filling
  // the next batch meanwhile (group commit). Default 4.
  int max_in_flight = 4;
};

// Coalesces concurrent LookupPersons calls from any number of threads into
// requests of up to `max_batch` numbers: the first caller of a batch leads
// it, waits up to `window_ms` (less once the batch is full) for other
// callers, then asks `inner` once and hands every caller its own entries.
// A call with more than `max_batch` numbers goes to `inner` alone. An
// error from `inner` is every caller's error in that batch. Thread-safe.
std::unique_ptr<Registry> NewBatchingRegistry(std::unique_ptr<Registry> inner,
                                              BatchingRegistryOptions options);

struct RegistryCacheOptions {
  // How long an answer is reused. 0 disables the cache. Default 1 hour.
  int64_t lifetime_ms = 60 * 60 * 1000;
  // Entries kept at most; beyond, expired ones are dropped first, then all.
  // Default 100000.
  size_t max_entries = 100000;
  // Not owned. Null: the real clock.
  const Clock* clock = nullptr;
};

// Answers from a per-number cache; asks `inner` once per call for the
// numbers not cached (or expired), each number once. Errors are not cached.
// With lifetime_ms 0, returns `inner` itself. Thread-safe.
std::unique_ptr<Registry> NewCachingRegistry(std::unique_ptr<Registry> inner,
                                             RegistryCacheOptions options);

// The same for organisations: answers (kNotRegistered included) reused for
// the lifetime. Thread-safe.
std::unique_ptr<OrganisationRegistry> NewCachingOrganisationRegistry(
    std::unique_ptr<OrganisationRegistry> inner, RegistryCacheOptions options);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_REGISTRY_REGISTRY_DECORATORS_H_
