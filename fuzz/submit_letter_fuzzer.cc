// SubmitLetter from the wire: the bytes as a utpost.v1.SubmitLetterRequest,
// validated, then its documents inspected as the gateway would.
#include <cstddef>
#include <cstdint>

#include "gateway/api/letter_validator.h"
#include "gateway/inspect/document_inspector.h"
#include "utpost/v1/letter.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  utpost::v1::SubmitLetterRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  utpost::api::ValidationLimits limits;
  if (!utpost::api::ValidateSubmitLetter(request, limits).ok()) return 0;
  utpost::inspect::InspectDocuments(utpost::api::InspectionFor(request, limits))
      .IgnoreError();
  return 0;
}
