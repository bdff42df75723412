#include "cli/audit_commands.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/audit_log.h"
#include "cli/evidence_command.h"
#include "cli/output.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "utpost/v1/audit.grpc.pb.h"

namespace utpost::cli {
namespace {

bool ParseTime(const std::string& text, const std::string& flag,
               google::protobuf::Timestamp* out) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    std::cerr << "utpostctl audit export: " << flag
              << ": not an RFC 3339 time (e.g. 2026-11-01T00:00:00Z): " << err
              << "\n";
    return false;
  }
  *out = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
      absl::ToUnixMillis(t));
  return true;
}

}  // namespace

AuditCommands::AuditCommands(CLI::App& app) {
  audit_ = app.add_subcommand(
      "audit", "export the receipt log, or verify an export offline");
  audit_->require_subcommand(1);
  export_ = audit_->add_subcommand(
      "export",
      "receipts with leaf indices, inclusion proofs and signed tree heads, "
      "as JSON Lines");
  export_->footer(
      "Tenants export their own receipts; operators any tenant's, or all.\n"
      "The file (format utpost-receipt-log-export/2) proves it is complete:\n"
      "a signed header naming the tenant (\"\" for all tenants) and range,\n"
      "a signed statement per letter, a signed trailer over every line.\n"
      "Examples:\n"
      "  utpostctl audit export -o audit.jsonl\n"
      "  utpostctl audit export --from 2026-11-01T00:00:00Z --heads-since 1 "
      "-o nov.jsonl\n"
      "  utpostctl --cert certs-dev/operator.pem --key certs-dev/operator.key "
      "audit export --tenant 964338531");
  export_->add_option("--tenant", tenant_,
                      "organisation number (operators; default all)");
  export_->add_option("--from", from_, "receipts at or after (RFC 3339)");
  export_->add_option("--to", to_, "receipts before (RFC 3339)");
  export_->add_option("--heads-since", heads_since_,
                      "also the published tree heads from this size on, "
                      "linked by consistency proofs");
  export_->add_option("-o,--output", output_, "file (default stdout)");
  verify_ = audit_->add_subcommand(
      "verify",
      "check signatures, chains to the CA, each letter's hash chain, "
      "inclusion and consistency proofs, and (format /2) that nothing was "
      "removed; exit 1 on any fault");
  verify_->footer(
      "Example:\n"
      "  utpostctl audit verify audit.jsonl --ca certs-dev/ca.pem\n"
      "  utpostctl audit verify new.jsonl --ca ca.pem --previous old.jsonl");
  verify_->add_option("file", file_, "an export of `utpostctl audit export`")
      ->required();
  verify_->add_option("--ca", ca_,
                      "CA the receipt-signing certificates chain to (PEM)");
  verify_->add_option("--previous", previous_,
                      "an earlier export: nothing it showed may have changed");
}

bool AuditCommands::Selected() const { return audit_->parsed(); }

int AuditCommands::Run(const ConnectionOptions& c, const Output& out) {
  if (export_->parsed()) {
    return AuditExport(c, tenant_, from_, to_, heads_since_, output_);
  }
  if (verify_->parsed()) {
    return AuditVerify(file_, ca_.empty() ? c.ca_file : ca_, previous_, out);
  }
  return kUsage;
}

