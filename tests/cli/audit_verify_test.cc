// `utpostctl audit verify` against exports that were tampered with: each
// fault is found and named by its receipt or tree head. Runs the real
// binary on files written from a real store.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/audit_log.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gateway/api/export_stream.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/audit_export.h"

namespace utpost::cli {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::v1::Letter;

constexpr char kTenant[] = "964338531";

struct CliRun {
  int exit_code = -1;
  std::string output;
};

CliRun Run(const std::string& command);

CliRun Verify(const std::string& file, const std::string& previous = "") {
  std::string cmd = absl::StrCat(UTPOSTCTL, " audit verify '", file,
                                 "' --ca certs-dev/ca.pem");
  if (!previous.empty()) absl::StrAppend(&cmd, " --previous '", previous, "'");
  return Run(cmd);
}

// The independent verifier (Python standard library and openssl only) ends
// with `exit_code` and prints `want`.
void ExpectPy(const std::string& file, int exit_code, const std::string& want) {
  CliRun r = Run(absl::StrCat("/usr/bin/python3 tests/audit/verify_export.py '",
                              file, "' --ca certs-dev/ca.pem"));
  EXPECT_EQ(r.exit_code, exit_code) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr(want));
}

CliRun Run(const std::string& command) {
  const std::string cmd = absl::StrCat(command, " 2>&1");
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

void WriteLines(const std::string& path,
                const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

// Index of the receipt line of leaf `leaf`.
size_t LineOfLeaf(const std::vector<std::string>& lines, int64_t leaf) {
  for (size_t i = 0; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    if (j["type"] == "receipt" && j["leaf_index"] == leaf) return i;
  }
  ADD_FAILURE() << "no line for leaf " << leaf;
  return 0;
}

// Index of the statement line of `letter`.
size_t LineOfStatement(const std::vector<std::string>& lines,
                       const std::string& letter) {
  for (size_t i = 0; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    if (j["type"] == "letter" && j["letter_id"] == letter) return i;
  }
  ADD_FAILURE() << "no statement of " << letter;
  return 0;
}

nlohmann::json PayloadOf(const std::string& jws) {
  const size_t a = jws.find('.'), b = jws.rfind('.');
  std::string payload;
  absl::WebSafeBase64Unescape(jws.substr(a + 1, b - a - 1), &payload);
  return nlohmann::json::parse(payload);
}

class AuditVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = absl::StrCat(::testing::TempDir(), "/auditXXXXXX");
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    ASSERT_NE(mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
    auto signer = receipts::NewJwsReceiptSigner(
        {"certs-dev/receipts.key", "certs-dev/receipts.pem"});
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
  }
  void TearDown() override {
    std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }

  std::unique_ptr<store::Store> Open(const std::string& name) {
    store::SqliteStoreOptions o;
    o.path = dir_ + "/" + name;
    o.signer = signer_.get();
    auto s = store::OpenSqliteStore(o);
    EXPECT_THAT(s, IsOk());
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Five receipts: RECEIVED, QUEUED, ROUTED, SENT_DIGITAL, DELIVERED.
  // With `clock`, a minute passes after each receipt.
  static void Deliver(store::Store* s, const std::string& id,
                      const std::string& content, FakeClock* clock = nullptr) {
    store::NewLetter l;
    l.id = id;
    l.tenant = kTenant;
    l.client_reference = "ref-" + id;
    l.request_digest = Sha256Hex(id + content);
    l.spec.set_title("Vedtak");
    store::Document d;
    d.file_name = "vedtak.pdf";
    d.media_type = "application/pdf";
    d.content = content;
    l.documents.push_back(d);
    l.first_work.exchange = "x";
    l.first_work.routing_key = "route";
    std::vector<store::NewLetter> v;
    v.push_back(std::move(l));
    ASSERT_THAT(s->CreateLetters(std::move(v)), IsOk());
    if (clock != nullptr) clock->Advance(60'000);
    const State steps[] = {Letter::RECEIVED, Letter::QUEUED, Letter::ROUTED,
                           Letter::SENT_DIGITAL, Letter::DELIVERED};
    for (int i = 1; i < 5; ++i) {
      store::Transition t;
      t.from = {steps[i - 1]};
      t.to = steps[i];
      t.channel = "digital";
      ASSERT_THAT(s->ApplyTransition(id, t), IsOk());
      if (clock != nullptr) clock->Advance(60'000);
    }
  }
  using State = store::State;

  // Letters L0..L3 (20 receipts); a head published after L0 and L1; the
  // export holds both heads. Returns the export's path.
  std::string HonestExport() {
    auto s = Open("honest.db");
    Deliver(s.get(), "L0", "%PDF L0");
    Deliver(s.get(), "L1", "%PDF L1");
    EXPECT_THAT(s->IssueTreeHead(), IsOk());
    first_ = dir_ + "/first.jsonl";  // What an auditor kept then.
    EXPECT_THAT(utpost::testing::WriteStoreExport(s.get(), signer_.get(),
                                                  first_, "", 0),
                IsOk());
    Deliver(s.get(), "L2", "%PDF L2");
    Deliver(s.get(), "L3", "%PDF L3");
    const std::string path = dir_ + "/honest.jsonl";
    EXPECT_THAT(
        utpost::testing::WriteStoreExport(s.get(), signer_.get(), path, "", 1),
        IsOk());
    return path;
  }

  std::string dir_;
  std::string first_;
  std::unique_ptr<receipts::ReceiptSigner> signer_;
};

TEST_F(AuditVerifyTest, HonestExportVerifies) {
  const std::string path = HonestExport();
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(
      r.output,
      HasSubstr("OK: 20 receipts of 4 letters, 2 tree heads, 0 faults"));
  EXPECT_THAT(r.output, HasSubstr("NOTE complete: the signed trailer commits "
                                  "to all 28 lines before it"));
  CliRun with_previous = Verify(path, first_);
  EXPECT_EQ(with_previous.exit_code, 0) << with_previous.output;
  ExpectPy(path, 0, "NOTE complete");
  // Header, 2 heads and their consistency proof, 20 receipts, 4 statements,
  // trailer.
  auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 29u);
  auto header = nlohmann::json::parse(lines.front());
  EXPECT_EQ(header["format"], "utpost-receipt-log-export/2");
  EXPECT_EQ(header["tenant"], "");  // All tenants.
  EXPECT_EQ(header["lines"], 29);
  EXPECT_EQ(nlohmann::json::parse(lines.back())["type"], "trailer");
}

TEST_F(AuditVerifyTest, TenantExportNamesTheTenantInItsSignedHeader) {
  auto s = Open("tenant.db");
  Deliver(s.get(), "L0", "%PDF L0");
  const std::string path = dir_ + "/tenant.jsonl";
  ASSERT_THAT(utpost::testing::WriteStoreExport(s.get(), signer_.get(), path,
                                                kTenant, 0),
              IsOk());
  auto lines = ReadLines(path);
  ASSERT_FALSE(lines.empty());
  auto header = nlohmann::json::parse(lines.front());
  EXPECT_EQ(header["tenant"], kTenant);
  EXPECT_EQ(PayloadOf(header["jws"])["tenant"], kTenant);
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(AuditVerifyTest, RemovedLastReceiptOfALetterIsNamed) {
  auto lines = ReadLines(HonestExport());
  lines.erase(lines.begin() + LineOfLeaf(lines, 19));  // L3 seq 5, its last.
  const std::string path = dir_ + "/no-last-receipt.jsonl";
  WriteLines(path, lines);
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr(absl::StrCat(
                  "FAULT letter L3: 1 receipt (seq 5) missing: the statement "
                  "at line ",
                  LineOfStatement(lines, "L3") + 1,
                  " says 5 receipts (seq "
                  "1..5)")));
  EXPECT_THAT(r.output, HasSubstr("1 line before it is missing: it commits "
                                  "to 28 lines, the file has 27"));
  ExpectPy(path, 1,
           absl::StrCat("FAULT letter L3: 1 receipt (seq 5) missing: the "
                        "statement at line ",
                        LineOfStatement(lines, "L3") + 1,
                        " says 5 receipts (seq 1..5)"));
  // The same with the statement and the receipt gone: no statement.
  lines.erase(lines.begin() + LineOfStatement(lines, "L3"));
  WriteLines(path, lines);
  r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("FAULT letter L3: no statement of its receipts"));
}

TEST_F(AuditVerifyTest, RemovedLastLinesAreNamed) {
  auto lines = ReadLines(HonestExport());
  lines.pop_back();  // The trailer.
  const std::string path = dir_ + "/short.jsonl";
  WriteLines(path, lines);
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("FAULT line 29: the export ends early: its last 1 "
                        "line is missing (the signed header at line 1 "
                        "announces 29 lines, the file has 28"));
  ExpectPy(path, 1,
           "FAULT line 29: the export ends early: its last 1 line is missing");
  lines.pop_back();  // And L3's statement.
  WriteLines(path, lines);
  r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("FAULT line 28: the export ends early: its last 2 "
                        "lines are missing"));
  EXPECT_THAT(r.output,
              HasSubstr("FAULT letter L3: no statement of its receipts"));
  ExpectPy(path, 1,
           "FAULT line 28: the export ends early: its last 2 lines are "
           "missing");
}

