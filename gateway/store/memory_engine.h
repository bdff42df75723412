// An engine that keeps everything in memory, for unit tests: the same
// contract as the database engines (engine.h), run by the same conformance
// suite, with nothing on disk. Nothing survives the object.
#ifndef UTPOST_GATEWAY_STORE_MEMORY_ENGINE_H_
#define UTPOST_GATEWAY_STORE_MEMORY_ENGINE_H_

#include <memory>

#include "gateway/store/engine.h"

namespace utpost::store {

// Thread-safe: one writer at a time, readers see the last commit. Receipts
// become leaves in the transaction that writes them.
std::unique_ptr<Engine> NewMemoryEngine();

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_MEMORY_ENGINE_H_
