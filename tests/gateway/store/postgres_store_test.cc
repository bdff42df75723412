// The store's rules (store_impl) over the PostgreSQL engine, with several
// stores on one database as several processes would have: letters, the
// hash chain, one sequencer for the log, tree heads and proofs, and
// MakeStore's postgres configuration.
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/receipts/merkle.h"
#include "gateway/store/make_store.h"
#include "gateway/store/postgres_engine.h"
#include "gateway/store/store_impl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres_database_test.h"

namespace utpost::store {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::IsOkAndHolds;
using ::utpost::testing::PostgresDatabaseTest;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Letter;
namespace merkle = receipts::merkle;

constexpr char kTenant[] = "964338531";

NewLetter MakeLetter(const std::string& id, const std::string& ref) {
  NewLetter l;
  l.id = id;
  l.tenant = kTenant;
  l.client_reference = ref;
  l.request_digest = Sha256Hex(ref);
  l.spec.set_client_reference(ref);
  l.spec.set_title("Vedtak");
  l.spec.mutable_recipient()->set_person("01017012345");
  Document doc;
  doc.file_name = "vedtak.pdf";
  doc.media_type = "application/pdf";
  doc.content = absl::StrCat("%PDF-1.7 ", id);
  l.documents.push_back(doc);
  l.first_work.exchange = "utpost.work";
  l.first_work.routing_key = "route";
  l.first_work.body = absl::StrCat("route:", id);
  l.first_work.state_when_sent = Letter::QUEUED;
  return l;
}

Transition To(State to, std::vector<State> from, std::string channel = "") {
  Transition t;
  t.from = std::move(from);
  t.to = to;
  t.channel = std::move(channel);
  return t;
}

class PostgresStoreTest : public PostgresDatabaseTest {
 protected:
  void SetUp() override {
    PostgresDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    auto signer = receipts::NewJwsReceiptSigner(
        {"certs-dev/receipts.key", "certs-dev/receipts.pem"});
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
  }

