#include "tests/testing/store_engines.h"

#include <atomic>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/memory_engine.h"
#include "gateway/store/postgres_engine.h"
#include "gateway/store/sqlite_engine.h"
#include "gateway/store/store_impl.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/temp_store.h"

namespace utpost::testing {
namespace {

class SqliteHome final : public StoreHome {
 public:
  SqliteHome() : files_("engine") {}
  bool ok() const { return !files_.dir().empty(); }

  absl::StatusOr<std::unique_ptr<store::Engine>> OpenEngine() override {
    store::SqliteEngineOptions options;
    options.path = files_.path();
    return store::OpenSqliteEngine(options);
  }

 private:
  TempStoreFiles files_;
};

// Forwards to the home's one engine, so that "reopening" finds the data
// again, as with a file.
class SharedEngine final : public store::Engine {
 public:
  explicit SharedEngine(std::shared_ptr<store::Engine> engine)
      : engine_(std::move(engine)) {}
  absl::Status Write(std::vector<WriteOp>* ops) override {
    return engine_->Write(ops);
  }
  absl::Status Read(
      const std::function<absl::Status(store::ReadTxn&)>& fn) override {
    return engine_->Read(fn);
  }
  bool log_in_transaction() const override {
    return engine_->log_in_transaction();
  }
  absl::StatusOr<bool> HoldSequencerLease() override {
    return engine_->HoldSequencerLease();
  }

 private:
  std::shared_ptr<store::Engine> engine_;
};

class FaultyEngine final : public store::Engine {
 public:
  FaultyEngine(std::unique_ptr<store::Engine> engine,
               std::shared_ptr<EngineFaults> faults)
      : engine_(std::move(engine)), faults_(std::move(faults)) {}
  absl::Status Write(std::vector<WriteOp>* ops) override {
    if (faults_->fail_writes) {
      return absl::UnavailableError("injected: the commit failed");
    }
    if (!faults_->rerun_ops) return engine_->Write(ops);
    // Each op twice: a first run that fails (and is rolled back), then the
    // real one, whose status is the op's.
    std::vector<WriteOp> twice;
    for (const WriteOp& op : *ops) {
      twice.push_back({[run = op.run](store::WriteTxn& txn) {
        run(txn).IgnoreError();
        return absl::AbortedError("injected: this run is rolled back");
      }});
      twice.push_back({op.run});
    }
    RETURN_IF_ERROR(engine_->Write(&twice));
    for (size_t i = 0; i < ops->size(); ++i) {
      (*ops)[i].status = twice[2 * i + 1].status;
    }
    return absl::OkStatus();
  }
  absl::Status Read(
      const std::function<absl::Status(store::ReadTxn&)>& fn) override {
    if (faults_->fail_reads) {
      return absl::UnavailableError("injected: the read failed");
    }
    return engine_->Read(fn);
  }
  bool log_in_transaction() const override {
    return engine_->log_in_transaction();
  }
  absl::StatusOr<bool> HoldSequencerLease() override {
    return engine_->HoldSequencerLease();
  }

 private:
  std::unique_ptr<store::Engine> engine_;
  std::shared_ptr<EngineFaults> faults_;
};

class MemoryHome final : public StoreHome {
 public:
  absl::StatusOr<std::unique_ptr<store::Engine>> OpenEngine() override {
    return std::make_unique<SharedEngine>(engine_);
  }

 private:
  std::shared_ptr<store::Engine> engine_ = store::NewMemoryEngine();
};

// One private PostgreSQL server for the whole test binary (started on the
// first PostgreSQL test, stopped at exit); a database of its own per home.
absl::StatusOr<testing::PostgresServer*> SharedPostgresServer() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::StatusOr<std::unique_ptr<PostgresServer>>* server = nullptr;
  absl::MutexLock lock(&mu);
  if (server == nullptr) {
    server = new absl::StatusOr<std::unique_ptr<PostgresServer>>(
        PostgresServer::Start());
    if (server->ok()) {
      // Stopped (and its folder removed) when the binary exits.
      static std::unique_ptr<PostgresServer>* owner = &**server;
      std::atexit([] { owner->reset(); });
    }
  }
  if (!server->ok()) return server->status();
  return server->value().get();
}

class PostgresHome final : public StoreHome {
 public:
  PostgresHome(PostgresServer* server, std::string database)
      : server_(server), database_(std::move(database)) {}

