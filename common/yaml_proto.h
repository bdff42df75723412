// Reads a protobuf message from YAML (or JSON, a subset of YAML), with the
// field names of the .proto file. Used for the daemon's configuration and
// for the letter files utpostctl submits.
#ifndef UTPOST_COMMON_YAML_PROTO_H_
#define UTPOST_COMMON_YAML_PROTO_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace utpost {

// INVALID_ARGUMENT with the parser's message for bad YAML, an unknown field
// or a value of the wrong type. `what` prefixes the message ("config").
absl::Status YamlToProto(const std::string& yaml, const std::string& what,
                         google::protobuf::Message* message);

}  // namespace utpost

#endif  // UTPOST_COMMON_YAML_PROTO_H_