  // A store of its own engine and pool, as another process would have.
  std::unique_ptr<Store> OpenOne() {
    PostgresEngineOptions o;
    o.conninfo = ConnInfo();
    o.password = Password();
    o.pool_size = 4;
    auto engine = OpenPostgresEngine(o);
    EXPECT_THAT(engine, IsOk());
    if (!engine.ok()) return nullptr;
    StoreOptions so;
    so.signer = signer_.get();
    auto store = OpenStore(*std::move(engine), so);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  static void Create(Store& store, const std::string& id) {
    std::vector<NewLetter> v;
    v.push_back(MakeLetter(id, "ref-" + id));
    auto r = store.CreateLetters(std::move(v));
    ASSERT_THAT(r, IsOk());
    ASSERT_THAT(*r, SizeIs(1));
    ASSERT_THAT((*r)[0], IsOk());
  }

  // RECEIVED -> QUEUED -> ROUTED -> SENT_DIGITAL -> DELIVERED: 5 receipts.
  static void Deliver(Store& store, const std::string& id) {
    Create(store, id);
    State prev = Letter::RECEIVED;
    for (const auto& [state, channel] :
         std::vector<std::pair<State, std::string>>{{Letter::QUEUED, ""},
                                                    {Letter::ROUTED, "digital"},
                                                    {Letter::SENT_DIGITAL, ""},
                                                    {Letter::DELIVERED, ""}}) {
      ASSERT_THAT(store.ApplyTransition(id, To(state, {prev}, channel)),
                  IsOk());
      prev = state;
    }
  }

  std::unique_ptr<receipts::ReceiptSigner> signer_;
};

TEST_F(PostgresStoreTest, LettersReceiptsAndTheLogWork) {
  auto store = OpenOne();
  ASSERT_NE(store, nullptr);
  Deliver(*store, "L1");
  auto letter = store->GetLetter("L1", kTenant);
  ASSERT_THAT(letter, IsOk());
  EXPECT_EQ(letter->state, Letter::DELIVERED);
  EXPECT_EQ(letter->channel, "digital");
  ASSERT_THAT(letter->documents, SizeIs(1));
  auto docs = store->GetDocuments("L1");
  ASSERT_THAT(docs, IsOk());
  ASSERT_THAT(*docs, SizeIs(1));
  EXPECT_EQ((*docs)[0].content, "%PDF-1.7 L1");

  auto receipts = store->GetReceipts("L1", kTenant);
  ASSERT_THAT(receipts, IsOk());
  ASSERT_THAT(*receipts, SizeIs(5));
  for (size_t i = 0; i < receipts->size(); ++i) {
    EXPECT_EQ((*receipts)[i].sequence, static_cast<int64_t>(i + 1));
    EXPECT_EQ((*receipts)[i].sha256_hex, Sha256Hex((*receipts)[i].jws));
    // Queued: not leaves until the sequencer runs.
    EXPECT_EQ((*receipts)[i].leaf_index, -1);
  }
  EXPECT_THAT(store->ReceiptLogSize(), IsOkAndHolds(0));
  EXPECT_THAT(store->SequenceReceipts(), IsOkAndHolds(5));
  EXPECT_THAT(store->SequenceReceipts(), IsOkAndHolds(0));
  EXPECT_THAT(store->ReceiptLogSize(), IsOkAndHolds(5));

  receipts = store->GetReceipts("L1", kTenant);
  ASSERT_THAT(receipts, IsOk());
  merkle::InMemoryTree tree;
  for (size_t i = 0; i < receipts->size(); ++i) {
    EXPECT_EQ((*receipts)[i].leaf_index, static_cast<int64_t>(i));
    tree.AddLeafHash(merkle::LeafHash((*receipts)[i].jws));
  }
  auto head = store->IssueTreeHead();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->tree_size, 5);
  EXPECT_EQ(head->root_hash, *merkle::RootHash(tree, 5));
  for (const ReceiptRecord& r : *receipts) {
    auto proof = store->InclusionProof(r.leaf_index, 5);
    ASSERT_THAT(proof, IsOk());
    EXPECT_THAT(merkle::VerifyInclusion(merkle::LeafHash(r.jws), r.leaf_index,
                                        5, *proof, head->root_hash),
                IsOk());
  }
}

TEST_F(PostgresStoreTest, ManyProcessesOneLogOneSequencer) {
  constexpr int kProcesses = 3;
  constexpr int kLettersEach = 10;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kProcesses; ++i) {
    stores.push_back(OpenOne());
    ASSERT_NE(stores.back(), nullptr);
  }
  std::atomic<bool> done{false};
  std::atomic<int64_t> sequenced{0};
  // Every process runs the sequencer loop; only the lease holder does work.
  std::vector<std::thread> sequencers;
  for (int i = 0; i < kProcesses; ++i) {
    sequencers.emplace_back([&, i] {
      while (!done) {
        auto n = stores[i]->SequenceReceipts();
        EXPECT_THAT(n, IsOk());
        if (n.ok()) sequenced += *n;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> writers;
  for (int i = 0; i < kProcesses; ++i) {
    writers.emplace_back([&, i] {
      for (int j = 0; j < kLettersEach; ++j) {
        Deliver(*stores[i], absl::StrCat("P", i, "-", j));
      }
    });
  }
  for (std::thread& t : writers) t.join();
  const auto written = std::chrono::steady_clock::now();
  const int64_t total = kProcesses * kLettersEach * 5;
  for (int i = 0; i < 500 && sequenced.load() < total; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto logged = std::chrono::steady_clock::now();
  auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  // Figures for the record, not assertions: the machine's load decides.
  std::cout << "[ figures  ] " << total << " receipt-writing transactions from "
            << kProcesses << " stores in " << ms(written - start)
            << " ms; the log caught up " << ms(logged - written)
            << " ms after the last commit\n";
  done = true;
  for (std::thread& t : sequencers) t.join();
  EXPECT_EQ(sequenced.load(), total);

  // One log: every receipt a leaf exactly once, leaves in cursor order,
  // and each process sees the same log.
  auto all = stores[0]->ReceiptsAfter(0, "", 10000);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(static_cast<int64_t>(all->size()), total);
  std::set<int64_t> leaves;
  for (size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].cursor, static_cast<int64_t>(i + 1));
    EXPECT_EQ((*all)[i].leaf_index, static_cast<int64_t>(i));
    leaves.insert((*all)[i].leaf_index);
  }
  EXPECT_EQ(static_cast<int64_t>(leaves.size()), total);
  auto head = stores[1]->IssueTreeHead();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->tree_size, total);
  auto again = stores[2]->IssueTreeHead();
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->jws, head->jws);  // Unchanged log: the same head.
  // Per-letter hash chains held under concurrency.
  for (int i = 0; i < kProcesses; ++i) {
    auto chain = stores[2]->GetReceipts(absl::StrCat("P", i, "-0"), kTenant);
    ASSERT_THAT(chain, IsOk());
    ASSERT_THAT(*chain, SizeIs(5));
  }
}

TEST_F(PostgresStoreTest, AWatcherNeverSkipsAReceiptWhileWritersCommit) {
  constexpr int kWriters = 3;
  constexpr int kLettersEach = 8;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kWriters + 1; ++i) {
    stores.push_back(OpenOne());
    ASSERT_NE(stores.back(), nullptr);
  }
  const int64_t total = kWriters * kLettersEach * 5;
  std::atomic<bool> writing{true};
  int64_t last = 0;
  int64_t gaps = 0;
  // A reader that sees cursor N must already see every cursor below N:
  // each page continues exactly where the previous one ended.
  std::thread watcher([&] {
    while (last < total) {
      // Read before the page: an empty page after the writers finished
      // means the end, one read while they still wrote does not.
      const bool writers_done = !writing;
      auto page = stores[kWriters]->ReceiptsAfter(last, "", 50);
      EXPECT_THAT(page, IsOk());
      if (!page.ok()) return;
      for (const ReceiptRecord& r : *page) {
        if (r.cursor != last + 1) ++gaps;
        last = r.cursor;
      }
      if (page->empty() && writers_done) break;
    }
  });
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      for (int j = 0; j < kLettersEach; ++j) {
        Deliver(*stores[i], absl::StrCat("W", i, "-", j));
      }
    });
  }
  for (std::thread& t : writers) t.join();
  writing = false;
  watcher.join();
  EXPECT_EQ(gaps, 0);
  EXPECT_EQ(last, total);
}

