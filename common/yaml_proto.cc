#include "common/yaml_proto.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace utpost {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// Protobuf's JSON form of a message whose JSON is a string (durations,
// timestamps, field masks) rather than an object.
bool IsStringLikeMessage(const Descriptor* d) {
  const std::string& n = d->full_name();
  return n == "google.protobuf.Duration" || n == "google.protobuf.Timestamp" ||
         n == "google.protobuf.FieldMask";
}

// Every scalar goes on as a string, which protobuf's JSON parser takes for
// numbers, enum names and string-like messages alike, except booleans: YAML
// reads `postal_code: 5003` as a number, but the field is text.
nlohmann::json ScalarToJson(const YAML::Node& node, const FieldDescriptor* f) {
  const std::string& s = node.Scalar();
  if (f != nullptr && f->cpp_type() == FieldDescriptor::CPPTYPE_BOOL &&
      (s == "true" || s == "false")) {
    return s == "true";
  }
  return s;
}

// Turns YAML into protobuf's JSON form, guided by the message's schema so
// that every scalar gets the JSON type its field needs.
nlohmann::json YamlToJson(const YAML::Node& node, const Descriptor* d,
                          const FieldDescriptor* field);

nlohmann::json ValueToJson(const YAML::Node& node, const FieldDescriptor* f) {
  const Descriptor* sub = nullptr;
  if (f != nullptr && f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
      !IsStringLikeMessage(f->message_type())) {
    sub = f->message_type();
  }
  return YamlToJson(node, sub, f);
}

nlohmann::json YamlToJson(const YAML::Node& node, const Descriptor* d,
                          const FieldDescriptor* field) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node) {
        const std::string key = kv.first.as<std::string>();
        const FieldDescriptor* f = nullptr;
        if (d != nullptr) {
          f = d->FindFieldByName(key);
          if (f == nullptr) f = d->FindFieldByCamelcaseName(key);
        }
        out[key] = ValueToJson(kv.second, f);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(YamlToJson(item, d, field));
      return out;
    }
    case YAML::NodeType::Scalar:
      return ScalarToJson(node, field);
    default:
      return nullptr;
  }
}

}  // namespace

absl::Status YamlToProto(const std::string& yaml, const std::string& what,
                         google::protobuf::Message* message) {
  nlohmann::json json;
  try {
    YAML::Node root = YAML::Load(yaml);
    json = root.IsNull() ? nlohmann::json::object()
                         : YamlToJson(root, message->GetDescriptor(), nullptr);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", e.what()));
  }
  // YAML text may hold bytes that are not UTF-8 (a latin-1 file, or an
  // escape such as "\uD800"); JSON cannot, and the library throws on them.
  std::string text;
  try {
    text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": text that is not valid UTF-8"));
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status =
      google::protobuf::util::JsonStringToMessage(text, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", std::string(status.message())));
  }
  return absl::OkStatus();
}

}  // namespace utpost
