// The engines the store conformance suite runs against, and the fixture its
// tests share. Every store test that is not about one engine is a TEST_P
// over AllStoreEngines():
//
//   class LetterTest : public utpost::testing::StoreEngineTest {};
//   TEST_P(LetterTest, ...) { store_->... }
//   INSTANTIATE_TEST_SUITE_P(Engines, LetterTest,
//                            ::testing::ValuesIn(AllStoreEngines()),
//                            StoreEngineName);
//
// Adding an engine is one entry in AllStoreEngines() (store_engines.cc).
#ifndef UTPOST_TESTS_TESTING_STORE_ENGINES_H_
#define UTPOST_TESTS_TESTING_STORE_ENGINES_H_

#include <atomic>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/engine.h"
#include "gateway/store/store.h"
#include "gtest/gtest.h"

namespace utpost::testing {

// Where one test keeps its store's data (a temporary folder, a scratch
// database), removed with the object. Engines opened from it must be gone
// before it is.
class StoreHome {
 public:
  virtual ~StoreHome() = default;
  // An engine over this home's data: one opened after an earlier one is
  // closed sees what the earlier one committed, as a restarted process does.
  virtual absl::StatusOr<std::unique_ptr<store::Engine>> OpenEngine() = 0;
};

struct StoreEngineFactory {
  // Used in test names ("Engines/StoreTest.X/Sqlite"): letters and digits.
  std::string name;
  // A fresh, empty home. An engine that cannot run here (no server, no
  // configuration) returns an error saying why: the tests fail, none are
  // skipped.
  std::function<absl::StatusOr<std::unique_ptr<StoreHome>>()> make_home;
};

// Every engine: SQLite, memory and PostgreSQL.
std::vector<StoreEngineFactory> AllStoreEngines();

// For INSTANTIATE_TEST_SUITE_P.
std::string StoreEngineName(
    const ::testing::TestParamInfo<StoreEngineFactory>& info);
void PrintTo(const StoreEngineFactory& factory, std::ostream* os);

// The homes of the engines built here.
absl::StatusOr<std::unique_ptr<StoreHome>> MakeSqliteHome();
absl::StatusOr<std::unique_ptr<StoreHome>> MakeMemoryHome();
// A database of its own on one private PostgreSQL server per test binary
// (tests/testing/postgres_server.h), so suites over every engine run as one
// process each (ONE_PROCESS).
absl::StatusOr<std::unique_ptr<StoreHome>> MakePostgresHome();

// Faults to inject under a store, as leveldb's ErrorEnv does over its
// in-memory Env. Shared between the test and the engine; set at any time.
struct EngineFaults {
  // While set, Write fails with UNAVAILABLE and runs nothing: a commit that
  // did not happen.
  std::atomic<bool> fail_writes{false};
  // While set, Read fails with UNAVAILABLE.
  std::atomic<bool> fail_reads{false};
  // While set, every op of a Write runs twice: first in a savepoint that is
  // rolled back, then for real, as when an engine retries a commit. What an
  // op reports must come from its last run.
  std::atomic<bool> rerun_ops{false};
};

// `engine` with `faults` injected.
std::unique_ptr<store::Engine> WithFaults(std::unique_ptr<store::Engine> engine,
                                          std::shared_ptr<EngineFaults> faults);

// The development receipt signer (certs-dev/, as make-certs.sh made it).
absl::StatusOr<std::unique_ptr<receipts::ReceiptSigner>> DevReceiptSigner();

// A fresh home of the parameter's engine, the development signer and a store
// over them. Set `store_clock_` in the derived fixture's constructor to use
// another clock.
class StoreEngineTest : public ::testing::TestWithParam<StoreEngineFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Closes the store and opens another over the same data, with `signer`
  // and `clock` (null: the fixture's).
  void Reopen(receipts::ReceiptSigner* signer = nullptr,
              Clock* clock = nullptr);
  // Another store over the same data, beside the fixture's; null (and a
  // failure) when it cannot be opened.
  std::unique_ptr<store::Store> OpenAnother(
      receipts::ReceiptSigner* signer, Clock* clock,
      std::shared_ptr<EngineFaults> faults = nullptr);

  Clock* store_clock_ = RealClock();
  std::unique_ptr<StoreHome> home_;
  std::unique_ptr<receipts::ReceiptSigner> signer_;
  std::unique_ptr<store::Store> store_;
};

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_STORE_ENGINES_H_