TEST_F(AuditVerifyTest, RemovedFirstLineIsNamed) {
  auto lines = ReadLines(HonestExport());
  lines.erase(lines.begin());
  const std::string path = dir_ + "/headless.jsonl";
  WriteLines(path, lines);
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("FAULT line 1: the export header is missing (line 1 "
                        "is a tree_head line)"));
  EXPECT_THAT(r.output, HasSubstr("1 line before it is missing"));
  ExpectPy(path, 1,
           "FAULT line 1: the export header is missing (line 1 is a "
           "tree_head line)");
}

TEST_F(AuditVerifyTest, RemovedTreeHeadOrConsistencyLineIsNamed) {
  const std::string honest = HonestExport();
  for (const char* type : {"tree_head", "consistency"}) {
    auto lines = ReadLines(honest);
    size_t i = 0;
    while (nlohmann::json::parse(lines[i])["type"] != type) ++i;
    lines.erase(lines.begin() + i);
    const std::string path = dir_ + "/no-" + type + ".jsonl";
    WriteLines(path, lines);
    CliRun r = Verify(path);
    EXPECT_EQ(r.exit_code, 1) << type << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("FAULT trailer (line 28): 1 line before "
                                    "it is missing: it commits to 28 lines, "
                                    "the file has 27"))
        << type;
    EXPECT_THAT(r.output, HasSubstr("the SHA-256 of the lines before it is "
                                    "not the one it signed"))
        << type;
    ExpectPy(path, 1,
             "the SHA-256 of the lines before the trailer is not "
             "the one it signed");
  }
}

