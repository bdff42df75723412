// utpost-bench-echo: the "raw gRPC" ceiling. An in-process echo server with
// utpostd's TLS set-up (server certificate, client certificate required and
// verified) and a client making unary calls with a fixed payload at a fixed
// concurrency, through the same closed-loop driver as utpost-loadgen.
// Whatever utpostd does per SubmitLetter comes on top of this.

#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "bench/closed_loop.h"
#include "bench/echo.grpc.pb.h"
#include "bench/tls.h"
#include "nlohmann/json.hpp"

namespace utpost::bench {
namespace {

struct Options {
  ServerTlsFiles server_tls;
  ClientTlsFiles client_tls;
  int64_t requests = 20000;
  int64_t warmup = 1000;
  int concurrency = 32;
  int channels = 1;
  size_t payload_bytes = 10240;
};

class EchoService final : public v1::Echo::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const v1::EchoRequest* request,
                                 v1::EchoReply* reply) override {
    reply->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class EchoCaller {
 public:
  EchoCaller(std::vector<std::unique_ptr<v1::Echo::Stub>> stubs,
             size_t payload_bytes)
      : stubs_(std::move(stubs)), payload_(payload_bytes, 'x') {}

  void Start(int64_t index, DoneCallback done) {
    auto* call = new Call;
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(30));
    call->request.set_payload(payload_);
    stubs_[index % stubs_.size()]->async()->Echo(
        &call->context, &call->request, &call->reply,
        [call, expected = payload_.size(),
         done = std::move(done)](grpc::Status status) {
          absl::Status result;
          if (!status.ok()) {
            result =
                absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                             status.error_message());
          } else if (call->reply.payload().size() != expected) {
            result = absl::DataLossError("reply payload has the wrong size");
          }
          delete call;
          done(result);
        });
  }

 private:
  struct Call {
    grpc::ClientContext context;
    v1::EchoRequest request;
    v1::EchoReply reply;
  };

  const std::vector<std::unique_ptr<v1::Echo::Stub>> stubs_;
  const std::string payload_;
};

int Run(const Options& o) {
  auto server_credentials = ServerCredentials(o.server_tls);
  if (!server_credentials.ok()) {
    std::cerr << "utpost-bench-echo: " << server_credentials.status().message()
              << std::endl;
    return 2;
  }
  auto client_credentials = ClientCredentials(o.client_tls);
  if (!client_credentials.ok()) {
    std::cerr << "utpost-bench-echo: " << client_credentials.status().message()
              << std::endl;
    return 2;
  }

  EchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", *server_credentials, &port);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "utpost-bench-echo: cannot listen on 127.0.0.1" << std::endl;
    return 1;
  }
  const std::string target = "127.0.0.1:" + std::to_string(port);

  int rc = 0;
  {
    auto channels =
        ConnectChannels(target, *client_credentials, o.channels, 10);
    if (!channels.ok()) {
      std::cerr << "utpost-bench-echo: " << channels.status().message()
                << std::endl;
      server->Shutdown();
      return 1;
    }
    std::vector<std::unique_ptr<v1::Echo::Stub>> stubs;
    for (const auto& c : *channels) stubs.push_back(v1::Echo::NewStub(c));
    EchoCaller caller(std::move(stubs), o.payload_bytes);
    const Starter start = [&](int64_t index, DoneCallback done) {
      caller.Start(index, std::move(done));
    };

    std::cout << "utpost-bench-echo: " << o.requests << " calls, "
              << o.concurrency << " in flight, " << o.payload_bytes
              << "-byte payload each way, mTLS, " << o.channels
              << " connection(s) to " << target << std::endl;
    if (o.warmup > 0) RunClosedLoop(o.warmup, o.concurrency, start);
    const ClosedLoopResult r = RunClosedLoop(o.requests, o.concurrency, start);
    const LatencySummary lat = Summarize(r.latencies_us);
    const double rate =
        r.elapsed_seconds > 0
            ? static_cast<double>(r.completed) / r.elapsed_seconds
            : 0;
    std::cout << std::fixed << std::setprecision(0) << "echo: " << r.completed
              << " ok, " << r.failed << " failed: " << rate << " req/s"
              << std::endl;
    if (!r.first_error.empty()) {
      std::cout << "first error: " << r.first_error << std::endl;
    }
    std::cout << std::setprecision(2) << "latency: p50 " << lat.p50_ms
              << " ms, p90 " << lat.p90_ms << " ms, p99 " << lat.p99_ms
              << " ms, max " << lat.max_ms << " ms" << std::endl;
    nlohmann::json out = {
        {"bench", "utpost-bench-echo"},
        {"requests", o.requests},
        {"concurrency", o.concurrency},
        {"connections", o.channels},
        {"payload_bytes", o.payload_bytes},
        {"ok", r.completed},
        {"failed", r.failed},
        {"seconds", r.elapsed_seconds},
        {"requests_per_second", rate},
        {"latency_ms",
         {{"p50", lat.p50_ms},
          {"p90", lat.p90_ms},
          {"p99", lat.p99_ms},
          {"max", lat.max_ms},
          {"mean", lat.mean_ms}}},
    };
    if (!r.first_error.empty()) out["first_error"] = r.first_error;
    std::cout << out.dump() << std::endl;
    rc = r.failed == 0 ? 0 : 1;
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return rc;
}

}  // namespace
}  // namespace utpost::bench

int main(int argc, char** argv) {
  utpost::bench::Options o;
  CLI::App app{
      "Raw gRPC ceiling: unary echo over mutual TLS, client and server in "
      "one process."};
  app.add_option("-n,--requests", o.requests, "measured calls")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "calls made before measuring")
      ->capture_default_str();
  app.add_option("-c,--concurrency", o.concurrency, "calls in flight")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--connections", o.channels, "HTTP/2 connections")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--payload-bytes", o.payload_bytes,
                 "bytes sent, and echoed back, per call")
      ->capture_default_str();
  app.add_option("--server-cert", o.server_tls.cert_file)
      ->capture_default_str();
  app.add_option("--server-key", o.server_tls.key_file)->capture_default_str();
  app.add_option("--ca", o.client_tls.ca_file, "CA for both directions (PEM)")
      ->capture_default_str();
  app.add_option("--cert", o.client_tls.cert_file, "client certificate (PEM)")
      ->capture_default_str();
  app.add_option("--key", o.client_tls.key_file, "client key (PEM)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  o.server_tls.client_ca_file = o.client_tls.ca_file;
  return utpost::bench::Run(o);
}
