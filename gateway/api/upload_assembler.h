// The messages of one UploadDocument stream (utpost.v1.LetterService), as
// they come: the header first and once, chunks no larger in all than it
// announced, a PDF; and at the end, the whole checked against the header's
// size and SHA-256. No gRPC and no store here, so that it is fuzzed alone
// (fuzz/upload_fuzzer.cc); document_upload.h runs it on a stream.
#ifndef UTPOST_GATEWAY_API_UPLOAD_ASSEMBLER_H_
#define UTPOST_GATEWAY_API_UPLOAD_ASSEMBLER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {

// A document that arrived whole and as announced: a PDF (kPdfMediaType).
struct AssembledUpload {
  std::string sha256_hex;
  std::string content;
};

// Not thread-safe.
class UploadAssembler {
 public:
  // Documents of at most `max_bytes`.
  explicit UploadAssembler(int64_t max_bytes) : max_bytes_(max_bytes) {}

  // One message: OK, or INVALID_ARGUMENT naming the field (the upload is
  // then over).
  absl::Status Take(v1::UploadDocumentRequest message);
  bool has_header() const { return has_header_; }
  // After the last message: the document, or INVALID_ARGUMENT when it is
  // not whole or not what the header said. Once.
  absl::StatusOr<AssembledUpload> Finish();

 private:
  int64_t max_bytes_;
  bool has_header_ = false;
  v1::UploadHeader header_;
  std::string content_;
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_UPLOAD_ASSEMBLER_H_
