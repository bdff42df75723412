// Receipt log proof sizes and costs at several log sizes, on a real SQLite
// store: receipts are written as utpostd writes them (signed, one leaf
// each, group commits of --batch letters), then inclusion and consistency
// proofs are read from the store and verified.
//
//   build-dev/bench/utpost-bench-receipt-log --leaves 1000,100000
//
// Run from the repository root (it signs with certs-dev/receipts.key).
// Prints a line per size for people and one JSON line for scripts.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/receipts/merkle.h"
#include "gateway/store/sqlite_store.h"
#include "nlohmann/json.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace merkle = utpost::receipts::merkle;

double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

struct Figures {
  int64_t leaves = 0;
  double write_seconds = 0;
  double max_inclusion_hashes = 0, mean_inclusion_hashes = 0;
  double max_consistency_hashes = 0, mean_consistency_hashes = 0;
  double inclusion_read_us = 0, inclusion_verify_us = 0;
  double consistency_read_us = 0, consistency_verify_us = 0;
};

int Fail(const absl::Status& s) {
  std::cerr << "utpost-bench-receipt-log: " << s << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Receipt log proof sizes and costs at several log sizes"};
  std::string sizes_text = "1000,100000";
  int batch = 1000;
  int samples = 500;
  std::string dir = "/tmp";
  app.add_option("--leaves", sizes_text, "log sizes, comma separated")
      ->capture_default_str();
  app.add_option("--batch", batch, "letters per group commit")
      ->capture_default_str();
  app.add_option("--samples", samples, "proofs read and verified per size")
      ->capture_default_str();
  app.add_option("--dir", dir, "where the throwaway database goes")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::vector<int64_t> sizes;
  for (absl::string_view s : absl::StrSplit(sizes_text, ',')) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 2) {
      std::cerr << "--leaves: sizes of at least 2\n";
      return 2;
    }
    sizes.push_back(n);
  }

  auto signer = utpost::receipts::NewJwsReceiptSigner(
      {"certs-dev/receipts.key", "certs-dev/receipts.pem"});
  if (!signer.ok()) return Fail(signer.status());
  nlohmann::json all = nlohmann::json::array();
  std::mt19937_64 rng(42);
  for (int64_t n : sizes) {
    const std::string path =
        absl::StrCat(dir, "/utpost-bench-log-", getpid(), "-", n, ".db");
    utpost::store::SqliteStoreOptions o;
    o.path = path;
    o.signer = signer->get();
    auto store = utpost::store::OpenSqliteStore(o);
    if (!store.ok()) return Fail(store.status());

    Figures f;
    f.leaves = n;
    // One receipt (RECEIVED) per letter; letters in group commits.
    auto t0 = Clock::now();
    // At least 20 heads along the way.
    const int64_t per_commit =
        std::max<int64_t>(1, std::min<int64_t>(batch, n / 20));
    for (int64_t done = 0; done < n;) {
      std::vector<utpost::store::NewLetter> letters;
      for (int64_t i = 0; i < per_commit && done < n; ++i, ++done) {
        utpost::store::NewLetter l;
        l.id = absl::StrCat("bench-", done);
        l.tenant = "964338531";
        l.client_reference = l.id;
        l.request_digest = l.id;
        l.first_work.exchange = "x";
        l.first_work.routing_key = "route";
        letters.push_back(std::move(l));
      }
      auto r = (*store)->CreateLetters(std::move(letters));
      if (!r.ok()) return Fail(r.status());
      // A head per batch, as the periodic heads would be.
      auto h = (*store)->IssueTreeHead();
      if (!h.ok()) return Fail(h.status());
    }
    f.write_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    auto head = (*store)->IssueTreeHead();
    if (!head.ok()) return Fail(head.status());

    auto heads = (*store)->ListTreeHeads(1, n - 1);
    if (!heads.ok()) return Fail(heads.status());
    if (heads->empty()) return Fail(absl::InternalError("no earlier head"));
    std::uniform_int_distribution<int64_t> pick(0, n - 1);
    Clock::duration read{}, verify{}, cread{}, cverify{};
    double sum_inc = 0, sum_cons = 0;
    for (int s = 0; s < samples; ++s) {
      const int64_t leaf = pick(rng);
      auto receipt = (*store)->ReceiptAtLeaf(leaf);
      if (!receipt.ok()) return Fail(receipt.status());
      auto a = Clock::now();
      auto proof = (*store)->InclusionProof(leaf, n);
      auto b = Clock::now();
      if (!proof.ok()) return Fail(proof.status());
      absl::Status ok = merkle::VerifyInclusion(
          merkle::LeafHash(receipt->jws), leaf, n, *proof, head->root_hash);
      auto c = Clock::now();
      if (!ok.ok()) return Fail(ok);
      read += b - a;
      verify += c - b;
      sum_inc += proof->size();
      f.max_inclusion_hashes =
          std::max<double>(f.max_inclusion_hashes, proof->size());

      // Consistency from a random earlier published head.
      const auto& old = (*heads)[pick(rng) % heads->size()];
      a = Clock::now();
      auto cproof = (*store)->ConsistencyProof(old.tree_size, n);
      b = Clock::now();
      if (!cproof.ok()) return Fail(cproof.status());
      ok = merkle::VerifyConsistency(old.tree_size, n, old.root_hash,
                                     head->root_hash, *cproof);
      c = Clock::now();
      if (!ok.ok()) return Fail(ok);
      sum_cons += cproof->size();
      f.max_consistency_hashes =
          std::max<double>(f.max_consistency_hashes, cproof->size());
      cread += b - a;
      cverify += c - b;
    }
    f.mean_inclusion_hashes = sum_inc / samples;
    f.mean_consistency_hashes = sum_cons / samples;
    f.inclusion_read_us = Micros(read) / samples;
    f.inclusion_verify_us = Micros(verify) / samples;
    f.consistency_read_us = Micros(cread) / samples;
    f.consistency_verify_us = Micros(cverify) / samples;
    store->reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove((path + suffix).c_str());
    }
    std::printf(
        "%8lld leaves: written in %.1f s; inclusion proof %.1f hashes "
        "(max %.0f, %.0f bytes), read %.0f us, verify %.1f us; consistency "
        "proof %.1f hashes (max %.0f), read %.0f us, verify %.1f us\n",
        static_cast<long long>(n), f.write_seconds, f.mean_inclusion_hashes,
        f.max_inclusion_hashes, f.max_inclusion_hashes * 32,
        f.inclusion_read_us, f.inclusion_verify_us, f.mean_consistency_hashes,
        f.max_consistency_hashes, f.consistency_read_us,
        f.consistency_verify_us);
    all.push_back({{"leaves", n},
                   {"write_seconds", f.write_seconds},
                   {"inclusion_hashes_mean", f.mean_inclusion_hashes},
                   {"inclusion_hashes_max", f.max_inclusion_hashes},
                   {"inclusion_read_us", f.inclusion_read_us},
                   {"inclusion_verify_us", f.inclusion_verify_us},
                   {"consistency_hashes_mean", f.mean_consistency_hashes},
                   {"consistency_hashes_max", f.max_consistency_hashes},
                   {"consistency_read_us", f.consistency_read_us},
                   {"consistency_verify_us", f.consistency_verify_us}});
  }
  std::cout << all.dump() << "\n";
  return 0;
}
