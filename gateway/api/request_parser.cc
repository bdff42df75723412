#include "gateway/api/request_parser.h"

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/text.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/message.h"
#include "google/protobuf/wire_format_lite.h"

namespace utpost::api {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::internal::WireFormatLite;
using ::google::protobuf::io::CodedInputStream;

// As deep as protobuf's own parser goes by default.
constexpr int kMaxDepth = 100;

class Utf8Walker {
 public:
  // `in` reads `bytes` from its start.
  Utf8Walker(std::string_view bytes, CodedInputStream* in)
      : bytes_(bytes), in_(in) {}

  // OK, INVALID_ARGUMENT for a string that is not UTF-8, or DATA_LOSS for
  // bytes that are not a message (the caller words that one).
  absl::Status Walk(const Descriptor* type, const std::string& prefix,
                    int depth) {
    if (depth > kMaxDepth) return absl::DataLossError("too deep");
    absl::flat_hash_map<int, int> seen;  // Occurrences per repeated field.
    while (true) {
      const uint32_t tag = in_->ReadTag();
      if (tag == 0) return absl::OkStatus();
      const int number = WireFormatLite::GetTagFieldNumber(tag);
      const auto wire = WireFormatLite::GetTagWireType(tag);
      const FieldDescriptor* field = type->FindFieldByNumber(number);
      const bool delimited = wire == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
      if (field == nullptr || !delimited ||
          (field->type() != FieldDescriptor::TYPE_STRING &&
           field->type() != FieldDescriptor::TYPE_MESSAGE)) {
        if (!WireFormatLite::SkipField(in_, tag)) {
          return absl::DataLossError("malformed field");
        }
        continue;
      }
      std::string path = prefix.empty()
                             ? field->name()
                             : absl::StrCat(prefix, ".", field->name());
      if (field->is_repeated())
        absl::StrAppend(&path, "[", seen[number]++, "]");
      uint32_t length = 0;
      if (!in_->ReadVarint32(&length)) {
        return absl::DataLossError("malformed length");
      }
      if (field->type() == FieldDescriptor::TYPE_STRING) {
        // Looked at where it lies in the request, not copied.
        const int at = in_->CurrentPosition();
        if (!in_->Skip(static_cast<int>(length))) {
          return absl::DataLossError("truncated string");
        }
        const std::string_view text = bytes_.substr(at, length);
        if (const size_t valid = ValidUtf8Prefix(text); valid != text.size()) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": not valid UTF-8 (at byte ", valid + 1, ")"));
        }
        continue;
      }
      const CodedInputStream::Limit limit =
          in_->PushLimit(static_cast<int>(length));
      absl::Status inner = Walk(field->message_type(), path, depth + 1);
      if (!inner.ok()) return inner;
      if (!in_->ConsumedEntireMessage() || in_->BytesUntilLimit() != 0) {
        return absl::DataLossError("malformed nested message");
      }
      in_->PopLimit(limit);
    }
  }

 private:
  const std::string_view bytes_;
  CodedInputStream* const in_;
};

}  // namespace

absl::Status ParseRequest(std::string_view bytes,
                          google::protobuf::Message* message) {
  const Descriptor* type = message->GetDescriptor();
  const absl::Status malformed = absl::InvalidArgumentError(
      absl::StrCat("request: not a valid ", type->name(), " message"));
  {
    CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                        static_cast<int>(bytes.size()));
    in.SetRecursionLimit(kMaxDepth);
    absl::Status walked = Utf8Walker(bytes, &in).Walk(type, "", 0);
    if (absl::IsInvalidArgument(walked)) return walked;
    if (!walked.ok() || !in.ConsumedEntireMessage()) return malformed;
  }
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return malformed;
  }
  return absl::OkStatus();
}

}  // namespace utpost::api
