#include "gateway/store/make_store.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gateway/store/postgres_engine.h"
#include "gateway/store/sqlite_store.h"
#include "gateway/store/store_impl.h"

namespace utpost::store {
namespace {

// The password from UTPOST_STORE_PASSWORD (which wins) or the file (a
// mounted Secret: one line, its line break not part of it); empty when
// neither is set (a conninfo may use a .pgpass file or certificates).
absl::StatusOr<std::string> PostgresPassword(
    const ::utpost::config::v1::Postgres& config) {
  const char* env = getenv("UTPOST_STORE_PASSWORD");
  if (env != nullptr && *env != '\0') return std::string(env);
  if (config.password_file().empty()) return std::string();
  std::ifstream in(config.password_file(), std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store.postgres.password_file: cannot read ", config.password_file()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string password = ss.str();
  while (!password.empty() &&
         (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  if (password.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store.postgres.password_file: ", config.password_file(), " is empty"));
  }
  return password;
}

absl::StatusOr<std::unique_ptr<Store>> MakePostgresStore(
    const ::utpost::config::v1::Postgres& config,
    receipts::ReceiptSigner* signer, Clock* clock) {
  PostgresEngineOptions options;
  options.conninfo = config.conninfo();
  ASSIGN_OR_RETURN(options.password, PostgresPassword(config));
  if (config.pool_size() > 0) options.pool_size = config.pool_size();
  auto engine = OpenPostgresEngine(options);
  if (!engine.ok()) {
    // The message names the server, never the password.
    return absl::Status(
        engine.status().code(),
        absl::StrCat("store.postgres: ", engine.status().message()));
  }
  StoreOptions store_options;
  store_options.signer = signer;
  store_options.clock = clock;
  return OpenStore(*std::move(engine), store_options);
}

}  // namespace

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
    return MakePostgresStore(config.postgres(), signer, clock);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "store.engine: \"", config.engine(), "\" is not sqlite or postgres"));
}

}  // namespace utpost::store
