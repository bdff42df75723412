#include "cli/output.h"

#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/util/json_util.h"

namespace utpost::cli {

int ExitCodeFor(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return kOk;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kUnreachable;
    default:
      return kRefused;
  }
}

int Report(const grpc::Status& s) {
  std::cerr << "utpostctl: "
            << absl::StatusCodeToString(
                   static_cast<absl::StatusCode>(s.error_code()))
            << ": " << s.error_message() << "\n";
  return ExitCodeFor(s);
}

void PrintJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  google::protobuf::util::MessageToJsonString(m, &json, o);
  std::cout << json << "\n";
}

}  // namespace utpost::cli
