// The libcurl client against a plain-HTTP server on loopback that answers
// as each test scripts it: responses are bounded (body and headers), and a
// connection is not reused after an answer that may have left bytes behind.
#include "adapters/http/curl_http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::adapters {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

// Answers each request (its head and body) with the bytes `answer` gives;
// counts connections. One thread per connection.
class ScriptedServer {
 public:
  using Answer = std::function<std::string(const std::string& head)>;

  explicit ScriptedServer(Answer answer) : answer_(std::move(answer)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 16);
    socklen_t length = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~ScriptedServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    acceptor_.join();
    absl::MutexLock lock(&mu_);
    for (std::thread& t : connections_) t.join();
  }

  std::string url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  int connections() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(connections_.size());
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      absl::MutexLock lock(&mu_);
      connections_.emplace_back([this, c] { Serve(c); });
    }
  }

  void Serve(int c) {
    std::string in;
    char buf[65536];
    while (!stop_) {
      size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = in.substr(0, end);
        size_t length = 0;
        size_t at = head.find("Content-Length: ");
        if (at != std::string::npos) {
          size_t value = at + 16;
          (void)absl::SimpleAtoi(
              head.substr(value, head.find("\r\n", value) - value), &length);
        }
        if (in.size() >= end + 4 + length) {
          in.erase(0, end + 4 + length);
          std::string out = answer_(head);
          if (out.empty()) break;  // Hang up.
          size_t sent = 0;
          while (sent < out.size()) {
            ssize_t n =
                send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += static_cast<size_t>(n);
          }
          if (sent < out.size()) break;
          continue;
        }
      }
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      ssize_t n = recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    close(c);
  }

  Answer answer_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<std::thread> connections_ ABSL_GUARDED_BY(mu_);
};

std::string Ok(const std::string& body) {
  return absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(),
                      "\r\n\r\n", body);
}

std::unique_ptr<HttpClient> Client(int64_t max_body = 1 << 20,
                                   int64_t max_header = 16 << 10) {
  CurlHttpClientOptions options;
  options.allow_plain_http = true;
  options.max_response_bytes = max_body;
  options.max_header_bytes = max_header;
  options.timeout_ms = 5000;
  auto client = NewCurlHttpClient(options);
  EXPECT_THAT(client, IsOk());
  return std::move(*client);
}

HttpRequest Get(const std::string& url) {
  HttpRequest request;
  request.url = url;
  return request;
}

TEST(CurlHttpClientTest, ReusesAConnectionAfterAWholeAnswer) {
  ScriptedServer server([](const std::string&) { return Ok("fine"); });
  auto client = Client();
  for (int i = 0; i < 3; ++i) {
    auto response = client->Do(Get(server.url("/a")));
    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->body, "fine");
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(CurlHttpClientTest, ABodyPastTheBoundIsTransientAndItsConnectionDropped) {
  const std::string big(300 << 10, 'x');
  ScriptedServer server([&big](const std::string& head) {
    if (head.find("GET /big") == 0) {
      // No length announced: the bound is found while reading.
      return absl::StrCat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
                          "\r\n\r\n", absl::Hex(big.size()), "\r\n", big,
                          "\r\n0\r\n\r\n");
    }
    if (head.find("GET /announced") == 0) {
      return absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", big.size(),
                          "\r\n\r\n", big);
    }
    return Ok("small");
  });
  auto client = Client(/*max_body=*/100 << 10);
  ASSERT_THAT(client->Do(Get(server.url("/small"))), IsOk());
  EXPECT_THAT(client->Do(Get(server.url("/big"))),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("larger than 102400 bytes")));
  auto after = client->Do(Get(server.url("/small")));
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->body, "small");
  EXPECT_EQ(server.connections(), 2);
  EXPECT_THAT(client->Do(Get(server.url("/announced"))),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("larger than 102400 bytes")));
  ASSERT_THAT(client->Do(Get(server.url("/small"))), IsOk());
  EXPECT_EQ(server.connections(), 3);
}

TEST(CurlHttpClientTest, HeadersPastTheBoundAreTransient) {
  ScriptedServer server([](const std::string&) {
    std::string out = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 2000; ++i)
      absl::StrAppend(&out, "X-Pad-", i, ": y\r\n");
    return absl::StrCat(out, "Content-Length: 0\r\n\r\n");
  });
  auto client = Client(1 << 20, /*max_header=*/8 << 10);
  EXPECT_THAT(client->Do(Get(server.url("/"))),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("headers larger than 8192 bytes")));
}

TEST(CurlHttpClientTest, NoConnectionIsReusedAfterARefusedRequestWithABody) {
  ScriptedServer server([](const std::string& head) {
    if (head.find("POST /refuse") == 0) {
      return std::string(
          "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno");
    }
    return Ok("yes");
  });
  auto client = Client();
  HttpRequest post;
  post.method = "POST";
  post.url = server.url("/refuse");
  post.body = "letter";
  auto refused = client->Do(post);
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(refused->status, 400);
  auto next = client->Do(Get(server.url("/ok")));
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->body, "yes");
  EXPECT_EQ(server.connections(), 2);
  // A refused GET (no body) keeps its connection.
  ASSERT_THAT(client->Do(Get(server.url("/ok"))), IsOk());
  EXPECT_EQ(server.connections(), 2);
}

}  // namespace
}  // namespace utpost::adapters
