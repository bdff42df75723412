#include "cli/audit_log.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "gateway/receipts/export_lines.h"
#include "gateway/receipts/jws_verify.h"
#include "gateway/receipts/merkle.h"
#include "nlohmann/json.hpp"

namespace utpost::cli {
namespace {

using nlohmann::json;
namespace merkle = receipts::merkle;

// A parsed line of an export.
struct Head {
  int line = 0;
  int64_t tree_size = 0;
  std::string root;  // Raw.
  std::string time;
  std::string jws;
};
struct Receipt {
  int line = 0;
  int64_t leaf_index = -1;
  std::string letter_id;
  int64_t seq = 0;
  std::string jws;
  int64_t tree_size = 0;
  std::vector<std::string> proof;  // Raw.
  json payload;                    // Once verified.
};
struct Consistency {
  int line = 0;
  int64_t first = 0;
  int64_t second = 0;
  std::vector<std::string> proof;
};
// A letter's signed statement of its receipts (format /2).
struct Statement {
  int line = 0;
  std::string letter_id;
  std::string tenant;
  int64_t tree_size = 0;
  int64_t receipts = 0;
  std::string last_sha256;
  int64_t in_range = 0;
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  std::string jws;
};
// The signed trailer (format /2).
struct Trailer {
  int line = 0;
  int64_t lines = 0;
  std::string sha256;
  int64_t tree_size = 0;
  std::string root_hash;  // Hex.
  std::string jws;
};
struct ExportFile {
  std::optional<json> header;
  int header_line = 0;
  std::vector<int> extra_headers;  // Lines of any further header.
  std::vector<Head> heads;
  std::vector<Receipt> receipts;
  std::vector<Consistency> consistency;
  std::vector<Statement> statements;
  std::vector<Trailer> trailers;
  // Every line as read (without its newline), for the trailer's hash.
  std::vector<std::string> lines;
  std::string first_type;  // "type" of line 1, "" if none.
};

std::string ReceiptName(const Receipt& r) {
  return absl::StrCat("leaf ", r.leaf_index, " (letter ", r.letter_id, " seq ",
                      r.seq, ", line ", r.line, ")");
}

std::string HeadName(const Head& h) {
  return absl::StrCat("tree head of size ", h.tree_size, " (", h.time,
                      ", line ", h.line, ")");
}

// Lowercase or uppercase hex to bytes; false for anything else.
bool HexToBytes(const std::string& hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  for (char ch : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return false;
  }
  *out = absl::HexStringToBytes(hex);
  return true;
}

bool ParseHashes(const json& list, std::vector<std::string>* out) {
  if (!list.is_array()) return false;
  for (const auto& h : list) {
    std::string raw;
    if (!h.is_string() || h.get<std::string>().size() != 64 ||
        !HexToBytes(h.get<std::string>(), &raw)) {
      return false;
    }
    out->push_back(raw);
  }
  return true;
}

// Reads an export from `in`, named `path` in faults; lines that do not
// parse become faults.
ExportFile ReadExport(std::istream& in, const std::string& path,
                      std::vector<AuditFault>* faults) {
  ExportFile f;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    f.lines.push_back(text);
    if (text.empty()) continue;
    const std::string where = absl::StrCat(path, " line ", line);
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("type")) {
      faults->push_back({where, "not a JSON object with a \"type\""});
      continue;
    }
    const std::string type =
        j["type"].is_string() ? j["type"].get<std::string>() : "";
    if (line == 1) f.first_type = type;
    try {
      if (type == "export") {
        // The header is kept as it stands and read later, outside this
        // block: its fields' types are checked here, where a mistyped one
        // is a fault and not an exception that ends the verifier.
        for (const char* key :
             {"format", "tenant", "start_time", "end_time", "jws"}) {
          (void)j.value(key, std::string());
        }
        for (const char* key : {"tree_size", "receipts", "letters", "lines"}) {
          (void)j.value(key, int64_t{0});
        }
        if (f.header.has_value()) {
          f.extra_headers.push_back(line);
        } else {
          f.header = j;
          f.header_line = line;
        }
      } else if (type == "letter") {
        Statement st;
        st.line = line;
        st.letter_id = j.at("letter_id").get<std::string>();
        st.tenant = j.at("tenant").get<std::string>();
        st.tree_size = j.at("tree_size").get<int64_t>();
        st.receipts = j.at("receipts").get<int64_t>();
        st.last_sha256 = j.at("last_sha256").get<std::string>();
        st.in_range = j.at("in_range").get<int64_t>();
        st.first_seq = j.at("first_seq").get<int64_t>();
        st.last_seq = j.at("last_seq").get<int64_t>();
        st.jws = j.at("jws").get<std::string>();
        f.statements.push_back(std::move(st));
      } else if (type == "trailer") {
        Trailer t;
        t.line = line;
        t.lines = j.at("lines").get<int64_t>();
        t.sha256 = j.at("sha256").get<std::string>();
        t.tree_size = j.at("tree_size").get<int64_t>();
        t.root_hash = j.at("root_hash").get<std::string>();
        t.jws = j.at("jws").get<std::string>();
        f.trailers.push_back(std::move(t));
      } else if (type == "tree_head") {
        Head h;
        h.line = line;
        h.tree_size = j.at("tree_size").get<int64_t>();
        h.time = j.value("time", "");
        h.jws = j.at("jws").get<std::string>();
        if (!HexToBytes(j.at("root_hash").get<std::string>(), &h.root) ||
            h.root.size() != 32) {
          faults->push_back({where, "root_hash is not 64 hex digits"});
          continue;
        }
        f.heads.push_back(std::move(h));
      } else if (type == "consistency") {
        Consistency c;
        c.line = line;
        c.first = j.at("first").get<int64_t>();
        c.second = j.at("second").get<int64_t>();
        if (!ParseHashes(j.at("proof"), &c.proof)) {
          faults->push_back({where, "proof is not a list of hex hashes"});
          continue;
        }
        f.consistency.push_back(std::move(c));
      } else if (type == "receipt") {
        Receipt r;
        r.line = line;
        r.leaf_index = j.at("leaf_index").get<int64_t>();
        r.letter_id = j.at("letter_id").get<std::string>();
        r.seq = j.at("seq").get<int64_t>();
        r.jws = j.at("jws").get<std::string>();
        r.tree_size = j.at("tree_size").get<int64_t>();
        if (r.leaf_index < 0) {
          faults->push_back({ReceiptName(r), "leaf_index is negative"});
          continue;
        }
        if (!ParseHashes(j.at("inclusion_proof"), &r.proof)) {
          faults->push_back(
              {ReceiptName(r), "inclusion_proof is not a list of hex hashes"});
          continue;
        }
        f.receipts.push_back(std::move(r));
      } else {
        faults->push_back({where, absl::StrCat("unknown type \"", type, "\"")});
      }
    } catch (const json::exception& e) {
      faults->push_back(
          {where, absl::StrCat("missing or mistyped field: ", e.what())});
    }
  }
  return f;
}

