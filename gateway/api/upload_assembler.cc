#include "gateway/api/upload_assembler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "gateway/api/letter_validator.h"

namespace utpost::api {
namespace {

constexpr char kPdfMagic[] = "%PDF-";
constexpr size_t kPdfMagicSize = sizeof(kPdfMagic) - 1;

}  // namespace

absl::Status UploadAssembler::Take(v1::UploadDocumentRequest message) {
  switch (message.part_case()) {
    case v1::UploadDocumentRequest::kHeader: {
      if (has_header_) return InvalidField("header", "sent twice");
      const v1::UploadHeader& h = message.header();
      if (!h.media_type().empty() &&
          !absl::EqualsIgnoreCase(h.media_type(), kPdfMediaType)) {
        return InvalidField("header.media_type",
                            absl::StrCat("must be ", kPdfMediaType));
      }
      if (h.size_bytes() < 1 || h.size_bytes() > max_bytes_) {
        return InvalidField(
            "header.size_bytes",
            absl::StrCat("must be 1..", max_bytes_, ", got ", h.size_bytes()));
      }
      if (!IsSha256Hex(h.sha256())) {
        return InvalidField("header.sha256",
                            "expected 64 lowercase hex digits (a SHA-256)");
      }
      header_ = h;
      has_header_ = true;
      // Memory follows what arrives, not what is announced.
      content_.reserve(static_cast<size_t>(
          std::min<int64_t>(h.size_bytes(), int64_t{4} << 20)));
      return absl::OkStatus();
    }
    case v1::UploadDocumentRequest::kChunk: {
      if (!has_header_)
        return InvalidField("chunk", "the header must come first");
      const std::string& chunk = message.chunk();
      const int64_t after =
          static_cast<int64_t>(content_.size() + chunk.size());
      if (after > header_.size_bytes()) {
        return InvalidField("chunk",
                            absl::StrCat("more than the ", header_.size_bytes(),
                                         " bytes the header announced"));
      }
      const bool had_magic = content_.size() >= kPdfMagicSize;
      content_.append(chunk);
      if (!had_magic && content_.size() >= kPdfMagicSize &&
          content_.compare(0, kPdfMagicSize, kPdfMagic) != 0) {
        return InvalidField("chunk", "not a PDF (a PDF starts with %PDF-)");
      }
      return absl::OkStatus();
    }
    case v1::UploadDocumentRequest::PART_NOT_SET:
      break;
  }
  return InvalidField("part", "a header or a chunk is required");
}

absl::StatusOr<AssembledUpload> UploadAssembler::Finish() {
  if (!has_header_) return InvalidField("header", "required");
  const int64_t size = static_cast<int64_t>(content_.size());
  if (size != header_.size_bytes()) {
    return InvalidField("chunk", absl::StrCat(size,
                                              " bytes arrived, the header "
                                              "announced ",
                                              header_.size_bytes()));
  }
  if (content_.compare(0, kPdfMagicSize, kPdfMagic) != 0) {
    return InvalidField("chunk", "not a PDF (a PDF starts with %PDF-)");
  }
  const std::string digest = Sha256Hex(content_);
  if (digest != header_.sha256()) {
    return InvalidField(
        "header.sha256",
        absl::StrCat("the document that arrived has SHA-256 ", digest));
  }
  AssembledUpload u;
  u.sha256_hex = digest;
  u.content = std::move(content_);
  content_.clear();
  return u;
}

}  // namespace utpost::api
