#include "cli/connection.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace utpost::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

void Fill(std::string& value, const char* env, const char* fallback) {
  if (!value.empty()) return;
  value = Env(env);
  if (value.empty()) value = fallback;
}

absl::StatusOr<std::string> Read(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", what, " ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<ConnectionOptions> ResolveConnection(ConnectionOptions o) {
  Fill(o.server, "UTPOST_SERVER", "127.0.0.1:7443");
  Fill(o.ca_file, "UTPOST_CA", "certs-dev/ca.pem");
  if (o.cert_file.empty() != o.key_file.empty()) {
    return absl::InvalidArgumentError(
        o.cert_file.empty()
            ? "--key needs --cert: give the client certificate and its key "
              "together"
            : "--cert needs --key: give the client certificate and its key "
              "together");
  }
  if (o.cert_file.empty()) {
    o.cert_file = Env("UTPOST_CERT");
    o.key_file = Env("UTPOST_KEY");
    if (o.cert_file.empty() != o.key_file.empty()) {
      return absl::InvalidArgumentError(
          o.cert_file.empty()
              ? "UTPOST_KEY is set but UTPOST_CERT is not: set both or neither"
              : "UTPOST_CERT is set but UTPOST_KEY is not: set both or "
                "neither");
    }
    if (o.cert_file.empty()) {
      o.cert_file = "certs-dev/tenant-964338531.pem";
      o.key_file = "certs-dev/tenant-964338531.key";
    }
  }
  return o;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const ConnectionOptions& o) {
  grpc::SslCredentialsOptions tls;
  auto ca = Read(o.ca_file, "CA file (--ca)");
  if (!ca.ok()) return ca.status();
  auto cert = Read(o.cert_file, "certificate (--cert)");
  if (!cert.ok()) return cert.status();
  auto key = Read(o.key_file, "key (--key)");
  if (!key.ok()) return key.status();
  tls.pem_root_certs = *ca;
  tls.pem_cert_chain = *cert;
  tls.pem_private_key = *key;
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(o.server, grpc::SslCredentials(tls), args);
}

}  // namespace utpost::cli
