// The frames between SandboxedInspector and its utpost-inspect workers.
//
// A frame is a 4-byte little-endian length followed by that many bytes.
// The parent writes a request frame, the worker answers with a reply frame;
// a worker may be given further requests, one at a time, and exits when
// its socket is closed between them. Integers are little-endian; strings are a
// length and the bytes. Request: "UTPI2", the DocumentLimits, may_print, the
// PrintabilityOptions, whether to count pages, the number of documents and
// each document's file name and content. Reply: the status code (only OK or
// INVALID_ARGUMENT are valid), the message, and the number of page counts
// followed by each (one per document when asked for and OK, else none). Both
// sides bound the frame size before reading it and parse nothing beyond it.
#ifndef UTPOST_GATEWAY_INSPECT_INSPECT_PROTOCOL_H_
#define UTPOST_GATEWAY_INSPECT_INSPECT_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/inspect/document_inspector.h"
#include "gateway/inspect/document_policy.h"

namespace utpost::inspect {

// A reply frame's payload is at most this long (the message is cut).
inline constexpr size_t kMaxReplyBytes = 64 * 1024;

// The request as the worker reads it: owns its bytes.
struct DecodedRequest {
  DocumentLimits limits;
  bool may_print = false;
  PrintabilityOptions print;
  // The parent asked for each document's page count.
  bool count_pages = false;
  std::vector<std::string> file_names;
  std::vector<std::string> contents;
  // Views into the vectors above.
  InspectionRequest AsInspection() const;
};

// The request frame's payload (without the length prefix).
std::string EncodeRequest(const InspectionRequest& request,
                          const DocumentLimits& limits);
// Fails INVALID_ARGUMENT on anything malformed or trailing.
absl::StatusOr<DecodedRequest> DecodeRequest(std::string_view payload);

// The reply frame's payload: the code, the message (cut to fit) and, for
// OK, `page_counts`.
std::string EncodeReply(const absl::Status& status,
                        const std::vector<int>& page_counts = {});
// Fails INTERNAL on anything malformed; the code must be OK or
// INVALID_ARGUMENT. `page_counts`, when given, gets the reply's counts.
absl::StatusOr<absl::Status> DecodeReply(
    std::string_view payload, std::vector<int>* page_counts = nullptr);

// The 4-byte length prefix of a payload of `size` bytes.
std::string FrameHeader(uint32_t size);
// The length in a 4-byte prefix.
uint32_t FrameLength(const unsigned char header[4]);

}  // namespace utpost::inspect

#endif  // UTPOST_GATEWAY_INSPECT_INSPECT_PROTOCOL_H_
