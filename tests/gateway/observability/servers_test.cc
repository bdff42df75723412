// The metrics and health servers against clients that connect and stall:
// a scrape and a health check still answer at once, stalled connections
// are closed after the read timeout, and connections are bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/metrics/registry.h"
#include "common/status_matchers.h"
#include "gateway/observability/health.h"
#include "gateway/observability/metrics_http.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace utpost::observability {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

// A TCP connection to 127.0.0.1:port, or -1.
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Clients that connect, send the start of something and then nothing.
class Stallers {
 public:
  Stallers(int port, int n, const std::string& partial) {
    for (int i = 0; i < n; ++i) {
      int fd = Connect(port);
      if (fd < 0) continue;
      (void)!send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
      fds_.push_back(fd);
    }
  }
  ~Stallers() {
    for (int fd : fds_) close(fd);
  }
  size_t size() const { return fds_.size(); }
  // How many the server has closed, waiting at most `ms` in all. What the
  // server sends first (an error answer, HTTP/2 settings) is read and
  // dropped.
  int ClosedByServer(int ms) {
    const Clock::time_point start = Clock::now();
    int closed = 0;
    for (int fd : fds_) {
      while (true) {
        const int left = ms - static_cast<int>(MsSince(start));
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0) break;
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) continue;
        ++closed;  // Closed (0) or reset (-1).
        break;
      }
    }
    return closed;
  }

 private:
  std::vector<int> fds_;
};