// Reads the export at `path`.
absl::StatusOr<ExportFile> ReadExport(const std::string& path,
                                      std::vector<AuditFault>* faults) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return ReadExport(in, path, faults);
}

constexpr char kFormat1[] = "utpost-receipt-log-export/1";
constexpr char kFormat2[] = "utpost-receipt-log-export/2";

std::string Plural(int64_t n, const std::string& one, const std::string& many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// "seq 5", "seq 3..5", "seq 1, 3..5": sorted sequence numbers, runs joined.
std::string SeqList(const std::vector<int64_t>& seqs) {
  std::string out = "seq ";
  for (size_t i = 0; i < seqs.size();) {
    size_t j = i;
    while (j + 1 < seqs.size() && seqs[j + 1] == seqs[j] + 1) ++j;
    if (i > 0) out += ", ";
    absl::StrAppend(&out, seqs[i]);
    if (j > i) absl::StrAppend(&out, "..", seqs[j]);
    i = j + 1;
  }
  return out;
}

// The fields of `line` named in `keys` that `payload` states differently.
std::string Differing(const json& line, const json& payload,
                      std::initializer_list<const char*> keys) {
  std::string out;
  for (const char* k : keys) {
    if (!line.contains(k) || !payload.contains(k) || line[k] != payload[k]) {
      absl::StrAppend(&out, out.empty() ? "" : ", ", k);
    }
  }
  return out;
}

// The verifier's message about a JWS, naming it as `kind` ("statement").
std::string JwsError(const absl::Status& s, const std::string& kind) {
  std::string m(s.message());
  constexpr char kPrefix[] = "receipt JWS: ";
  if (m.rfind(kPrefix, 0) == 0) m = m.substr(sizeof(kPrefix) - 1);
  return absl::StrCat(kind, " JWS: ", m);
}

// Format /2: the export holds everything it says it holds.
void CheckCompleteness(const ExportFile& f,
                       const receipts::ReceiptJwsVerifier& verifier,
                       std::vector<AuditFault>* faults) {
  const int64_t file_lines = static_cast<int64_t>(f.lines.size());
  auto line_where = [](int64_t n) { return absl::StrCat("line ", n); };

  // The header: first, once, signed, saying what its line says.
  std::optional<json> header;  // Verified payload.
  if (!f.header.has_value()) {
    faults->push_back(
        {line_where(1),
         absl::StrCat("the export header is missing (line 1 is ",
                      f.first_type.empty() ? "not an export line"
                                           : "a " + f.first_type + " line",
                      "): the first line was removed or moved")});
  } else {
    const std::string where =
        absl::StrCat("export header (line ", f.header_line, ")");
    if (f.header_line != 1) {
      faults->push_back({where, "is not the first line of the export (moved)"});
    }
    const std::string jws = f.header->value("jws", "");
    auto payload = verifier.Verify(jws);
    if (!payload.ok()) {
      faults->push_back({where, JwsError(payload.status(), "header")});
    } else if (payload->value("statement", "") != "utpost-export-header") {
      faults->push_back({where, "the JWS is not an export header"});
    } else if (std::string d =
                   Differing(*f.header, *payload,
                             {"format", "tenant", "start_time", "end_time",
                              "tree_size", "receipts", "letters", "lines"});
               !d.empty() ||
               f.header->contains("letter") != payload->contains("letter") ||
               (payload->contains("letter") &&
                (*f.header)["letter"] != (*payload)["letter"])) {
      if (d.empty()) d = "letter";
      faults->push_back(
          {where, absl::StrCat("the signed header does not say what its "
                               "line says (",
                               d, ")")});
    } else {
      header = *payload;
    }
  }
  for (int n : f.extra_headers) {
    faults->push_back({line_where(n), "a second export header"});
  }

  // The trailer: the last line, signed, committing to every line before it.
  std::optional<json> trailer;
  const Trailer* t = f.trailers.empty() ? nullptr : &f.trailers.back();
  for (size_t i = 0; i + 1 < f.trailers.size(); ++i) {
    faults->push_back({line_where(f.trailers[i].line),
                       "a second trailer (only the last line may be one)"});
  }
  const int64_t announced =
      header.has_value() ? header->value("lines", int64_t{0}) : 0;
  if (t == nullptr) {
    if (header.has_value() && file_lines < announced) {
      const int64_t k = announced - file_lines;
      faults->push_back(
          {line_where(file_lines + 1),
           absl::StrCat("the export ends early: its last ",
                        Plural(k, "line is", "lines are"),
                        " missing (the signed header at line ", f.header_line,
                        " announces ", announced, " lines, the file has ",
                        file_lines, "; the trailer is gone)")});
    } else {
      faults->push_back(
          {line_where(file_lines + 1),
           "the export ends early: it has no trailer (the last line was "
           "removed)"});
    }
  } else {
    const std::string where = absl::StrCat("trailer (line ", t->line, ")");
    if (t->line != file_lines) {
      faults->push_back(
          {where, absl::StrCat("is not the last line: ",
                               Plural(file_lines - t->line, "line follows",
                                      "lines follow"),
                               " it (moved or appended)")});
    }
    auto payload = verifier.Verify(t->jws);
    if (!payload.ok()) {
      faults->push_back({where, JwsError(payload.status(), "trailer")});
    } else if (payload->value("statement", "") != "utpost-export-trailer" ||
               payload->value("lines", int64_t{-1}) != t->lines ||
               payload->value("sha256", "") != t->sha256 ||
               payload->value("tree_size", int64_t{-1}) != t->tree_size ||
               payload->value("root_hash", "") != t->root_hash) {
      faults->push_back(
          {where, "the signed trailer does not say what its line says"});
    } else {
      trailer = *payload;
    }
  }
  if (trailer.has_value()) {
    const std::string where = absl::StrCat("trailer (line ", t->line, ")");
    const int64_t before = t->line - 1;
    if (before < t->lines) {
      const int64_t k = t->lines - before;
      faults->push_back(
          {where,
           absl::StrCat(Plural(k, "line", "lines"), " before it ",
                        k == 1 ? "is" : "are", " missing: it commits to ",
                        t->lines, " lines, the file has ", before)});
    } else if (before > t->lines) {
      faults->push_back(
          {where, absl::StrCat(Plural(before - t->lines, "line", "lines"),
                               " before it that it does not commit to (it "
                               "commits to ",
                               t->lines, ", the file has ", before, ")")});
    }
    std::string text;
    for (int64_t i = 0; i < std::min<int64_t>(before, file_lines); ++i) {
      absl::StrAppend(&text, f.lines[i], "\n");
    }
    if (Sha256Hex(text) != t->sha256) {
      faults->push_back(
          {where,
           "the SHA-256 of the lines before it is not the one it signed (a "
           "line was changed, removed, added or moved)"});
    }
    if (header.has_value()) {
      for (const char* k : {"format", "tenant", "letter", "start_time",
                            "end_time", "tree_size"}) {
        // Absent keys compare as null, without adding them.
        const json in_header = header->value(k, json());
        const json in_trailer = trailer->value(k, json());
        if (in_header != in_trailer) {
          faults->push_back(
              {where,
               absl::StrCat("states another ", k, " than the export header (",
                            in_trailer.dump(), " vs ", in_header.dump(), ")")});
        }
      }
    }
    if (f.heads.empty()
            ? t->tree_size != 0
            : (f.heads.back().tree_size != t->tree_size ||
               absl::BytesToHexString(f.heads.back().root) != t->root_hash)) {
      faults->push_back(
          {where,
           absl::StrCat(
               "binds to the tree head of size ", t->tree_size, " (root ",
               t->root_hash, "), which is not the export's last tree head",
               f.heads.empty()
                   ? std::string(" (it has none)")
                   : absl::StrCat(" (size ", f.heads.back().tree_size,
                                  ", line ", f.heads.back().line, ")"))});
    }
  }
  if (header.has_value()) {
    const std::string where =
        absl::StrCat("export header (line ", f.header_line, ")");
    const int64_t r = header->value("receipts", int64_t{0});
    const int64_t l = header->value("letters", int64_t{0});
    if (r != static_cast<int64_t>(f.receipts.size())) {
      faults->push_back(
          {where, absl::StrCat("announces ", Plural(r, "receipt", "receipts"),
                               ", the file holds ", f.receipts.size())});
    }
    if (l != static_cast<int64_t>(f.statements.size())) {
      faults->push_back(
          {where, absl::StrCat("announces ", Plural(l, "letter", "letters"),
                               ", the file holds statements of ",
                               f.statements.size())});
    }
    if (t != nullptr && announced != file_lines) {
      faults->push_back(
          {where,
           absl::StrCat("announces ", announced, " lines, the file has ",
                        file_lines, " (",
                        Plural(announced > file_lines ? announced - file_lines
                                                      : file_lines - announced,
                               "line", "lines"),
                        announced > file_lines ? " missing)" : " added)")});
    }
  }

  // Letters: one signed statement each, naming exactly the receipts here.
  std::map<std::string, std::vector<const Receipt*>> by_letter;
  for (const Receipt& r : f.receipts) by_letter[r.letter_id].push_back(&r);
  const int64_t head_size = f.heads.empty() ? 0 : f.heads.back().tree_size;
  std::map<std::string, const Statement*> stated;
  for (const Statement& st : f.statements) {
    const std::string where = absl::StrCat("letter ", st.letter_id,
                                           " (statement, line ", st.line, ")");
    if (stated.count(st.letter_id) > 0) {
      faults->push_back({where, absl::StrCat("a second statement (the first "
                                             "is at line ",
                                             stated[st.letter_id]->line, ")")});
      continue;
    }
    stated[st.letter_id] = &st;
    auto payload = verifier.Verify(st.jws);
    if (!payload.ok()) {
      faults->push_back({where, JwsError(payload.status(), "statement")});
      continue;
    }
    json line = {{"letter_id", st.letter_id},     {"tenant", st.tenant},
                 {"tree_size", st.tree_size},     {"receipts", st.receipts},
                 {"last_sha256", st.last_sha256}, {"in_range", st.in_range},
                 {"first_seq", st.first_seq},     {"last_seq", st.last_seq}};
    if (payload->value("statement", "") != "utpost-letter-receipts") {
      faults->push_back({where, "the JWS is not a letter statement"});
      continue;
    }
    if (std::string d =
            Differing(line, *payload,
                      {"letter_id", "tenant", "tree_size", "receipts",
                       "last_sha256", "in_range", "first_seq", "last_seq"});
        !d.empty()) {
      faults->push_back(
          {where, absl::StrCat("the signed statement does not say what its "
                               "line says (",
                               d, ")")});
      continue;
    }
    if (st.tree_size != head_size) {
      faults->push_back(
          {where,
           absl::StrCat("is for the tree of size ", st.tree_size,
                        ", the export's last head is of size ", head_size)});
    }
    if (header.has_value()) {
      for (const char* k : {"start_time", "end_time"}) {
        if ((*payload)[k] != (*header)[k]) {
          faults->push_back({where, absl::StrCat("covers another ", k,
                                                 " than the export header")});
        }
      }
      const std::string scope = header->value("tenant", "");
      if (!scope.empty() && st.tenant != scope) {
        faults->push_back(
            {where, absl::StrCat("names tenant ", st.tenant,
                                 ", the export is of tenant ", scope)});
      }
      const json scoped = header->value("letter", json());
      const std::string letter =
          scoped.is_string() ? scoped.get<std::string>() : "";
      if (!letter.empty() && st.letter_id != letter) {
        faults->push_back(
            {where,
             absl::StrCat("is of another letter than the export's, ", letter)});
      }
    }
    if (st.in_range != st.last_seq - st.first_seq + 1 || st.first_seq < 1) {
      faults->push_back(
          {where, absl::StrCat("its ", st.in_range,
                               " receipts in range are not sequences ",
                               st.first_seq, "..", st.last_seq)});
      continue;
    }
    std::map<int64_t, const Receipt*> present;
    auto it = by_letter.find(st.letter_id);
    if (it != by_letter.end()) {
      for (const Receipt* r : it->second) present[r->seq] = r;
    }
    std::vector<int64_t> missing, extra;
    for (int64_t q = st.first_seq; q <= st.last_seq; ++q) {
      if (present.count(q) == 0) missing.push_back(q);
    }
    for (const auto& [q, r] : present) {
      if (q < st.first_seq || q > st.last_seq) extra.push_back(q);
    }
    const std::string says = absl::StrCat(
        "the statement at line ", st.line, " says ",
        Plural(st.in_range, "receipt", "receipts"), " (",
        st.first_seq == st.last_seq
            ? absl::StrCat("seq ", st.first_seq)
            : absl::StrCat("seq ", st.first_seq, "..", st.last_seq),
        ")",
        st.last_seq == st.receipts
            ? ""
            : absl::StrCat(" of its ", st.receipts, " in the tree"));
    if (!missing.empty()) {
      faults->push_back(
          {absl::StrCat("letter ", st.letter_id),
           absl::StrCat(Plural(static_cast<int64_t>(missing.size()), "receipt",
                               "receipts"),
                        " (", SeqList(missing), ") missing: ", says)});
    }
    if (!extra.empty()) {
      faults->push_back({absl::StrCat("letter ", st.letter_id),
                         absl::StrCat(Plural(static_cast<int64_t>(extra.size()),
                                             "receipt", "receipts"),
                                      " (", SeqList(extra),
                                      ") not named by its statement: ", says)});
    }
    auto last = present.find(st.receipts);
    if (st.last_seq == st.receipts && last != present.end() &&
        Sha256Hex(last->second->jws) != st.last_sha256) {
      faults->push_back(
          {ReceiptName(*last->second),
           absl::StrCat("is not the letter's last receipt the statement at "
                        "line ",
                        st.line, " names (SHA-256 differs)")});
    }
  }
  for (const auto& [letter, chain] : by_letter) {
    if (stated.count(letter) == 0) {
      faults->push_back(
          {absl::StrCat("letter ", letter),
           absl::StrCat("no statement of its receipts (its statement line "
                        "was removed; ",
                        Plural(static_cast<int64_t>(chain.size()), "receipt",
                               "receipts"),
                        " in the file cannot be shown complete)")});
    }
  }
}

}  // namespace

