// The receipt log on every engine: leaves, tree heads, proofs, retention,
// key rotation. Several processes on one SQLite file, and receipts left
// outside the log by an older build, are in sqlite_engine_test.cc.
#include <stdlib.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cli/audit_log.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/receipts/jws_verify.h"
#include "gateway/receipts/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/audit_export.h"
#include "tests/testing/store_engines.h"

namespace utpost::store {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Letter;
namespace merkle = receipts::merkle;

constexpr char kTenantA[] = "964338531";
constexpr char kTenantB[] = "958935420";
constexpr char kCa[] = "certs-dev/ca.pem";

NewLetter MakeLetter(const std::string& id, const std::string& tenant) {
  NewLetter l;
  l.id = id;
  l.tenant = tenant;
  l.client_reference = "ref-" + id;
  l.request_digest = Sha256Hex(id);
  l.spec.set_title("Vedtak");
  l.spec.mutable_recipient()->set_person("01017012345");
  Document doc;
  doc.file_name = "vedtak.pdf";
  doc.media_type = "application/pdf";
  doc.content = "%PDF-1.7 " + id;
  l.documents.push_back(doc);
  l.first_work.exchange = "utpost.work";
  l.first_work.routing_key = "route";
  l.first_work.body = id;
  return l;
}

Transition To(State to, std::vector<State> from) {
  Transition t;
  t.from = std::move(from);
  t.to = to;
  t.channel = "digital";
  return t;
}

class ReceiptLogTest : public ::utpost::testing::StoreEngineTest {
 protected:
  void SetUp() override {
    // For the exports the tests write.
    std::string templ = absl::StrCat(::testing::TempDir(), "/logXXXXXX");
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    ASSERT_NE(mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
    StoreEngineTest::SetUp();
  }

  void TearDown() override {
    StoreEngineTest::TearDown();
    std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }

  // A letter through RECEIVED, QUEUED, ROUTED, SENT_DIGITAL, DELIVERED.
  static void Deliver(Store* s, const std::string& id,
                      const std::string& tenant) {
    std::vector<NewLetter> v;
    v.push_back(MakeLetter(id, tenant));
    auto created = s->CreateLetters(std::move(v));
    ASSERT_THAT(created, IsOk());
    ASSERT_THAT((*created)[0], IsOk());
    ASSERT_THAT(s->ApplyTransition(id, To(Letter::QUEUED, {Letter::RECEIVED})),
                IsOk());
    ASSERT_THAT(s->ApplyTransition(id, To(Letter::ROUTED, {Letter::QUEUED})),
                IsOk());
    Transition t = To(Letter::SENT_DIGITAL, {Letter::ROUTED});
    t.then.push_back({Letter::DELIVERED, ""});
    t.provider = "984661185";
    t.provider_receipt = "<receipt from=\"digipost\">delivered</receipt>";
    ASSERT_THAT(s->ApplyTransition(id, t), IsOk());
    // An engine that sequences after commit makes them leaves now; the
    // others have nothing left to add.
    ASSERT_THAT(s->SequenceReceipts(), IsOk());
  }

  // Every logged receipt, by leaf index, read through the public interface.
  std::vector<ReceiptRecord> AllLogged() {
    std::vector<ReceiptRecord> out;
    ReceiptLogQuery q;
    while (true) {
      auto page = store_->LoggedReceipts(q);
      EXPECT_THAT(page, IsOk());
      if (!page.ok() || page->empty()) break;
      for (auto& r : *page) {
        q.after_leaf = r.leaf_index;
        out.push_back(std::move(r));
      }
    }
    return out;
  }

  std::string dir_;
};

TEST_P(ReceiptLogTest,
       EveryReceiptIsTheNextLeafAndTheRootMatchesTheDefinition) {
  Deliver(store_.get(), "L1", kTenantA);
  Deliver(store_.get(), "L2", kTenantB);
  auto all = AllLogged();
  ASSERT_EQ(all.size(), 10u);
  merkle::InMemoryTree tree;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].leaf_index, static_cast<int64_t>(i));
    tree.AddLeafHash(merkle::LeafHash(all[i].jws));
  }
  EXPECT_THAT(store_->ReceiptLogSize(), IsOk());
  EXPECT_EQ(*store_->ReceiptLogSize(), 10);
  auto head = store_->IssueTreeHead();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->tree_size, 10);
  EXPECT_EQ(head->root_hash, *merkle::RootHash(tree, 10));
  // The head is signed and says what the store says.
  auto payload = receipts::VerifyReceiptJws(head->jws, kCa);
  ASSERT_THAT(payload, IsOk());
  EXPECT_EQ((*payload)["tree_size"], 10);
  EXPECT_EQ((*payload)["root_hash"], absl::BytesToHexString(head->root_hash));
  // Unchanged log: the same head again.
  auto again = store_->IssueTreeHead();
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->jws, head->jws);
  // Receipts read per letter carry their leaf too.
  auto l2 = store_->GetReceipts("L2", "");
  ASSERT_THAT(l2, IsOk());
  EXPECT_EQ((*l2)[0].leaf_index, 5);
}

