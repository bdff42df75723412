#include "gateway/inspect/inspect_protocol.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace utpost::inspect {
namespace {

constexpr std::string_view kMagic = "UTPI2";
// Page counts a reply carries at most (documents per letter are fewer).
constexpr uint32_t kMaxPageCounts = 1000;

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutBytes(std::string* out, std::string_view bytes) {
  PutU64(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

// Reads from a payload, never past its end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool U32(uint32_t* v) {
    if (data_.size() < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      *v |= uint32_t{static_cast<unsigned char>(data_[i])} << (8 * i);
    }
    data_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (data_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) {
      *v |= uint64_t{static_cast<unsigned char>(data_[i])} << (8 * i);
    }
    data_.remove_prefix(8);
    return true;
  }
  bool Int(int* v) {
    uint32_t u;
    if (!U32(&u)) return false;
    *v = static_cast<int32_t>(u);
    return true;
  }
  bool Bytes(std::string* out) {
    uint64_t n;
    if (!U64(&n) || n > data_.size()) return false;
    out->assign(data_.data(), n);
    data_.remove_prefix(n);
    return true;
  }
  bool Magic(std::string_view magic) {
    if (data_.substr(0, magic.size()) != magic) return false;
    data_.remove_prefix(magic.size());
    return true;
  }
  bool AtEnd() const { return data_.empty(); }

 private:
  std::string_view data_;
};

}  // namespace

InspectionRequest DecodedRequest::AsInspection() const {
  InspectionRequest r;
  r.may_print = may_print;
  r.print = print;
  for (size_t i = 0; i < contents.size(); ++i) {
    r.documents.push_back({file_names[i], contents[i]});
  }
  return r;
}

std::string EncodeRequest(const InspectionRequest& request,
                          const DocumentLimits& limits) {
  size_t size = 64;
  for (const InspectedDocument& d : request.documents) {
    size += 16 + d.file_name.size() + d.content.size();
  }
  std::string out;
  out.reserve(size);
  out.append(kMagic.data(), kMagic.size());
  PutU32(&out, static_cast<uint32_t>(limits.max_pages));
  PutU32(&out, static_cast<uint32_t>(limits.max_page_tree_depth));
  PutU64(&out, static_cast<uint64_t>(limits.max_decoded_bytes));
  PutU32(&out, request.may_print ? 1 : 0);
  PutU32(&out, static_cast<uint32_t>(request.print.max_sheets));
  PutU32(&out, request.print.duplex ? 1 : 0);
  PutU32(&out, request.print.cover_page ? 1 : 0);
  PutU32(&out, static_cast<uint32_t>(request.print.max_problems));
  PutU32(&out, request.page_counts != nullptr ? 1 : 0);
  PutU32(&out, static_cast<uint32_t>(request.documents.size()));
  for (const InspectedDocument& d : request.documents) {
    PutBytes(&out, d.file_name);
    PutBytes(&out, d.content);
  }
  return out;
}

absl::StatusOr<DecodedRequest> DecodeRequest(std::string_view payload) {
  Reader in(payload);
  DecodedRequest r;
  uint32_t may_print, duplex, cover, count_pages, count;
  uint64_t decoded;
  if (!in.Magic(kMagic) || !in.Int(&r.limits.max_pages) ||
      !in.Int(&r.limits.max_page_tree_depth) || !in.U64(&decoded) ||
      !in.U32(&may_print) || !in.Int(&r.print.max_sheets) || !in.U32(&duplex) ||
      !in.U32(&cover) || !in.Int(&r.print.max_problems) ||
      !in.U32(&count_pages) || !in.U32(&count)) {
    return absl::InvalidArgumentError("malformed request header");
  }
  r.limits.max_decoded_bytes = static_cast<int64_t>(decoded);
  r.may_print = may_print != 0;
  r.print.duplex = duplex != 0;
  r.print.cover_page = cover != 0;
  r.count_pages = count_pages != 0;
  for (uint32_t i = 0; i < count; ++i) {
    std::string name, content;
    if (!in.Bytes(&name) || !in.Bytes(&content)) {
      return absl::InvalidArgumentError("malformed document");
    }
    r.file_names.push_back(std::move(name));
    r.contents.push_back(std::move(content));
  }
  if (!in.AtEnd()) return absl::InvalidArgumentError("trailing bytes");
  return r;
}

std::string EncodeReply(const absl::Status& status,
                        const std::vector<int>& page_counts) {
  std::string out;
  PutU32(&out, static_cast<uint32_t>(status.code()));
  std::string_view message(status.message().data(), status.message().size());
  const size_t room = kMaxReplyBytes - 4 - 8 - 4;
  if (message.size() > room) message = message.substr(0, room);
  PutBytes(&out, message);
  const bool counts = status.ok() && page_counts.size() <= kMaxPageCounts;
  PutU32(&out, counts ? static_cast<uint32_t>(page_counts.size()) : 0);
  if (counts) {
    for (int n : page_counts) PutU32(&out, static_cast<uint32_t>(n));
  }
  return out;
}

absl::StatusOr<absl::Status> DecodeReply(std::string_view payload,
                                         std::vector<int>* page_counts) {
  if (payload.size() > kMaxReplyBytes) {
    return absl::InternalError("reply too long");
  }
  Reader in(payload);
  uint32_t code, counts;
  std::string message;
  if (!in.U32(&code) || !in.Bytes(&message) || !in.U32(&counts) ||
      counts > kMaxPageCounts) {
    return absl::InternalError("malformed reply");
  }
  std::vector<int> pages;
  for (uint32_t i = 0; i < counts; ++i) {
    int n;
    if (!in.Int(&n) || n < 0) return absl::InternalError("malformed reply");
    pages.push_back(n);
  }
  if (!in.AtEnd()) return absl::InternalError("malformed reply");
  if (page_counts != nullptr) *page_counts = std::move(pages);
  if (code == static_cast<uint32_t>(absl::StatusCode::kOk)) {
    return absl::OkStatus();
  }
  if (code != static_cast<uint32_t>(absl::StatusCode::kInvalidArgument)) {
    return absl::InternalError("reply with an unexpected code");
  }
  return absl::InvalidArgumentError(message);
}

std::string FrameHeader(uint32_t size) {
  std::string out;
  PutU32(&out, size);
  return out;
}

uint32_t FrameLength(const unsigned char header[4]) {
  return uint32_t{header[0]} | uint32_t{header[1]} << 8 |
         uint32_t{header[2]} << 16 | uint32_t{header[3]} << 24;
}

}  // namespace utpost::inspect
