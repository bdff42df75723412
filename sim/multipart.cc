#include "sim/multipart.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace utpost::sim {
namespace {

// The value of parameter `name` in a header value such as
// `attachment; filename="x"` or `multipart/x; boundary=y`.
std::string Parameter(absl::string_view value, absl::string_view name) {
  for (absl::string_view piece : absl::StrSplit(value, ';')) {
    piece = absl::StripAsciiWhitespace(piece);
    size_t eq = piece.find('=');
    if (eq == absl::string_view::npos) continue;
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(piece.substr(0, eq)),
                                name)) {
      continue;
    }
    absl::string_view v = absl::StripAsciiWhitespace(piece.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
      v = v.substr(1, v.size() - 2);
    }
    return std::string(v);
  }
  return "";
}

}  // namespace

std::string BoundaryOf(std::string_view content_type) {
  return Parameter({content_type.data(), content_type.size()}, "boundary");
}

std::string FilenameOf(std::string_view content_disposition) {
  return Parameter({content_disposition.data(), content_disposition.size()},
                   "filename");
}

absl::StatusOr<std::vector<MimePart>> ParseMultipart(
    std::string_view body_in, std::string_view boundary_in) {
  absl::string_view body(body_in.data(), body_in.size());
  absl::string_view boundary(boundary_in.data(), boundary_in.size());
  if (boundary.empty()) {
    return absl::InvalidArgumentError("multipart without boundary");
  }
  const std::string delimiter = absl::StrCat("--", boundary);
  const std::string inner = absl::StrCat("\r\n", delimiter);
  size_t pos;
  if (absl::StartsWith(body, delimiter)) {
    pos = delimiter.size();
  } else {
    // Anything before the first delimiter is a preamble, ignored.
    pos = body.find(inner);
    if (pos == absl::string_view::npos) {
      return absl::InvalidArgumentError("multipart: no delimiter");
    }
    pos += inner.size();
  }
  std::vector<MimePart> parts;
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // Closing delimiter.
    size_t line_end = body.find("\r\n", pos);
    if (line_end == absl::string_view::npos) {
      return absl::InvalidArgumentError("multipart: truncated");
    }
    size_t headers_start = line_end + 2;
    MimePart part;
    size_t headers_end;
    if (body.substr(headers_start, 2) == "\r\n") {
      headers_end = headers_start;  // No headers at all.
    } else {
      headers_end = body.find("\r\n\r\n", headers_start);
      if (headers_end == absl::string_view::npos) {
        return absl::InvalidArgumentError("multipart: part without headers");
      }
      for (absl::string_view line : absl::StrSplit(
               body.substr(headers_start, headers_end - headers_start),
               "\r\n")) {
        size_t colon = line.find(':');
        if (colon == absl::string_view::npos) continue;
        part.headers[absl::AsciiStrToLower(
            absl::StripAsciiWhitespace(line.substr(0, colon)))] =
            std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      }
    }
    size_t content_start = headers_end + (headers_end == headers_start ? 2 : 4);
    size_t content_end = body.find(inner, content_start);
    if (content_end == absl::string_view::npos) {
      return absl::InvalidArgumentError("multipart: no closing delimiter");
    }
    part.body =
        std::string(body.substr(content_start, content_end - content_start));
    parts.push_back(std::move(part));
    pos = content_end + inner.size();
  }
}

}  // namespace utpost::sim