std::string ExportHeaderLine(const ExportScope& scope) {
  nlohmann::ordered_json j;
  j["type"] = "export";
  j["format"] = "utpost-receipt-log-export/1";
  j["tenant"] = scope.tenant;
  j["start_time"] = scope.start_time;
  j["end_time"] = scope.end_time;
  return j.dump();
}

std::string ExportLine(const v1::ExportReceiptsResponse& item,
                       int64_t head_size) {
  return receipts::ExportItemLine(item, head_size);
}

namespace {

// Verifies `export_file` (whose reading found `faults_so_far`) with
// `verifier`; with `previous_path`, against that earlier export too.
absl::StatusOr<AuditReport> VerifyExportFile(
    const receipts::ReceiptJwsVerifier& verifier, ExportFile export_file,
    std::vector<AuditFault> faults_so_far, const std::string& previous_path) {
  AuditReport report;
  auto& faults = report.faults;
  faults = std::move(faults_so_far);
  ExportFile* file = &export_file;

  // Tree heads: signed, as stated, growing, and linked by consistency proofs.
  std::map<int64_t, const Head*> heads_by_size;
  const Head* prev = nullptr;
  for (const Head& h : file->heads) {
    ++report.tree_heads;
    auto payload = verifier.Verify(h.jws);
    if (!payload.ok()) {
      faults.push_back({HeadName(h), std::string(payload.status().message())});
      continue;
    }
    const json& p = *payload;
    if (p.value("log", "") != "utpost-receipts" ||
        p.value("tree_size", int64_t{-1}) != h.tree_size ||
        p.value("root_hash", "") != absl::BytesToHexString(h.root)) {
      faults.push_back({HeadName(h),
                        "the signed payload does not state this tree_size and "
                        "root_hash"});
      continue;
    }
    if (prev != nullptr) {
      if (h.tree_size < prev->tree_size) {
        faults.push_back({HeadName(h), absl::StrCat("smaller than the head "
                                                    "before it (size ",
                                                    prev->tree_size, ")")});
      } else {
        const Consistency* link = nullptr;
        for (const Consistency& c : file->consistency) {
          if (c.first == prev->tree_size && c.second == h.tree_size) link = &c;
        }
        if (link == nullptr) {
          faults.push_back(
              {HeadName(h), absl::StrCat("no consistency proof from the "
                                         "earlier head of size ",
                                         prev->tree_size)});
        } else if (auto s = merkle::VerifyConsistency(prev->tree_size,
                                                      h.tree_size, prev->root,
                                                      h.root, link->proof);
                   !s.ok()) {
          faults.push_back(
              {HeadName(h),
               absl::StrCat("does not extend the published ", HeadName(*prev),
                            ": ", s.message(),
                            " (history behind that head was rewritten)")});
        }
      }
    }
    heads_by_size[h.tree_size] = &h;
    prev = &h;
  }

  // Receipts: signed, in the log where they say, in leaf order.
  int64_t last_leaf = -1;
  const Receipt* last_receipt = nullptr;
  for (Receipt& r : file->receipts) {
    ++report.receipts;
    if (r.leaf_index <= last_leaf && last_receipt != nullptr) {
      faults.push_back(
          {ReceiptName(r),
           absl::StrCat("out of order: comes after ",
                        ReceiptName(*last_receipt),
                        " (receipts must be in increasing leaf order)")});
    }
    if (r.leaf_index > last_leaf) {
      last_leaf = r.leaf_index;
      last_receipt = &r;
    }
    auto payload = verifier.Verify(r.jws);
    if (!payload.ok()) {
      faults.push_back(
          {ReceiptName(r), std::string(payload.status().message())});
      continue;
    }
    r.payload = *payload;
    if (r.payload.value("letter_id", "") != r.letter_id ||
        r.payload.value("seq", int64_t{-1}) != r.seq) {
      faults.push_back({ReceiptName(r),
                        "the signed payload names another letter or sequence"});
    }
    auto head = heads_by_size.find(r.tree_size);
    if (head == heads_by_size.end()) {
      faults.push_back({ReceiptName(r),
                        absl::StrCat("no verified tree head of size ",
                                     r.tree_size, " for its inclusion proof")});
      continue;
    }
    if (auto s =
            merkle::VerifyInclusion(merkle::LeafHash(r.jws), r.leaf_index,
                                    r.tree_size, r.proof, head->second->root);
        !s.ok()) {
      faults.push_back(
          {ReceiptName(r),
           absl::StrCat("not in the log at this leaf under the tree head of "
                        "size ",
                        r.tree_size, ": ", s.message())});
    }
  }

  // Each letter's hash chain: consecutive sequence numbers, each receipt's
  // "prev" the SHA-256 of the one before.
  std::map<std::string, std::vector<const Receipt*>> by_letter;
  for (const Receipt& r : file->receipts) {
    if (!r.payload.is_null()) by_letter[r.letter_id].push_back(&r);
  }
  report.letters = static_cast<int64_t>(by_letter.size());
  for (auto& [letter, chain] : by_letter) {
    std::stable_sort(chain.begin(), chain.end(),
                     [](const Receipt* a, const Receipt* b) {
                       return a->leaf_index < b->leaf_index;
                     });
    for (size_t i = 0; i < chain.size(); ++i) {
      const Receipt& r = *chain[i];
      const std::string prev_hash = r.payload.value("prev", "");
      if (i == 0) {
        if (r.seq == 1 && !prev_hash.empty()) {
          faults.push_back(
              {ReceiptName(r),
               "first receipt of the letter names a previous one"});
        }
        continue;
      }
      const Receipt& before = *chain[i - 1];
      if (r.seq <= before.seq) {
        faults.push_back(
            {ReceiptName(r),
             absl::StrCat("sequence ", r.seq, " is logged after sequence ",
                          before.seq, " of the same letter (reordered)")});
      } else if (r.seq != before.seq + 1) {
        faults.push_back(
            {ReceiptName(r),
             absl::StrCat("receipt(s) ", before.seq + 1, "..", r.seq - 1,
                          " of the letter are missing between ",
                          ReceiptName(before), " and this one")});
      } else if (prev_hash != Sha256Hex(before.jws)) {
        faults.push_back(
            {ReceiptName(r),
             absl::StrCat("\"prev\" is not the SHA-256 of ",
                          ReceiptName(before), " (chain broken)")});
      }
    }
  }

  // Completeness (format /2); format /1 cannot prove it.
  std::string format =
      file->header.has_value() ? file->header->value("format", "") : "";
  if (format.empty() &&
      (!file->trailers.empty() || !file->statements.empty())) {
    format = kFormat2;  // The header is gone; the rest is /2.
  }
  if (format.empty()) format = kFormat1;
  report.format = format;
  if (format == kFormat2) {
    std::vector<AuditFault> found;
    CheckCompleteness(*file, verifier, &found);
    faults.insert(faults.end(), found.begin(), found.end());
  } else if (format == kFormat1) {
    report.notes.push_back(
        "format utpost-receipt-log-export/1: this export cannot prove it is "
        "complete (a removed last receipt of a letter or a removed last line "
        "goes unnoticed); export again for format /2");
  } else {
    faults.push_back(
        {"line 1", absl::StrCat("unknown format \"", format, "\"")});
  }

  // Against an earlier export: nothing it showed may change or vanish.
  if (!previous_path.empty()) {
    std::vector<AuditFault> old_faults;
    auto old = ReadExport(previous_path, &old_faults);
    if (!old.ok()) return old.status();
    std::map<int64_t, const Receipt*> now_by_leaf;
    for (const Receipt& r : file->receipts) now_by_leaf[r.leaf_index] = &r;
    const int64_t newest =
        file->heads.empty() ? 0 : file->heads.back().tree_size;
    for (const Receipt& r : old->receipts) {
      auto it = now_by_leaf.find(r.leaf_index);
      const std::string name = absl::StrCat("leaf ", r.leaf_index, " (letter ",
                                            r.letter_id, " seq ", r.seq, ")");
      if (it == now_by_leaf.end()) {
        if (r.leaf_index < newest) {
          faults.push_back({name, absl::StrCat("shown in ", previous_path,
                                               " but missing now (removed)")});
        }
      } else if (it->second->jws != r.jws) {
        faults.push_back(
            {name, absl::StrCat("differs from the receipt ", previous_path,
                                " showed at this leaf (history rewritten; now ",
                                ReceiptName(*it->second), ")")});
      }
    }
    for (const Head& h : old->heads) {
      auto it = heads_by_size.find(h.tree_size);
      if (it != heads_by_size.end() && it->second->root != h.root) {
        faults.push_back(
            {HeadName(*it->second),
             absl::StrCat("root differs from the head of the same size in ",
                          previous_path, " (history rewritten)")});
      }
    }
  }
  if (report.format == kFormat2 && faults.empty()) {
    report.notes.push_back(absl::StrCat(
        "complete: the signed trailer commits to all ",
        file->trailers.empty() ? 0 : file->trailers.back().lines,
        " lines before it, and each of the ", file->statements.size(),
        " letters has every receipt of the range its signed statement "
        "names"));
  }
  return report;
}

}  // namespace

absl::StatusOr<AuditReport> VerifyExport(const std::string& path,
                                         const std::string& ca_file,
                                         const std::string& previous_path) {
  auto verifier = receipts::NewReceiptJwsVerifier(ca_file);
  if (!verifier.ok()) return verifier.status();
  std::vector<AuditFault> faults;
  auto file = ReadExport(path, &faults);
  if (!file.ok()) return file.status();
  return VerifyExportFile(**verifier, *std::move(file), std::move(faults),
                          previous_path);
}

absl::StatusOr<AuditReport> VerifyExportText(const std::string& text,
                                             const std::string& name,
                                             const std::string& ca_file) {
  auto verifier = receipts::NewReceiptJwsVerifier(ca_file);
  if (!verifier.ok()) return verifier.status();
  std::vector<AuditFault> faults;
  std::istringstream in(text);
  ExportFile file = ReadExport(in, name, &faults);
  return VerifyExportFile(**verifier, std::move(file), std::move(faults), "");
}

}  // namespace utpost::cli
