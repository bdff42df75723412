#include "common/yaml_proto.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace utpost {
namespace {

// YAML scalars carry no type. Protobuf's JSON parser takes numbers given
// as strings for numeric fields, so only booleans and plain integers need
// their JSON form; everything else goes on as a string.
nlohmann::json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node) {
        out[kv.first.as<std::string>()] = YamlToJson(kv.second);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(YamlToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() != "!") {  // Not quoted: may be a bool or a number.
        if (s == "true" || s == "false") return s == "true";
        char* end = nullptr;
        long long v = std::strtoll(s.c_str(), &end, 10);
        // Leading zeros mean an identifier ("0123"), not a number.
        if (!s.empty() && *end == '\0' && (s.size() == 1 || s[0] != '0')) {
          return v;
        }
      }
      return s;
    }
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
    json = root.IsNull() ? nlohmann::json::object() : YamlToJson(root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", e.what()));
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json.dump(),
                                                            message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", std::string(status.message())));
  }
  return absl::OkStatus();
}

}  // namespace utpost