int AuditExport(const ConnectionOptions& c, const std::string& tenant,
                const std::string& from, const std::string& to,
                int64_t heads_since, const std::string& output) {
  v1::ExportReceiptsRequest request;
  request.set_tenant(tenant);
  request.set_heads_since_size(heads_since);
  if (!from.empty() && !ParseTime(from, "--from", request.mutable_start_time()))
    return kUsage;
  if (!to.empty() && !ParseTime(to, "--to", request.mutable_end_time()))
    return kUsage;
  auto channel = Connect(c);
  if (!channel.ok()) {
    std::cerr << "utpostctl: " << channel.status().message() << "\n";
    return kUsage;
  }
  std::ofstream file;
  if (!output.empty()) {
    file.open(output, std::ios::trunc);
    if (!file) {
      std::cerr << "utpostctl audit export: cannot write " << output << "\n";
      return kUsage;
    }
  }
  std::ostream& sink = output.empty() ? std::cout : file;
  auto stub = v1::ReceiptLogService::NewStub(*channel);
  grpc::ClientContext ctx;  // No deadline: an export may be long.
  auto reader = stub->ExportReceipts(&ctx, request);
  v1::ExportReceiptsResponse item;
  int64_t head_size = 0;
  int64_t receipts = 0;
  bool first = true;
  while (reader->Read(&item)) {
    // A server of format /2 sends each line as its trailer's hash covers
    // it; one of format /1 sends the items only, and no header.
    if (first && item.line().empty()) {
      sink << ExportHeaderLine({tenant, from, to}) << "\n";
    }
    first = false;
    if (item.has_tree_head()) head_size = item.tree_head().tree_size();
    if (item.has_receipt()) ++receipts;
    if (!item.line().empty()) {
      sink << item.line() << "\n";
    } else {
      sink << ExportLine(item, head_size) << "\n";
    }
  }
  grpc::Status s = reader->Finish();
  sink.flush();
  if (!s.ok()) {
    std::cerr << "utpostctl: "
              << absl::StatusCodeToString(
                     static_cast<absl::StatusCode>(s.error_code()))
              << ": " << s.error_message() << "\n";
    return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                   s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
               ? kUnreachable
               : kRefused;
  }
  if (!output.empty()) {
    std::cerr << "exported " << receipts << " receipts to " << output
              << " (tree size " << head_size << ")\n";
  }
  return kOk;
}

int AuditVerify(const std::string& file, const std::string& ca_file,
                const std::string& previous, const Output& out) {
  absl::StatusOr<AuditReport> report;
  std::string head;
  {
    std::ifstream in(file, std::ios::binary);
    char start[5] = {};
    in.read(start, sizeof(start));
    head.assign(start, static_cast<size_t>(in.gcount()));
  }
  if (LooksLikePdf(head)) {
    // An evidence document: verify the export it carries.
    std::ifstream in(file, std::ios::binary);
    std::stringstream data;
    data << in.rdbuf();
    auto text = ReceiptsFromEvidencePdf(data.str());
    if (!text.ok()) {
      std::cerr << "utpostctl audit verify: " << file << ": "
                << text.status().message() << "\n";
      return kUsage;
    }
    if (!previous.empty()) {
      std::cerr << "utpostctl audit verify: --previous compares exports, "
                   "not evidence documents\n";
      return kUsage;
    }
    report = VerifyExportText(*text, file + " (receipts.jsonl)", ca_file);
  } else {
    report = VerifyExport(file, ca_file, previous);
  }
  if (!report.ok()) {
    std::cerr << "utpostctl audit verify: " << report.status().message()
              << "\n";
    return kUsage;
  }
  if (out.json) {
    nlohmann::ordered_json j;
    j["format"] = report->format;
    j["receipts"] = report->receipts;
    j["letters"] = report->letters;
    j["tree_heads"] = report->tree_heads;
    j["faults"] = nlohmann::ordered_json::array();
    for (const auto& f : report->faults) {
      j["faults"].push_back({{"where", f.where}, {"what", f.what}});
    }
    j["notes"] = report->notes;
    std::cout << j.dump() << "\n";
  } else {
    for (const auto& f : report->faults) {
      std::cout << "FAULT " << f.where << ": " << f.what << "\n";
    }
    for (const auto& n : report->notes) std::cout << "NOTE " << n << "\n";
    std::cout << (report->faults.empty() ? "OK" : "FAILED") << ": "
              << report->receipts << " receipts of " << report->letters
              << " letters, " << report->tree_heads << " tree heads, "
              << report->faults.size() << " faults\n";
  }
  return report->faults.empty() ? kOk : kRefused;
}

}  // namespace utpost::cli
