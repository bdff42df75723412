#include "gateway/store/sqlite_store.h"

#include <utility>

#include "common/status_macros.h"
#include "gateway/store/sqlite_engine.h"
#include "gateway/store/store_impl.h"

namespace utpost::store {

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(
    const SqliteStoreOptions& options) {
  if (options.signer == nullptr) {
    return absl::InvalidArgumentError("store needs a receipt signer");
  }
  SqliteEngineOptions engine_options;
  engine_options.path = options.path;
  engine_options.busy_timeout_ms = options.busy_timeout_ms;
  engine_options.max_readers = options.max_readers;
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                   OpenSqliteEngine(engine_options));
  StoreOptions store_options;
  store_options.signer = options.signer;
  store_options.clock = options.clock;
  return OpenStore(std::move(engine), store_options);
}

}  // namespace utpost::store
