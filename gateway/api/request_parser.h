// Parsing of request messages from the bytes a client sent, with precise
// errors.
//
// gRPC's own deserialisation fails a whole call with a generic error when a
// string field holds invalid UTF-8 (proto3 requires valid UTF-8). Parsed
// here instead, such a request gets INVALID_ARGUMENT naming the field.
#ifndef UTPOST_GATEWAY_API_REQUEST_PARSER_H_
#define UTPOST_GATEWAY_API_REQUEST_PARSER_H_

#include <string_view>

#include "absl/status/status.h"

namespace google::protobuf {
class Message;
}

namespace utpost::api {

// Parses `bytes` (protobuf wire format) into `message`. Fails
// INVALID_ARGUMENT with the path of the first string field that is not
// valid UTF-8, e.g. "documents[1].file_name: not valid UTF-8 (byte 7)", or
// "request: not a valid <type> message" for bytes that are not the message
// at all. `message` is unspecified after a failure. Thread-safe.
absl::Status ParseRequest(std::string_view bytes,
                          google::protobuf::Message* message);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_REQUEST_PARSER_H_
