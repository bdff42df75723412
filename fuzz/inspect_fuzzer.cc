// Document inspection alone: the bytes as the one document of a letter that
// may go to print.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/scripted_http.h"
#include "gateway/inspect/document_inspector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  utpost::inspect::InspectionRequest request;
  request.documents.push_back(
      {"document.pdf",
       std::string_view(reinterpret_cast<const char*>(data), size)});
  request.may_print = true;
  utpost::fuzz::Note("inspect", utpost::inspect::InspectDocuments(request));
  return 0;
}
