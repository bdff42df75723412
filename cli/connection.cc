#include "cli/connection.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

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

// The settings of a config file; paths are made relative to its folder.
absl::StatusOr<ConnectionOptions> ReadConfigFile(const std::string& path,
                                                 bool must_exist) {
  ConnectionOptions file;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!must_exist) return file;
    return absl::InvalidArgumentError(
        absl::StrCat("--config: cannot read ", path));
  }
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  auto resolve = [&base](const std::string& p) {
    if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
    return (base / p).string();
  };
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (root.IsNull()) return file;
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": expected a map of settings"));
    }
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      if (key == "server") {
        file.server = kv.second.as<std::string>();
      } else if (key == "ca") {
        file.ca_file = resolve(kv.second.as<std::string>());
      } else if (key == "cert") {
        file.cert_file = resolve(kv.second.as<std::string>());
      } else if (key == "key") {
        file.key_file = resolve(kv.second.as<std::string>());
      } else if (key == "timeout") {
        file.timeout_seconds = kv.second.as<int>();
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": unknown setting \"", key,
                         "\" (known: server, ca, cert, key, timeout)"));
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  if (file.cert_file.empty() != file.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": give cert and key together"));
  }
  return file;
}

}  // namespace

std::string DefaultConfigFile() {
  std::string dir = Env("XDG_CONFIG_HOME");
  if (dir.empty()) {
    const std::string home = Env("HOME");
    if (home.empty()) return "";
    dir = home + "/.config";
  }
  return dir + "/utpost/utpostctl.yaml";
}

absl::StatusOr<ConnectionOptions> ResolveConnection(ConnectionOptions o) {
  const bool explicit_file = !o.config_file.empty();
  const std::string path = explicit_file ? o.config_file : DefaultConfigFile();
  ConnectionOptions file;
  if (!path.empty()) {
    auto read = ReadConfigFile(path, explicit_file);
    if (!read.ok()) return read.status();
    file = *read;
  }
  if (o.timeout_seconds < 0) {
    o.timeout_seconds = file.timeout_seconds >= 0 ? file.timeout_seconds : 30;
  }
  Fill(o.server, "UTPOST_SERVER", "");
  if (o.server.empty()) o.server = file.server;
  if (o.server.empty()) o.server = "127.0.0.1:7443";
  Fill(o.ca_file, "UTPOST_CA", "");
  if (o.ca_file.empty()) o.ca_file = file.ca_file;
  if (o.ca_file.empty()) o.ca_file = "certs-dev/ca.pem";
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
      o.cert_file = file.cert_file;
      o.key_file = file.key_file;
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
