// An engine that keeps everything in memory, for unit tests: the same
// contract as the database engines (engine.h), run by the same conformance
// suite, with nothing on disk. Nothing survives the object.
#ifndef UTPOST_GATEWAY_STORE_MEMORY_ENGINE_H_
#define UTPOST_GATEWAY_STORE_MEMORY_ENGINE_H_

#include <memory>

#include "gateway/store/engine.h"

namespace utpost::store {

// Thread-safe: one writer at a time, readers see the last commit and never
// wait for a writer. Receipts become leaves in the transaction that writes
// them. Each write op runs on its own copy of the tables (rows are shared,
// so the copy is of pointers, not of documents or signatures): a write
// costs time in proportion to what is stored, about 1 ms per op at 4000
// letters, which suits tests, not production. Ties in an order the
// contract leaves open (letters changed in the same millisecond, timers due
// at once) come out in the order the rows were written.
std::unique_ptr<Engine> NewMemoryEngine();

}  // namespace utpost::store

#endif  // UTPOST_GATEWAY_STORE_MEMORY_ENGINE_H_