  absl::StatusOr<std::unique_ptr<store::Engine>> OpenEngine() override {
    store::PostgresEngineOptions options;
    options.conninfo = server_->ConnInfoWithoutPassword(database_);
    options.password = server_->password();
    options.pool_size = 4;
    return store::OpenPostgresEngine(options);
  }

 private:
  PostgresServer* const server_;
  const std::string database_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StoreHome>> MakePostgresHome() {
  static std::atomic<int> next{0};
  ASSIGN_OR_RETURN(PostgresServer * server, SharedPostgresServer());
  std::string database = absl::StrCat("store_", next.fetch_add(1));
  RETURN_IF_ERROR(server->CreateDatabase(database));
  return std::unique_ptr<StoreHome>(
      std::make_unique<PostgresHome>(server, std::move(database)));
}

std::unique_ptr<store::Engine> WithFaults(
    std::unique_ptr<store::Engine> engine,
    std::shared_ptr<EngineFaults> faults) {
  return std::make_unique<FaultyEngine>(std::move(engine), std::move(faults));
}

absl::StatusOr<std::unique_ptr<StoreHome>> MakeSqliteHome() {
  auto home = std::make_unique<SqliteHome>();
  if (!home->ok()) {
    return absl::InternalError("cannot make a folder for the SQLite store");
  }
  return std::unique_ptr<StoreHome>(std::move(home));
}

absl::StatusOr<std::unique_ptr<StoreHome>> MakeMemoryHome() {
  return std::unique_ptr<StoreHome>(std::make_unique<MemoryHome>());
}

std::vector<StoreEngineFactory> AllStoreEngines() {
  // One line per engine. A home that needs a server makes its error say
  // which setting or server is missing: every test then fails with it.
  return {
      {"Sqlite", MakeSqliteHome},
      {"Memory", MakeMemoryHome},
      {"Postgres", MakePostgresHome},
  };
}

std::string StoreEngineName(
    const ::testing::TestParamInfo<StoreEngineFactory>& info) {
  return info.param.name;
}

void PrintTo(const StoreEngineFactory& factory, std::ostream* os) {
  *os << factory.name;
}

absl::StatusOr<std::unique_ptr<receipts::ReceiptSigner>> DevReceiptSigner() {
  return receipts::NewJwsReceiptSigner(
      {"certs-dev/receipts.key", "certs-dev/receipts.pem"});
}

void StoreEngineTest::SetUp() {
  auto home = GetParam().make_home();
  ASSERT_THAT(home, IsOk()) << GetParam().name << " engine";
  home_ = std::move(*home);
  auto signer = DevReceiptSigner();
  ASSERT_THAT(signer, IsOk());
  signer_ = std::move(*signer);
  Reopen();
}

void StoreEngineTest::TearDown() {
  store_.reset();
  home_.reset();
}

void StoreEngineTest::Reopen(receipts::ReceiptSigner* signer, Clock* clock) {
  store_.reset();
  store_ = OpenAnother(signer, clock);
  ASSERT_NE(store_, nullptr);
}

std::unique_ptr<store::Store> StoreEngineTest::OpenAnother(
    receipts::ReceiptSigner* signer, Clock* clock,
    std::shared_ptr<EngineFaults> faults) {
  if (home_ == nullptr) {
    ADD_FAILURE() << "no store home";
    return nullptr;
  }
  auto engine = home_->OpenEngine();
  EXPECT_THAT(engine, IsOk()) << GetParam().name << " engine";
  if (!engine.ok()) return nullptr;
  store::StoreOptions options;
  options.signer = signer != nullptr ? signer : signer_.get();
  options.clock = clock != nullptr ? clock : store_clock_;
  std::unique_ptr<store::Engine> e = std::move(*engine);
  if (faults != nullptr) e = WithFaults(std::move(e), std::move(faults));
  auto s = store::OpenStore(std::move(e), options);
  EXPECT_THAT(s, IsOk()) << GetParam().name << " store";
  return s.ok() ? std::move(*s) : nullptr;
}

}  // namespace utpost::testing
