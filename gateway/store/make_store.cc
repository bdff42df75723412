#include "gateway/store/make_store.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gateway/store/sqlite_store.h"

namespace utpost::store {

absl::StatusOr<std::unique_ptr<Store>> MakeStore(
    const ::utpost::config::v1::Store& config, receipts::ReceiptSigner* signer,
    Clock* clock) {
  if (config.engine().empty() || config.engine() == "sqlite") {
    SqliteStoreOptions options;
    options.path = config.sqlite_path();
    options.signer = signer;
    options.clock = clock;
    auto store = OpenSqliteStore(options);
    if (!store.ok()) {
      return absl::Status(
          store.status().code(),
          absl::StrCat("store.sqlite_path: ", store.status().message()));
    }
    return store;
  }
  if (config.engine() == "postgres") {
    return absl::UnimplementedError(
        "store.engine: postgres is not built into this version");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "store.engine: \"", config.engine(), "\" is not sqlite or postgres"));
}

}  // namespace utpost::store