TEST_F(PostgresStoreTest, ConcurrentTransitionsOfOneLetterChainInOrder) {
  auto a = OpenOne();
  auto b = OpenOne();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Create(*a, "L1");
  // Both try RECEIVED -> QUEUED at once: the letter's row lock lets one
  // win, the other finds the letter moved on.
  absl::Status sa, sb;
  std::thread ta([&] {
    sa = a->ApplyTransition("L1", To(Letter::QUEUED, {Letter::RECEIVED}))
             .status();
  });
  std::thread tb([&] {
    sb = b->ApplyTransition("L1", To(Letter::QUEUED, {Letter::RECEIVED}))
             .status();
  });
  ta.join();
  tb.join();
  EXPECT_NE(sa.ok(), sb.ok()) << sa << " / " << sb;
  auto receipts = a->GetReceipts("L1", kTenant);
  ASSERT_THAT(receipts, IsOk());
  EXPECT_THAT(*receipts, SizeIs(2));
}

TEST_F(PostgresStoreTest, OneEventTakenByManyWorkersAtOnceIsKeptOnce) {
  // Every worker polls the same provider feed, so they store the same
  // event at the same moment: one keeps it, the others see a duplicate
  // (not a failed insert, which would hold up the rest of their batch).
  constexpr int kWorkers = 4;
  constexpr int kEvents = 30;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kWorkers; ++i) {
    stores.push_back(OpenOne());
    ASSERT_NE(stores.back(), nullptr);
  }
  Create(*stores[0], "L1");
  std::atomic<int> ready{0};
  std::atomic<int> kept{0};
  std::atomic<int> duplicates{0};
  std::vector<absl::Status> errors(kWorkers);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      for (int e = 0; e < kEvents; ++e) {
        // All start each event together.
        ready.fetch_add(1);
        while (ready.load() < (e + 1) * kWorkers) std::this_thread::yield();
        ProviderEventRecord event;
        event.provider = "922020175";
        event.event_id = absl::StrCat("event-", e);
        event.letter_id = "L1";
        event.channel = "dpi";
        event.kind = "PRINT_RECEIVED";
        auto outcome = stores[w]->ApplyProviderEvent(event, {});
        if (!outcome.ok()) {
          errors[w] = outcome.status();
        } else if (outcome->duplicate) {
          duplicates.fetch_add(1);
        } else {
          kept.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_THAT(e, IsOk());
  EXPECT_EQ(kept.load(), kEvents);
  EXPECT_EQ(duplicates.load(), kEvents * (kWorkers - 1));
  auto events = stores[0]->GetProviderEvents("L1");
  ASSERT_THAT(events, IsOk());
  EXPECT_THAT(*events, SizeIs(kEvents));
}

TEST_F(PostgresStoreTest, MakeStoreOpensPostgresFromConfiguration) {
  ::utpost::config::v1::Store config;
  config.set_engine("postgres");
  config.mutable_postgres()->set_conninfo(ConnInfo());
  config.mutable_postgres()->set_pool_size(2);
  std::string file = ::testing::TempDir() + "/pg-password";
  {
    std::ofstream out(file);
    out << Password() << "\n";
  }
  config.mutable_postgres()->set_password_file(file);
  unsetenv("UTPOST_STORE_PASSWORD");
  auto store = MakeStore(config, signer_.get());
  ASSERT_THAT(store, IsOk());
  Create(**store, "L1");
  EXPECT_THAT((*store)->GetLetter("L1", kTenant), IsOk());

  // The environment wins over the file.
  setenv("UTPOST_STORE_PASSWORD", "wrong", 1);
  EXPECT_THAT(
      MakeStore(config, signer_.get()),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("store.postgres: ")));
  unsetenv("UTPOST_STORE_PASSWORD");
  config.mutable_postgres()->set_password_file(file + ".missing");
  EXPECT_THAT(MakeStore(config, signer_.get()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("store.postgres.password_file")));
}

}  // namespace
}  // namespace utpost::store
