#include "cli/audit_log.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "gateway/receipts/jws_verify.h"
#include "gateway/receipts/merkle.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

namespace utpost::cli {
namespace {

using google::protobuf::util::TimeUtil;
using nlohmann::json;
namespace merkle = receipts::merkle;

json HexList(const google::protobuf::RepeatedPtrField<std::string>& hashes) {
  json out = json::array();
  for (const auto& h : hashes) out.push_back(absl::BytesToHexString(h));
  return out;
}

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
struct ExportFile {
  std::optional<json> header;
  std::vector<Head> heads;
  std::vector<Receipt> receipts;
  std::vector<Consistency> consistency;
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
    if (text.empty()) continue;
    const std::string where = absl::StrCat(path, " line ", line);
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("type")) {
      faults->push_back({where, "not a JSON object with a \"type\""});
      continue;
    }
    const std::string type = j.value("type", "");
    try {
      if (type == "export") {
        f.header = j;
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
  return report;
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
  nlohmann::ordered_json j;
  if (item.has_tree_head()) {
    const auto& h = item.tree_head();
    j["type"] = "tree_head";
    j["tree_size"] = h.tree_size();
    j["root_hash"] = absl::BytesToHexString(h.root_hash());
    j["time"] = TimeUtil::ToString(h.time());
    j["jws"] = h.jws();
  } else if (item.has_consistency()) {
    const auto& c = item.consistency();
    j["type"] = "consistency";
    j["first"] = c.first();
    j["second"] = c.second();
    j["proof"] = HexList(c.hashes());
  } else {
    const auto& r = item.receipt();
    j["type"] = "receipt";
    j["leaf_index"] = r.leaf_index();
    j["letter_id"] = r.letter_id();
    j["seq"] = r.sequence();
    j["tree_size"] = head_size;
    j["inclusion_proof"] = HexList(r.inclusion_proof());
    j["jws"] = r.jws();
  }
  return j.dump();
}

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
