// Inspection of a tenant's documents before a letter is accepted: whether
// each is a PDF that Utpost takes and, for a letter that may go to print,
// whether the print provider can print it.
//
// A tenant's document is untrusted input that a PDF library has to parse.
// The gateway is shared by many tenants, so the parsing must not be able to
// crash, stall or bloat the serving process: production inspectors run the
// checks in isolated, resource-limited worker processes. The in-process
// inspector below is for tests and tools that open their own files.
#ifndef UTPOST_GATEWAY_INSPECT_DOCUMENT_INSPECTOR_H_
#define UTPOST_GATEWAY_INSPECT_DOCUMENT_INSPECTOR_H_

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gateway/inspect/document_policy.h"
#include "gateway/inspect/printability.h"

namespace utpost::inspect {

// One document of a letter, in the letter's order (documents[0] is the main
// document). The views are not owned: they stay valid until `done` runs.
struct InspectedDocument {
  std::string_view file_name;
  std::string_view content;
};

struct InspectionRequest {
  std::vector<InspectedDocument> documents;
  // The letter's delivery policy allows print: the documents must also pass
  // CheckPrintable with `print`.
  bool may_print = false;
  PrintabilityOptions print;
  // Not owned. When set, filled with each document's page count (in the
  // letter's order) before `done` runs with OK; left unspecified after a
  // failure. For a preflight's sheet count (SheetsFor in printability.h).
  std::vector<int>* page_counts = nullptr;
  // Letters with the same non-empty key may be inspected one after another
  // by the same isolated worker (the api gives the tenant): a worker never
  // sees letters of two keys. Empty: a worker of its own.
  std::string_view reuse_key;
  // A letter of a bulk stream (SubmitBatch), which bounds how many of its
  // letters wait: it waits for the sandbox in its key's own queue instead
  // of being refused when the sandbox is busy (see sandboxed_inspector.h).
  bool wait_when_busy = false;
};

// Checks the documents of one letter. Implementations are thread-safe.
class DocumentInspector {
 public:
  virtual ~DocumentInspector() = default;

  // Calls `done` exactly once, on any thread (perhaps before Inspect
  // returns), with OK or INVALID_ARGUMENT whose message starts with the
  // field path, e.g.
  //   "documents[1].content: not a PDF: does not start with %PDF-"
  //   "documents: not printable: documents[0] (a.pdf) page 2: ..."
  // Messages never contain a full person number.
  virtual void Inspect(const InspectionRequest& request,
                       std::function<void(absl::Status)> done) = 0;
};

// The checks themselves, on the calling thread: for every document
// CheckDocumentPolicy (document_policy.h, whatever the delivery policy),
// then CheckPdf; then CheckPrintable when the letter may be printed. The
// first document that fails ends the inspection:
//   "documents[0].content: not accepted: contains JavaScript"
//   "documents[1].content: not a PDF: does not start with %PDF-"
// CheckPrintable lists every problem of the letter. The form XObjects of a
// document are parsed once each, so the time is linear in the document.
// When request.page_counts is set and the letter passes, it holds each
// document's page count.
absl::Status InspectDocuments(const InspectionRequest& request,
                              const DocumentLimits& limits = DocumentLimits());

// An inspector that runs InspectDocuments on the calling thread, in this
// process. For tests and for tools that check their own files; a daemon
// that serves tenants uses an isolated one (sandboxed_inspector.h).
std::unique_ptr<DocumentInspector> NewInProcessInspector(
    DocumentLimits limits = DocumentLimits());

}  // namespace utpost::inspect

#endif  // UTPOST_GATEWAY_INSPECT_DOCUMENT_INSPECTOR_H_
