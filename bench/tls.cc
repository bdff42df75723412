#include "bench/tls.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace utpost::bench {

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": cannot read ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const ClientTlsFiles& files) {
  grpc::SslCredentialsOptions tls;
  auto ca = ReadFile(files.ca_file, "--ca");
  if (!ca.ok()) return ca.status();
  auto cert = ReadFile(files.cert_file, "--cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(files.key_file, "--key");
  if (!key.ok()) return key.status();
  tls.pem_root_certs = *std::move(ca);
  tls.pem_cert_chain = *std::move(cert);
  tls.pem_private_key = *std::move(key);
  return grpc::SslCredentials(tls);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const ServerTlsFiles& files) {
  auto cert = ReadFile(files.cert_file, "server certificate");
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(files.key_file, "server key");
  if (!key.ok()) return key.status();
  auto ca = ReadFile(files.client_ca_file, "client CA");
  if (!ca.ok()) return ca.status();
  grpc::SslServerCredentialsOptions tls(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = *std::move(ca);
  tls.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  return grpc::SslServerCredentials(tls);
}

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> ConnectChannels(
    const std::string& target,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials, int count,
    int connect_seconds) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::seconds(connect_seconds);
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    args.SetMaxReceiveMessageSize(64 << 20);
    // A private subchannel pool and a distinct argument keep each channel
    // on a connection of its own.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("utpost.bench.channel_index", i);
    auto channel = grpc::CreateCustomChannel(target, credentials, args);
    if (!channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(absl::StrCat(
          "cannot connect to ", target, " within ", connect_seconds, " s"));
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

}  // namespace utpost::bench
