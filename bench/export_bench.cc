// Size and time of a receipt log export (format /2) with and without what
// makes it prove its completeness (the signed header, one signed statement
// per letter, the signed trailer), on a real SQLite store: --letters
// letters of five receipts each (RECEIVED..DELIVERED), then one export of
// them all, timed by part.
//
//   build/bench/utpost-bench-export --letters 1000
//
// Run from the repository root (it signs with certs-dev/receipts.key).
// Prints the figures for people and one JSON line for scripts.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "gateway/api/export_stream.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/sqlite_store.h"
#include "nlohmann/json.hpp"

namespace {

using Steady = std::chrono::steady_clock;
using utpost::v1::Letter;

double Seconds(Steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

int Fail(const absl::Status& s) {
  std::cerr << "utpost-bench-export: " << s << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "receipt log export size and time, with and without the "
      "completeness statements"};
  int64_t letters = 1000;
  std::string dir = "/tmp";
  app.add_option("--letters", letters, "letters of 5 receipts each");
  std::string out_path;
  app.add_option("--dir", dir, "folder for the store");
  app.add_option("--out", out_path, "also write the export to this file");
  CLI11_PARSE(app, argc, argv);

  auto signer = utpost::receipts::NewJwsReceiptSigner(
      {"certs-dev/receipts.key", "certs-dev/receipts.pem"});
  if (!signer.ok()) return Fail(signer.status());
  const std::string path =
      absl::StrCat(dir, "/utpost-bench-export-", getpid(), ".db");
  utpost::store::SqliteStoreOptions o;
  o.path = path;
  o.signer = signer->get();
  auto store = utpost::store::OpenSqliteStore(o);
  if (!store.ok()) return Fail(store.status());

  auto t0 = Steady::now();
  constexpr int kBatch = 100;
  for (int64_t done = 0; done < letters;) {
    std::vector<utpost::store::NewLetter> batch;
    std::vector<std::string> ids;
    for (int i = 0; i < kBatch && done < letters; ++i, ++done) {
      utpost::store::NewLetter l;
      l.id = absl::StrCat("bench-", done);
      l.tenant = "964338531";
      l.client_reference = l.id;
      l.request_digest = l.id;
      l.first_work.exchange = "x";
      l.first_work.routing_key = "route";
      ids.push_back(l.id);
      batch.push_back(std::move(l));
    }
    auto r = (*store)->CreateLetters(std::move(batch));
    if (!r.ok()) return Fail(r.status());
    const Letter::State steps[] = {Letter::RECEIVED, Letter::QUEUED,
                                   Letter::ROUTED, Letter::SENT_DIGITAL,
                                   Letter::DELIVERED};
    for (const std::string& id : ids) {
      for (int s = 1; s < 5; ++s) {
        utpost::store::Transition t;
        t.from = {steps[s - 1]};
        t.to = steps[s];
        t.channel = "digital";
        auto a = (*store)->ApplyTransition(id, t);
        if (!a.ok()) return Fail(a.status());
      }
    }
    auto h = (*store)->IssueTreeHead();
    if (!h.ok()) return Fail(h.status());
  }
  const double write_s = Seconds(Steady::now() - t0);

  // One export of the tenant, timed by part and sized by line type.
  utpost::api::ExportRequest request;
  request.tenant = "964338531";
  utpost::api::ExportStream stream(store->get(), signer->get(), request);
  auto e0 = Steady::now();
  if (auto s = stream.Prepare(); !s.ok()) return Fail(s);
  const double prepare_s = Seconds(Steady::now() - e0);
  double receipts_s = 0, statements_s = 0, trailer_s = 0;
  int64_t bytes_receipts = 0, bytes_heads = 0, bytes_header = 0,
          bytes_statements = 0, bytes_trailer = 0, lines = 0;
  utpost::v1::ExportReceiptsResponse item;
  std::ofstream out;
  if (!out_path.empty()) out.open(out_path, std::ios::trunc);
  auto last = Steady::now();
  while (true) {
    auto more = stream.Next(&item);
    if (!more.ok()) return Fail(more.status());
    if (!*more) break;
    auto now = Steady::now();
    const int64_t n = static_cast<int64_t>(item.line().size()) + 1;
    if (out.is_open()) out << item.line() << "\n";
    ++lines;
    if (item.has_header()) {
      bytes_header += n;
    } else if (item.has_tree_head() || item.has_consistency()) {
      bytes_heads += n;
    } else if (item.has_receipt()) {
      bytes_receipts += n;
      receipts_s += Seconds(now - last);
    } else if (item.has_statement()) {
      bytes_statements += n;
      statements_s += Seconds(now - last);
    } else if (item.has_trailer()) {
      bytes_trailer += n;
      trailer_s += Seconds(now - last);
    }
    last = now;
  }
  // Header signing is inside Prepare; count it with the additions.
  const int64_t without = bytes_heads + bytes_receipts;
  const int64_t with =
      without + bytes_header + bytes_statements + bytes_trailer;
  const double time_without = prepare_s + receipts_s;
  const double time_with = time_without + statements_s + trailer_s;
  std::printf(
      "%lld letters, %lld receipts written in %.1f s\n"
      "export without statements: %lld bytes (%.1f KiB), %.3f s\n"
      "export with header, %lld statements and trailer: %lld bytes (%.1f "
      "KiB, +%.1f%%), %.3f s (+%.1f%%)\n"
      "  per statement %.0f bytes, %.0f us\n",
      static_cast<long long>(letters), static_cast<long long>(letters * 5),
      write_s, static_cast<long long>(without), without / 1024.0, time_without,
      static_cast<long long>(letters), static_cast<long long>(with),
      with / 1024.0, 100.0 * (with - without) / without, time_with,
      100.0 * (time_with - time_without) / time_without,
      static_cast<double>(bytes_statements) / letters,
      1e6 * statements_s / letters);
  nlohmann::json j = {{"letters", letters},
                      {"lines", lines},
                      {"bytes_without", without},
                      {"bytes_with", with},
                      {"bytes_statements", bytes_statements},
                      {"bytes_header_trailer", bytes_header + bytes_trailer},
                      {"seconds_without", time_without},
                      {"seconds_with", time_with}};
  std::cout << j.dump() << "\n";
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::remove((path + suffix).c_str());
  }
  return 0;
}
