#include "gateway/inspect/document_inspector.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/mask.h"
#include "gateway/inspect/pdf_check.h"

namespace utpost::inspect {
namespace {

class InProcessInspector final : public DocumentInspector {
 public:
  void Inspect(const InspectionRequest& request,
               std::function<void(absl::Status)> done) override {
    done(InspectDocuments(request));
  }
};

}  // namespace

absl::Status InspectDocuments(const InspectionRequest& request) {
  for (size_t i = 0; i < request.documents.size(); ++i) {
    if (absl::Status s = CheckPdf(request.documents[i].content); !s.ok()) {
      // What the parser quotes from the document may hold a person number.
      return absl::InvalidArgumentError(
          absl::StrCat("documents[", i, "].content: not a PDF: ",
                       MaskPersonNumbersIn(std::string_view(
                           s.message().data(), s.message().size()))));
    }
  }
  if (!request.may_print) return absl::OkStatus();
  std::vector<PrintableDocument> documents;
  documents.reserve(request.documents.size());
  for (const InspectedDocument& doc : request.documents) {
    documents.push_back({doc.file_name, doc.content});
  }
  return CheckPrintable(documents, request.print);
}

std::unique_ptr<DocumentInspector> NewInProcessInspector() {
  return std::make_unique<InProcessInspector>();
}

}  // namespace utpost::inspect