TEST_P(ReceiptLogTest, CountsLoggedReceiptsByTenantTimeAndTreeSize) {
  Deliver(store_.get(), "L1", kTenantA);
  Deliver(store_.get(), "L2", kTenantB);
  Deliver(store_.get(), "L3", kTenantA);
  ReceiptLogQuery q;
  auto all = store_->CountLoggedReceipts(q, 15);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->receipts, 15);
  EXPECT_EQ(all->letters, 3);
  q.tenant = kTenantA;
  auto a = store_->CountLoggedReceipts(q, 15);
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->receipts, 10);
  EXPECT_EQ(a->letters, 2);
  // Only the leaves below the tree size: of the first 12, tenant A has
  // L1's five (leaves 0..4) and L3's first two (leaves 10, 11).
  auto below = store_->CountLoggedReceipts(q, 12);
  ASSERT_THAT(below, IsOk());
  EXPECT_EQ(below->receipts, 7);
  EXPECT_EQ(below->letters, 2);
  below = store_->CountLoggedReceipts(q, 10);
  ASSERT_THAT(below, IsOk());
  EXPECT_EQ(below->receipts, 5);
  EXPECT_EQ(below->letters, 1);
  // A time range after every receipt holds none.
  q.from_ms = RealClock()->NowMillis() + 60000;
  auto later = store_->CountLoggedReceipts(q, 15);
  ASSERT_THAT(later, IsOk());
  EXPECT_EQ(later->receipts, 0);
  EXPECT_EQ(later->letters, 0);
}

TEST_P(ReceiptLogTest, ReceiptsNameEvidenceDocumentsAndTheProvidersReceipt) {
  Deliver(store_.get(), "L1", kTenantA);
  auto receipts = store_->GetReceipts("L1", "");
  ASSERT_THAT(receipts, IsOk());
  ASSERT_EQ(receipts->size(), 5u);
  std::vector<std::string> evidence;
  for (const auto& r : *receipts) {
    auto p = receipts::VerifyReceiptJws(r.jws, kCa);
    ASSERT_THAT(p, IsOk());
    evidence.push_back((*p)["evidence"]);
    ASSERT_EQ((*p)["documents"].size(), 1u);
    EXPECT_EQ((*p)["documents"][0]["file_name"], "vedtak.pdf");
    EXPECT_EQ((*p)["documents"][0]["sha256"], Sha256Hex("%PDF-1.7 L1"));
    if (r.state == Letter::DELIVERED) {
      EXPECT_EQ((*p)["provider"], "984661185");
      EXPECT_EQ((*p)["provider_receipt"],
                "<receipt from=\"digipost\">delivered</receipt>");
    }
    if (r.state == Letter::SENT_DIGITAL) {
      EXPECT_EQ((*p)["provider"], "984661185");
      EXPECT_EQ((*p)["provider_receipt"], "");
    }
  }
  EXPECT_THAT(evidence,
              ::testing::ElementsAre("SubmissionAcceptance", "RelayAcceptance",
                                     "RelayAcceptance", "RelayToREMS",
                                     "ContentConsignment"));
}

