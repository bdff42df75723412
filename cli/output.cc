#include "cli/output.h"

#include <unistd.h>

#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "cli/tls_probe.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace utpost::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using Json = nlohmann::ordered_json;

bool Is64BitInteger(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT64:
      return true;
    default:
      return false;
  }
}

void Unquote64(const FieldDescriptor* f, Json& v) {
  if (!v.is_string()) return;
  const std::string text = v.get<std::string>();
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
    int64_t n;
    if (absl::SimpleAtoi(text, &n)) v = n;
  } else {
    uint64_t n;
    if (absl::SimpleAtoi(text, &n)) v = n;
  }
}

void FixNumbers(const Descriptor* d, Json& object);

// One value of field `f` (an element, for a repeated field).
void FixValue(const FieldDescriptor* f, Json& v) {
  if (Is64BitInteger(f)) {
    Unquote64(f, v);
  } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Descriptor* m = f->message_type();
    const std::string& name = m->full_name();
    if (name == "google.protobuf.Int64Value" ||
        name == "google.protobuf.UInt64Value") {
      Unquote64(m->FindFieldByName("value"), v);
    } else if (!absl::StartsWith(name, "google.protobuf.") && v.is_object()) {
      // Well-known types (Timestamp, Duration...) print as strings; leave
      // them.
      FixNumbers(m, v);
    }
  }
}

void FixNumbers(const Descriptor* d, Json& object) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    auto it = object.find(f->name());
    if (it == object.end()) continue;
    if (f->is_map()) {
      const FieldDescriptor* value = f->message_type()->map_value();
      for (auto& [key, v] : it->items()) {
        (void)key;
        FixValue(value, v);
      }
    } else if (f->is_repeated()) {
      for (auto& v : *it) FixValue(f, v);
    } else {
      FixValue(f, *it);
    }
  }
}

std::string Mentions(const std::string& message) {
  return absl::AsciiStrToLower(message);
}

}  // namespace

TransportFailure ClassifyTransportFailure(const grpc::Status& s) {
  if (s.error_code() != grpc::StatusCode::UNAVAILABLE) {
    return TransportFailure::kNone;
  }
  const std::string m = Mentions(s.error_message());
  // BoringSSL/OpenSSL alerts the server sends when it refuses our
  // certificate, or sends none at all (TLS 1.3 tells the client only at
  // its first read).
  for (const char* alert :
       {"alert_certificate_required", "alert_unknown_ca",
        "alert_bad_certificate", "alert_certificate_unknown",
        "alert_certificate_expired", "alert_certificate_revoked",
        "alert_unsupported_certificate", "alert_access_denied",
        "alert_handshake_failure", "tlsv13 alert", "tlsv1 alert",
        "sslv3 alert"}) {
    if (absl::StrContains(m, alert)) {
      return TransportFailure::kClientCertificateRefused;
    }
  }
  if (absl::StrContains(m, "certificate verify failed") ||
      absl::StrContains(m, "certificate_verify_failed") ||
      absl::StrContains(m, "peer name") || absl::StrContains(m, "hostname")) {
    return TransportFailure::kServerCertificateRejected;
  }
  if (absl::StrContains(m, "handshake")) {
    return TransportFailure::kHandshakeFailed;
  }
  return TransportFailure::kNone;
}

int ExitCodeFor(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return kOk;
    case grpc::StatusCode::UNAVAILABLE:
      return ClassifyTransportFailure(s) == TransportFailure::kNone
                 ? kUnreachable
                 : kRefused;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kUnreachable;
    default:
      return kRefused;
  }
}

int Report(const grpc::Status& s, const ConnectionOptions& c) {
  TransportFailure failure = ClassifyTransportFailure(s);
  std::string detail = s.error_message();
  if (failure == TransportFailure::kNone &&
      s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // A certificate refused after a TLS 1.3 handshake reaches gRPC as a
    // closed socket; ask the server ourselves before saying "unreachable".
    const TlsProbeResult probe = ProbeTls(c);
    if (probe.verdict == TlsProbeResult::kClientCertRefused) {
      failure = TransportFailure::kClientCertificateRefused;
      detail = probe.detail;
    } else if (probe.verdict == TlsProbeResult::kServerCertUntrusted) {
      failure = TransportFailure::kServerCertificateRejected;
      detail = probe.detail;
    }
  }
  switch (failure) {
    case TransportFailure::kClientCertificateRefused:
      std::cerr << "utpostctl: TLS handshake refused by " << c.server
                << ": the server did not accept the client certificate "
                << c.cert_file
                << ".\n  Check that it is signed by the CA utpostd trusts "
                   "(its tls.client_ca_file), has not expired, is meant for "
                   "client authentication, and that --key "
                << c.key_file << " is its key.\n  (" << detail << ")\n";
      return kRefused;
    case TransportFailure::kServerCertificateRejected:
      std::cerr << "utpostctl: TLS handshake failed with " << c.server
                << ": its server certificate is not trusted by --ca "
                << c.ca_file
                << ".\n  Check that --ca is the CA that signed utpostd's "
                   "certificate and that --server names a host in it.\n  ("
                << detail << ")\n";
      return kRefused;
    case TransportFailure::kHandshakeFailed:
      std::cerr << "utpostctl: TLS handshake with " << c.server
                << " failed (client certificate " << c.cert_file << ", CA "
                << c.ca_file << "): " << detail << "\n";
      return kRefused;
    case TransportFailure::kNone:
      break;
  }
  std::cerr << "utpostctl: "
            << absl::StatusCodeToString(
                   static_cast<absl::StatusCode>(s.error_code()))
            << ": " << s.error_message() << "\n";
  return ExitCodeFor(s);
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(m, &json, o).ok()) {
    return "{}";
  }
  Json parsed = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return json;
  FixNumbers(m.GetDescriptor(), parsed);
  return parsed.dump();
}

bool IsTerminal(StandardStream stream) { return isatty(stream) == 1; }

void PrintJson(const google::protobuf::Message& m) {
  std::cout << ToJson(m) << "\n";
}

}  // namespace utpost::cli
