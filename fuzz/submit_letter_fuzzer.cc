// SubmitLetter from the wire: the bytes as a utpost.v1.SubmitLetterRequest,
// validated, then its documents inspected as the gateway would.
#include <cstddef>
#include <cstdint>

#include "fuzz/scripted_http.h"
#include "gateway/api/letter_validator.h"
#include "gateway/inspect/document_inspector.h"
#include "google/protobuf/stubs/logging.h"
#include "utpost/v1/letter.pb.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The parser's complaints about strings that are not UTF-8 would drown
  // the fuzzer's own output.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  utpost::v1::SubmitLetterRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  utpost::api::ValidationLimits limits;
  absl::Status valid = utpost::api::ValidateSubmitLetter(request, limits);
  utpost::fuzz::Note("validate", valid);
  if (!valid.ok()) return 0;
  utpost::fuzz::Note("inspect",
                     utpost::inspect::InspectDocuments(
                         utpost::api::InspectionFor(request, limits)));
  return 0;
}