TEST_P(ReceiptLogTest, StoredProofsVerifyForEveryLeafAndHead) {
  for (int i = 0; i < 7; ++i) {
    Deliver(store_.get(), absl::StrCat("L", i), kTenantA);
    ASSERT_THAT(store_->IssueTreeHead(), IsOk());
  }
  auto all = AllLogged();
  auto heads = store_->ListTreeHeads(1, 1000);
  ASSERT_THAT(heads, IsOk());
  ASSERT_EQ(heads->size(), 7u);
  for (const TreeHead& h : *heads) {
    for (const auto& r : all) {
      if (r.leaf_index >= h.tree_size) break;
      auto proof = store_->InclusionProof(r.leaf_index, h.tree_size);
      ASSERT_THAT(proof, IsOk());
      EXPECT_THAT(merkle::VerifyInclusion(merkle::LeafHash(r.jws), r.leaf_index,
                                          h.tree_size, *proof, h.root_hash),
                  IsOk());
    }
    for (const TreeHead& later : *heads) {
      if (later.tree_size < h.tree_size) continue;
      auto proof = store_->ConsistencyProof(h.tree_size, later.tree_size);
      ASSERT_THAT(proof, IsOk());
      EXPECT_THAT(
          merkle::VerifyConsistency(h.tree_size, later.tree_size, h.root_hash,
                                    later.root_hash, *proof),
          IsOk());
    }
  }
  EXPECT_THAT(
      store_->InclusionProof(0, 10000),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exceeds")));
  auto at = store_->ReceiptAtLeaf(7);
  ASSERT_THAT(at, IsOk());
  EXPECT_EQ(at->leaf_index, 7);
  EXPECT_THAT(store_->ReceiptAtLeaf(10000),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST_P(ReceiptLogTest, RetentionPurgesContentOfFinishedLettersOnly) {
  FakeClock clock(RealClock()->NowMillis());
  Reopen(signer_.get(), &clock);
  Deliver(store_.get(), "DONE", kTenantA);
  std::vector<NewLetter> v;
  v.push_back(MakeLetter("WAITING", kTenantA));
  ASSERT_THAT(store_->CreateLetters(std::move(v)), IsOk());
  clock.Advance(10 * 86400 * 1000LL);
  auto purged = store_->PurgeDocuments(clock.NowMillis() - 86400 * 1000LL, 100);
  ASSERT_THAT(purged, IsOk());
  EXPECT_EQ(*purged, 1);
  EXPECT_THAT(
      store_->GetDocuments("DONE"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("purged on")));
  EXPECT_THAT(store_->GetDocuments("WAITING"), IsOk());
  // Digests and sizes stay; receipts still verify.
  auto letter = store_->GetLetter("DONE", "");
  ASSERT_THAT(letter, IsOk());
  EXPECT_EQ(letter->documents[0].sha256(), Sha256Hex("%PDF-1.7 DONE"));
  EXPECT_GT(letter->documents[0].size_bytes(), 0);
  EXPECT_GT(*store_->DocumentsPurgedAt("DONE"), 0);
  EXPECT_EQ(*store_->DocumentsPurgedAt("WAITING"), 0);
  const std::string file = dir_ + "/after-purge.jsonl";
  ASSERT_THAT(utpost::testing::WriteStoreExport(store_.get(), signer_.get(),
                                                file, "", 0),
              IsOk());
  auto report = cli::VerifyExport(file, kCa, "");
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->faults.empty());
  // A second sweep finds nothing new.
  EXPECT_EQ(*store_->PurgeDocuments(clock.NowMillis(), 100), 0);
}

TEST_P(ReceiptLogTest, AfterAKeyRotationOldAndNewReceiptsVerify) {
  const int64_t now = RealClock()->NowMillis() / 1000 * 1000;
  FakeClock clock(now);
  auto rotating = receipts::NewRotatingReceiptSigner(
      {{"certs-dev/receipts.key", "certs-dev/receipts.pem", 0},
       {"certs-dev/receipts-2.key", "certs-dev/receipts-2.pem", now + 60000}},
      &clock);
  ASSERT_THAT(rotating, IsOk());
  Reopen(rotating->get(), &clock);
  Deliver(store_.get(), "BEFORE", kTenantA);
  ASSERT_THAT(store_->IssueTreeHead(), IsOk());
  clock.Advance(120000);  // The second key's time has come.
  Deliver(store_.get(), "AFTER", kTenantA);
  auto x5c_of = [](const std::string& jws) {
    std::string header;
    absl::WebSafeBase64Unescape(jws.substr(0, jws.find('.')), &header);
    return nlohmann::json::parse(header)["x5c"][0].get<std::string>();
  };
  auto before = store_->GetReceipts("BEFORE", "");
  auto after = store_->GetReceipts("AFTER", "");
  ASSERT_THAT(before, IsOk());
  ASSERT_THAT(after, IsOk());
  EXPECT_NE(x5c_of(before->front().jws), x5c_of(after->front().jws));
  const std::string file = dir_ + "/rotated.jsonl";
  api::ExportRequest request;
  request.heads_since_size = 1;
  ASSERT_THAT(utpost::testing::WriteStoreExport(store_.get(), rotating->get(),
                                                file, request, &clock),
              IsOk());
  auto report = cli::VerifyExport(file, kCa, "");
  ASSERT_THAT(report, IsOk());
  for (const auto& f : report->faults)
    ADD_FAILURE() << f.where << ": " << f.what;
  EXPECT_EQ(report->receipts, 10);
  EXPECT_EQ(report->tree_heads, 2);
}

INSTANTIATE_TEST_SUITE_P(
    Engines, ReceiptLogTest,
    ::testing::ValuesIn(::utpost::testing::AllStoreEngines()),
    ::utpost::testing::StoreEngineName);

}  // namespace
}  // namespace utpost::store
