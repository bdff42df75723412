// utpostctl evidence: a letter's evidence document for the case archive.
//   utpostctl evidence ID -o FILE [--language nb|en]
// The document is a PDF/A-3b that carries the letter's receipts with their
// proofs (gateway/api/evidence_pdf.h); `utpostctl audit verify FILE`
// verifies it. ReceiptsFromEvidencePdf reads those receipts back.
#ifndef UTPOST_CLI_EVIDENCE_COMMAND_H_
#define UTPOST_CLI_EVIDENCE_COMMAND_H_

#include <string>

#include "absl/status/statusor.h"
#include "cli/connection.h"
#include "cli/output.h"

namespace CLI {
class App;
}

namespace utpost::cli {

// Adds the "evidence" command to `app`, which must outlive this.
class EvidenceCommand {
 public:
  explicit EvidenceCommand(CLI::App& app);
  // True when the command line chose "evidence".
  bool Selected() const;
  // Fetches the document and writes it; the exit code (0 written, 1 refused
  // by the server, 2 bad usage or an unwritable file, 3 unreachable).
  int Run(const ConnectionOptions& c);

 private:
  CLI::App* command_ = nullptr;
  std::string id_, output_, language_ = "nb";
};

// True when `data` starts like a PDF file.
bool LooksLikePdf(const std::string& data);

// The receipt log export embedded in an evidence document ("receipts.jsonl").
// INVALID_ARGUMENT when `data` is no readable PDF or carries no such file.
absl::StatusOr<std::string> ReceiptsFromEvidencePdf(const std::string& data);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_EVIDENCE_COMMAND_H_
