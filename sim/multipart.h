// A small MIME multipart reader for the simulator's Digipost endpoint
// (multipart/vnd.digipost-v8+xml is not form data, so the HTTP server
// leaves the body alone).
#ifndef UTPOST_SIM_MULTIPART_H_
#define UTPOST_SIM_MULTIPART_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace utpost::sim {

struct MimePart {
  // Header names in lower case.
  std::map<std::string, std::string> headers;
  std::string body;
};

// The `boundary` parameter of a Content-Type value (quotes removed), or ""
// when it has none.
std::string BoundaryOf(std::string_view content_type);

// The `filename` parameter of a Content-Disposition value, or "".
std::string FilenameOf(std::string_view content_disposition);

// Splits `body` into its parts. INVALID_ARGUMENT when the first delimiter
// or the closing delimiter is missing or a part has no header block.
absl::StatusOr<std::vector<MimePart>> ParseMultipart(std::string_view body,
                                                     std::string_view boundary);

}  // namespace utpost::sim

#endif  // UTPOST_SIM_MULTIPART_H_
