// The audit export reader: the input as an export file's text, parsed and
// verified against the development CA (certs-dev/ca.pem, which signs the
// receipts and tree heads of the seed exports).
#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/audit_log.h"
#include "fuzz/scripted_http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string* const ca =
      new std::string(utpost::fuzz::SourcePath("certs-dev/ca.pem"));
  std::string text(reinterpret_cast<const char*>(data), size);
  auto report = utpost::cli::VerifyExportText(text, "export.jsonl", *ca);
  if (!report.ok()) __builtin_trap();  // Only an unreadable CA fails.
  utpost::fuzz::Note("faults", absl::OkStatus(), report->faults.size());
  return 0;
}