// GET /metrics over a fresh connection; the whole answer, or "" when none
// came within `timeout_ms`.
std::string Scrape(int port, int timeout_ms) {
  int fd = Connect(port);
  if (fd < 0) return "";
  const std::string request =
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  const Clock::time_point start = Clock::now();
  while (true) {
    int left = timeout_ms - static_cast<int>(MsSince(start));
    if (left <= 0) {
      answer.clear();
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

TEST(MetricsHttpServerLimitsTest, ScrapeAnswersWithin1sWhile50ClientsStall) {
  metrics::Registry r;
  r.AddGauge("utpost_test_value", "A test value.")->Get()->Set(7);
  auto server = MetricsHttpServer::Start("127.0.0.1:0", &r);
  ASSERT_THAT(server, IsOk());
  Stallers stallers((*server)->port(), 50, "GET /metr");
  ASSERT_EQ(stallers.size(), 50u);
  const Clock::time_point start = Clock::now();
  const std::string answer = Scrape((*server)->port(), 15000);
  const double ms = MsSince(start);
  std::printf("scrape with 50 stalled clients: %.1f ms\n", ms);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(answer, HasSubstr("utpost_test_value 7\n"));
  EXPECT_LT(ms, 1000);
}

TEST(MetricsHttpServerLimitsTest, StalledClientsAreClosedAfterTheReadTimeout) {
  metrics::Registry r;
  HttpServerLimits limits;
  limits.read_timeout_ms = 300;
  auto server = MetricsHttpServer::Start("127.0.0.1:0", &r, nullptr, limits);
  ASSERT_THAT(server, IsOk());
  Stallers stallers((*server)->port(), 10, "GET /metrics HTTP/1.1\r\nHost:");
  const Clock::time_point start = Clock::now();
  EXPECT_EQ(stallers.ClosedByServer(3000), 10);
  const double ms = MsSince(start);
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 2000);
}

TEST(MetricsHttpServerLimitsTest, ConnectionsAreBoundedAndScrapesStillGetIn) {
  metrics::Registry r;
  r.AddGauge("utpost_test_value", "A test value.")->Get()->Set(1);
  HttpServerLimits limits;
  limits.max_connections = 8;
  limits.read_timeout_ms = 10000;
  auto server = MetricsHttpServer::Start("127.0.0.1:0", &r, nullptr, limits);
  ASSERT_THAT(server, IsOk());
  Stallers stallers((*server)->port(), 30, "GET /");
  // Beyond the bound the oldest waiting connections make room: at least
  // 30 - 8 of them are closed long before their read timeout.
  EXPECT_GE(stallers.ClosedByServer(200), 22);
  const Clock::time_point start = Clock::now();
  EXPECT_THAT(Scrape((*server)->port(), 5000),
              HasSubstr("utpost_test_value 1\n"));
  EXPECT_LT(MsSince(start), 1000);
}

TEST(MetricsHttpServerLimitsTest, OversizedOrMalformedRequestsAreRefused) {
  metrics::Registry r;
  HttpServerLimits limits;
  limits.max_request_bytes = 1024;
  auto server = MetricsHttpServer::Start("127.0.0.1:0", &r, nullptr, limits);
  ASSERT_THAT(server, IsOk());
  auto ask = [&](const std::string& request) {
    int fd = Connect((*server)->port());
    (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string answer;
    char buf[4096];
    pollfd p{fd, POLLIN, 0};
    while (poll(&p, 1, 3000) > 0) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      answer.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return answer;
  };
  EXPECT_THAT(ask(absl::StrCat("GET /metrics HTTP/1.1\r\nX: ",
                               std::string(4000, 'x'), "\r\n\r\n")),
              HasSubstr("HTTP/1.1 431"));
  EXPECT_THAT(ask("nonsense\r\n\r\n"), HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(ask("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
              HasSubstr("HTTP/1.1 405"));
  EXPECT_THAT(ask("GET /other HTTP/1.1\r\n\r\n"), HasSubstr("HTTP/1.1 404"));
  // Keep-alive: two requests on one connection, both answered.
  std::string two =
      ask("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
          "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(two.find("HTTP/1.1 200"), 0u);
  EXPECT_NE(two.find("HTTP/1.1 200", 1), std::string::npos);
}

// grpc.health.v1.Health/Check for `service` over the generic stub (the
// health messages are tiny: field 1, a string in the request and an enum
// in the response, SERVING = 1). True for SERVING.
bool CheckHealth(int port, const std::string& service, int deadline_ms,
                 grpc::Status* status) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(deadline_ms));
  std::string request;
  request.push_back(0x0a);
  request.push_back(static_cast<char>(service.size()));
  request += service;
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check",
                                    request_buffer, &cq);
  call->StartCall();
  call->Finish(&response_buffer, status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!cq.Next(&tag, &ok) || !ok || !status->ok()) return false;
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return false;
  std::string response;
  for (const grpc::Slice& s : slices) {
    response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return response == std::string("\x08\x01", 2);
}

TEST(HealthServerLimitsTest, HealthCheckAnswersWithin1sWhile50ClientsStall) {
  auto health = HealthServer::Start("127.0.0.1:0");
  ASSERT_THAT(health, IsOk());
  // Half an HTTP/2 client preface, then nothing.
  Stallers stallers((*health)->port(), 50, "PRI * HTTP/2.0\r\n");
  ASSERT_EQ(stallers.size(), 50u);
  const Clock::time_point start = Clock::now();
  grpc::Status status;
  EXPECT_TRUE(CheckHealth((*health)->port(), "liveness", 5000, &status))
      << status.error_message();
  const double ms = MsSince(start);
  std::printf("health check with 50 stalled clients: %.1f ms\n", ms);
  EXPECT_LT(ms, 1000);
}

TEST(HealthServerLimitsTest, StalledClientsAreClosedAfterTheHandshakeTimeout) {
  HealthServerLimits limits;
  limits.handshake_timeout_ms = 300;
  auto health = HealthServer::Start("127.0.0.1:0", limits);
  ASSERT_THAT(health, IsOk());
  Stallers stallers((*health)->port(), 10, "PRI * HTTP/2.0\r\n");
  const Clock::time_point start = Clock::now();
  EXPECT_EQ(stallers.ClosedByServer(5000), 10);
  EXPECT_LT(MsSince(start), 4000);
  grpc::Status status;
  EXPECT_TRUE(CheckHealth((*health)->port(), "liveness", 2000, &status))
      << status.error_message();
}

}  // namespace
}  // namespace utpost::observability