TEST_F(AuditVerifyTest, RemovedOrChangedStatementIsNamed) {
  const std::string honest = HonestExport();
  auto lines = ReadLines(honest);
  lines.erase(lines.begin() + LineOfStatement(lines, "L1"));
  const std::string path = dir_ + "/statement.jsonl";
  WriteLines(path, lines);
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("FAULT letter L1: no statement of its receipts (its "
                        "statement line was removed; 5 receipts in the file "
                        "cannot be shown complete)"));
  EXPECT_THAT(r.output, HasSubstr("announces 4 letters, the file holds "
                                  "statements of 3"));
  ExpectPy(path, 1, "FAULT letter L1: no statement of its receipts");

  // A smaller count on the line: the signed statement says otherwise.
  lines = ReadLines(honest);
  const size_t i = LineOfStatement(lines, "L1");
  auto j = nlohmann::json::parse(lines[i]);
  j["in_range"] = 4;
  j["last_seq"] = 4;
  lines[i] = j.dump();
  WriteLines(path, lines);
  r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr(absl::StrCat("FAULT letter L1 (statement, line ", i + 1,
                                     "): the signed statement does not say "
                                     "what its line says (in_range, "
                                     "last_seq)")));
  ExpectPy(path, 1,
           "letter L1: the signed statement does not say what its line says");

  // The count changed inside the JWS as well: its signature fails.
  std::string jws = j["jws"];
  auto payload = PayloadOf(jws);
  payload["in_range"] = 4;
  payload["last_seq"] = 4;
  const size_t dot1 = jws.find('.'), dot2 = jws.rfind('.');
  j["jws"] =
      absl::StrCat(jws.substr(0, dot1), ".",
                   absl::WebSafeBase64Escape(payload.dump()), jws.substr(dot2));
  lines[i] = j.dump();
  WriteLines(path, lines);
  r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr(absl::StrCat("FAULT letter L1 (statement, line ", i + 1,
                                     "): statement JWS:")));
  EXPECT_THAT(r.output, HasSubstr("signature does not verify"));
  ExpectPy(path, 1, "letter L1: statement: signature does not verify");
}

