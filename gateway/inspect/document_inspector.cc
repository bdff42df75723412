#include "gateway/inspect/document_inspector.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/mask.h"
#include "gateway/inspect/pdf_check.h"

namespace utpost::inspect {
namespace {

class InProcessInspector final : public DocumentInspector {
 public:
  explicit InProcessInspector(DocumentLimits limits) : limits_(limits) {}
  void Inspect(const InspectionRequest& request,
               std::function<void(absl::Status)> done) override {
    done(InspectDocuments(request, limits_));
  }

 private:
  const DocumentLimits limits_;
};

std::string Masked(const absl::Status& s) {
  return MaskPersonNumbersIn(
      std::string_view(s.message().data(), s.message().size()));
}

}  // namespace

absl::Status InspectDocuments(const InspectionRequest& request,
                              const DocumentLimits& limits) {
  int64_t decoded_budget = limits.max_decoded_bytes;
  std::vector<int> page_counts(request.documents.size(), 0);
  for (size_t i = 0; i < request.documents.size(); ++i) {
    // The policy first: it bounds the page tree before CheckPdf walks it.
    if (absl::Status s = CheckDocumentPolicy(request.documents[i].content,
                                             limits, &decoded_budget);
        !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("documents[", i, "].content: ", Masked(s)));
    }
    if (absl::Status s =
            CheckPdf(request.documents[i].content, &page_counts[i]);
        !s.ok()) {
      // What the parser quotes from the document may hold a person number.
      return absl::InvalidArgumentError(
          absl::StrCat("documents[", i, "].content: not a PDF: ",
                       MaskPersonNumbersIn(std::string_view(
                           s.message().data(), s.message().size()))));
    }
  }
  if (request.may_print) {
    std::vector<PrintableDocument> documents;
    documents.reserve(request.documents.size());
    for (const InspectedDocument& doc : request.documents) {
      documents.push_back({doc.file_name, doc.content});
    }
    if (absl::Status s = CheckPrintable(documents, request.print); !s.ok()) {
      return s;
    }
  }
  // As CheckPdf counted them: no second parse.
  if (request.page_counts != nullptr) {
    *request.page_counts = std::move(page_counts);
  }
  return absl::OkStatus();
}

std::unique_ptr<DocumentInspector> NewInProcessInspector(
    DocumentLimits limits) {
  return std::make_unique<InProcessInspector>(limits);
}

}  // namespace utpost::inspect