TEST_F(AuditVerifyTest, ReorderedTrailerIsNamed) {
  auto lines = ReadLines(HonestExport());
  std::swap(lines[lines.size() - 1], lines[lines.size() - 2]);
  const std::string path = dir_ + "/trailer-moved.jsonl";
  WriteLines(path, lines);
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FAULT trailer (line 28): is not the last "
                                  "line: 1 line follows it (moved or "
                                  "appended)"));
  EXPECT_THAT(r.output, HasSubstr("1 line before it is missing"));
  ExpectPy(path, 1, "the trailer is not the last line: 1 line follows it");
}

TEST_F(AuditVerifyTest, TimeRangeStatementsSayWhatTheRangeHolds) {
  FakeClock clock(1'800'000'000'000);
  store::SqliteStoreOptions o;
  o.path = dir_ + "/range.db";
  o.signer = signer_.get();
  o.clock = &clock;
  auto opened = store::OpenSqliteStore(o);
  ASSERT_THAT(opened, IsOk());
  auto s = std::move(*opened);
  // One receipt a minute: seq 1 at +0, ..., seq 5 at +4 min.
  Deliver(s.get(), "L0", "%PDF L0", &clock);
  api::ExportRequest request;
  request.has_start = true;
  request.start_ms = 1'800'000'090'000;  // Seq 3 (at +2 min) on...
  request.has_end = true;
  request.end_ms = 1'800'000'210'000;  // ...to seq 4 (at +3 min).
  const std::string path = dir_ + "/range.jsonl";
  ASSERT_THAT(utpost::testing::WriteStoreExport(s.get(), signer_.get(), path,
                                                request, &clock),
              IsOk());
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ExpectPy(path, 0, "NOTE complete");
  auto lines = ReadLines(path);
  auto st = nlohmann::json::parse(lines[LineOfStatement(lines, "L0")]);
  EXPECT_EQ(st["receipts"], 5);
  EXPECT_EQ(st["in_range"], 2);
  EXPECT_EQ(st["first_seq"], 3);
  EXPECT_EQ(st["last_seq"], 4);
  auto header = PayloadOf(nlohmann::json::parse(lines[0])["jws"]);
  EXPECT_EQ(header["start_time"], "2027-01-15T08:01:30.000Z");
  EXPECT_EQ(header["end_time"], "2027-01-15T08:03:30.000Z");
  // The range's last receipt removed: named, though the letter has more.
  lines.erase(lines.begin() + LineOfLeaf(lines, 3));  // Seq 4.
  WriteLines(path, lines);
  r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("FAULT letter L0: 1 receipt (seq 4) missing: the "
                        "statement at line"));
  EXPECT_THAT(r.output, HasSubstr("says 2 receipts (seq 3..4) of its 5 in "
                                  "the tree"));
  ExpectPy(path, 1,
           "FAULT letter L0: 1 receipt (seq 4) missing: the statement at line "
           "4 says 2 receipts (seq 3..4) of its 5 in the tree");
}

TEST_F(AuditVerifyTest, FormatOneVerifiesButCannotProveCompleteness) {
  auto lines = ReadLines(HonestExport());
  std::vector<std::string> old;
  old.push_back(ExportHeaderLine({"", "", ""}));
  for (const auto& l : lines) {
    auto type = nlohmann::json::parse(l)["type"];
    if (type == "tree_head" || type == "consistency" || type == "receipt") {
      old.push_back(l);
    }
  }
  old.pop_back();  // The last receipt: format /1 cannot tell.
  const std::string path = dir_ + "/v1.jsonl";
  WriteLines(path, old);
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("NOTE format utpost-receipt-log-export/1: this export "
                        "cannot prove it is complete"));
  ExpectPy(path, 0,
           "NOTE format utpost-receipt-log-export/1: this export cannot prove "
           "it is complete");
}

TEST_F(AuditVerifyTest, ChangedByteInAReceiptIsNamed) {
  auto lines = ReadLines(HonestExport());
  size_t i = LineOfLeaf(lines, 7);  // L1, seq 3.
  auto j = nlohmann::json::parse(lines[i]);
  std::string jws = j["jws"];
  size_t dot = jws.find('.');
  jws[dot + 10] = jws[dot + 10] == 'A' ? 'B' : 'A';  // In the payload.
  j["jws"] = jws;
  lines[i] = j.dump();
  const std::string path = dir_ + "/changed.jsonl";
  WriteLines(path, lines);
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FAULT leaf 7 (letter L1 seq 3"));
  EXPECT_THAT(r.output, HasSubstr("FAILED"));
}

TEST_F(AuditVerifyTest, RemovedReceiptIsNamed) {
  auto lines = ReadLines(HonestExport());
  lines.erase(lines.begin() + LineOfLeaf(lines, 7));  // L1, seq 3.
  const std::string path = dir_ + "/removed.jsonl";
  WriteLines(path, lines);
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FAULT leaf 8 (letter L1 seq 4, line"));
  EXPECT_THAT(r.output, HasSubstr("receipt(s) 3..3 of the letter are missing"));
  // Against the export an auditor kept earlier, the gap is named directly.
  CliRun again = Verify(path, first_);
  EXPECT_THAT(again.output,
              HasSubstr("FAULT leaf 7 (letter L1 seq 3): shown in"));
}

TEST_F(AuditVerifyTest, ReorderedReceiptsAreNamed) {
  auto lines = ReadLines(HonestExport());
  std::swap(lines[LineOfLeaf(lines, 7)], lines[LineOfLeaf(lines, 12)]);
  const std::string path = dir_ + "/reordered.jsonl";
  WriteLines(path, lines);
  CliRun r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("out of order"));
  EXPECT_THAT(r.output, HasSubstr("leaf 7 (letter L1 seq 3"));

  // Reordered with the leaf numbers kept in place: the proofs give it away.
  lines = ReadLines(dir_ + "/honest.jsonl");
  size_t a = LineOfLeaf(lines, 7), b = LineOfLeaf(lines, 8);
  auto ja = nlohmann::json::parse(lines[a]);
  auto jb = nlohmann::json::parse(lines[b]);
  std::swap(ja["jws"], jb["jws"]);
  std::swap(ja["seq"], jb["seq"]);
  lines[a] = ja.dump();
  lines[b] = jb.dump();
  WriteLines(path, lines);
  r = Verify(path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FAULT leaf 7 (letter L1 seq 4"));
  EXPECT_THAT(r.output, HasSubstr("not in the log at this leaf"));
  EXPECT_THAT(r.output, HasSubstr("FAULT leaf 8 (letter L1 seq 3"));
}

TEST_F(AuditVerifyTest, HistoryRewrittenBehindAPublishedHeadIsNamed) {
  const std::string honest = HonestExport();
  // The operator rebuilds the log with L0's receipts changed (another
  // document), re-signs everything with the real key and publishes again.
  auto s = Open("forged.db");
  Deliver(s.get(), "L0", "%PDF forged");
  Deliver(s.get(), "L1", "%PDF L1");
  ASSERT_THAT(s->IssueTreeHead(), IsOk());
  Deliver(s.get(), "L2", "%PDF L2");
  Deliver(s.get(), "L3", "%PDF L3");
  const std::string forged = dir_ + "/forged.jsonl";
  ASSERT_THAT(
      utpost::testing::WriteStoreExport(s.get(), signer_.get(), forged, "", 1),
      IsOk());
  // On its own the forged log is consistent...
  EXPECT_EQ(Verify(forged).exit_code, 0);
  // ...but not with what the auditor kept from before.
  CliRun r = Verify(forged, first_);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FAULT leaf 0 (letter L0 seq 1): differs"));
  EXPECT_THAT(r.output, HasSubstr("history rewritten"));

  // With the head published back then in place of the forged one, the
  // consistency proof to the newest head fails.
  auto lines = ReadLines(forged);
  auto kept = ReadLines(first_);
  for (auto& l : lines) {
    auto j = nlohmann::json::parse(l);
    if (j["type"] == "tree_head" && j["tree_size"] == 10) {
      for (const auto& k : kept) {
        auto kj = nlohmann::json::parse(k);
        if (kj["type"] == "tree_head") l = k;
      }
    }
  }
  const std::string spliced = dir_ + "/spliced.jsonl";
  WriteLines(spliced, lines);
  r = Verify(spliced);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("does not extend the published tree head "
                                  "of size 10"));
}

TEST_F(AuditVerifyTest, WrongCaAndUnreadableFilesAreReported) {
  const std::string path = HonestExport();
  CliRun r = Verify(dir_ + "/nope.jsonl");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  std::string cmd = absl::StrCat(UTPOSTCTL, " audit verify '", path,
                                 "' --ca certs-dev/other-ca.pem >/dev/null");
  int status = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

// Found by fuzz/audit_export_fuzzer (fuzz/regressions/audit_export/): a
// first receipt with leaf_index -1 was "out of order" after a receipt that
// did not exist, and naming it read through a null pointer.
// A header field of the wrong type ended the verifier with an uncaught
// exception; it is a fault like any other malformed line.
TEST(AuditExportTextTest, MistypedHeaderFieldIsAFault) {
  for (const char* header :
       {R"({"type":"export","format":"utpost-receipt-log-export/2","jws":5})",
        R"({"type":"export","format":7})",
        R"({"type":"export","format":"x","lines":"many"})"}) {
    auto report = VerifyExportText(std::string(header) + "\n", "export.jsonl",
                                   "certs-dev/ca.pem");
    ASSERT_THAT(report, IsOk()) << header;
    ASSERT_FALSE(report->faults.empty()) << header;
    EXPECT_THAT(report->faults[0].what, HasSubstr("mistyped")) << header;
  }
}

TEST(AuditExportTextTest, NegativeLeafIndexIsAFault) {
  const std::string text =
      R"({"type":"receipt","leaf_index":-1,"letter_id":"L","seq":1,)"
      R"("jws":"x","tree_size":1,"inclusion_proof":[]})"
      "\n"
      R"({"type":"receipt","leaf_index":-7,"letter_id":"L","seq":2,)"
      R"("jws":"y","tree_size":1,"inclusion_proof":[]})"
      "\n";
  auto report = VerifyExportText(text, "export.jsonl", "certs-dev/ca.pem");
  ASSERT_THAT(report, IsOk());
  ASSERT_EQ(report->faults.size(), 2u);
  EXPECT_THAT(report->faults[0].where, HasSubstr("leaf -1"));
  EXPECT_EQ(report->faults[0].what, "leaf_index is negative");
  EXPECT_THAT(report->faults[1].where, HasSubstr("leaf -7"));
  EXPECT_EQ(report->receipts, 0);
}

// The text form reads and verifies like the file form.
TEST(AuditExportTextTest, TextVerifiesLikeAFile) {
  auto report = VerifyExportText("{\"type\":\"export\"}\nnot json\n", "x.jsonl",
                                 "certs-dev/ca.pem");
  ASSERT_THAT(report, IsOk());
  ASSERT_EQ(report->faults.size(), 1u);
  EXPECT_EQ(report->faults[0].where, "x.jsonl line 2");
  EXPECT_THAT(VerifyExportText("", "x.jsonl", "certs-dev/nope.pem"),
              ::testing::Not(IsOk()));
}

}  // namespace
}  // namespace utpost::cli
