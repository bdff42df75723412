#include "gateway/observability/metrics_http.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <list>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace utpost::observability {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Error";
  }
}

// The listening socket for "host:port", non-blocking, or -1.
int Listen(const std::string& host, int port, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(),
                  &hints, &found) != 0) {
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 128) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return -1;
  sockaddr_storage addr{};
  socklen_t length = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    close(fd);
    return -1;
  }
  *bound_port = ntohs(addr.ss_family == AF_INET6
                          ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                          : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return fd;
}

}  // namespace

class MetricsHttpServer::Loop {
 public:
  Loop(int listen_fd, const metrics::Registry* registry,
       std::function<void()> before_scrape, HttpServerLimits limits)
      : listen_fd_(listen_fd),
        registry_(registry),
        before_scrape_(std::move(before_scrape)),
        limits_(limits) {}

  ~Loop() {
    for (Connection& c : connections_) close(c.fd);
    close(listen_fd_);
    if (wake_[0] >= 0) close(wake_[0]);
    if (wake_[1] >= 0) close(wake_[1]);
  }

  bool Init() { return pipe2(wake_, O_NONBLOCK | O_CLOEXEC) == 0; }

  void Stop() {
    char byte = 0;
    (void)!write(wake_[1], &byte, 1);
  }

  void Run() {
    std::vector<pollfd> fds;
    while (true) {
      fds.clear();
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({listen_fd_, POLLIN, 0});
      int64_t next_deadline = -1;
      for (const Connection& c : connections_) {
        fds.push_back(
            {c.fd, static_cast<short>(c.writing ? POLLOUT : POLLIN), 0});
        if (next_deadline < 0 || c.deadline_ms < next_deadline) {
          next_deadline = c.deadline_ms;
        }
      }
      int timeout = -1;
      if (next_deadline >= 0) {
        timeout = static_cast<int>(
            std::clamp<int64_t>(next_deadline - NowMs() + 1, 0, 60000));
      }
      int ready = poll(fds.data(), fds.size(), timeout);
      if (ready < 0 && errno != EINTR) return;
      if (fds[0].revents != 0) return;  // Stop().
      const int64_t now = NowMs();
      size_t i = 2;
      for (auto it = connections_.begin(); it != connections_.end(); ++i) {
        const short events = i < fds.size() ? fds[i].revents : 0;
        bool keep = true;
        if (events != 0) {
          keep = it->writing ? OnWritable(*it, now) : OnReadable(*it, now);
        }
        if (keep && it->deadline_ms <= now) keep = false;
        if (keep) {
          ++it;
        } else {
          close(it->fd);
          it = connections_.erase(it);
        }
      }
      if (fds[1].revents != 0) Accept(now);
    }
  }

 private:
  struct Connection {
    int fd = -1;
    std::string in;
    std::string out;
    size_t out_pos = 0;
    bool writing = false;
    bool close_after = false;
    // Answered for the last time: what the client still sends is read and
    // dropped until it closes (a close with unread input would reset the
    // connection, and the client could lose the answer).
    bool draining = false;
    int served = 0;
    // Since when it waits for its request: the oldest go first when room
    // is needed.
    int64_t waiting_since_ms = 0;
    int64_t deadline_ms = 0;
  };

  void Accept(int64_t now) {
    while (true) {
      int fd =
          accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        // EAGAIN: none left. EMFILE and the like: the waiting ones are
        // the first to make room on the next round.
        if (errno == EMFILE || errno == ENFILE) MakeRoom();
        return;
      }
      if (static_cast<int>(connections_.size()) >= limits_.max_connections &&
          !MakeRoom()) {
        close(fd);  // Every connection is busy answering: refused.
        continue;
      }
      Connection c;
      c.fd = fd;
      c.waiting_since_ms = now;
      c.deadline_ms = now + limits_.read_timeout_ms;
      connections_.push_back(std::move(c));
    }
  }

  // Closes the connection that has waited longest for its request; false
  // when none waits.
  bool MakeRoom() {
    auto oldest = connections_.end();
    for (auto it = connections_.begin(); it != connections_.end(); ++it) {
      if (!it->writing && (oldest == connections_.end() ||
                           it->waiting_since_ms < oldest->waiting_since_ms)) {
        oldest = it;
      }
    }
    if (oldest == connections_.end()) return false;
    close(oldest->fd);
    connections_.erase(oldest);
    return true;
  }

  // False when the connection is to be closed.
  bool OnReadable(Connection& c, int64_t now) {
    char buffer[4096];
    if (c.draining) {
      while (true) {
        ssize_t n = recv(c.fd, buffer, sizeof(buffer), 0);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      }
    }
    while (true) {
      ssize_t n = recv(c.fd, buffer, sizeof(buffer), 0);
      if (n == 0) return false;
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      c.in.append(buffer, static_cast<size_t>(n));
      // Past the bound with no end of headers in sight: stop reading.
      if (static_cast<int>(c.in.size()) > limits_.max_request_bytes) break;
    }
    return NextRequest(c, now);
  }

  // Answers the request in c.in if it is complete.
  bool NextRequest(Connection& c, int64_t now) {
    const size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos ||
        static_cast<int>(end + 4) > limits_.max_request_bytes) {
      if (static_cast<int>(c.in.size()) > limits_.max_request_bytes) {
        Answer(c, 431, "", "text/plain", true, false, now);
        return OnWritable(c, now);
      }
      return true;  // Wait for more.
    }
    const std::string head = c.in.substr(0, end);
    c.in.erase(0, end + 4);
    Handle(c, head, now);
    return OnWritable(c, now);
  }

  void Handle(Connection& c, absl::string_view head, int64_t now) {
    std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
    std::vector<absl::string_view> start =
        absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    if (start.size() != 3 || !absl::StartsWith(start[2], "HTTP/1.") ||
        start[1].empty() || start[1][0] != '/') {
      Answer(c, 400, "", "text/plain", true, false, now);
      return;
    }
    const absl::string_view method = start[0];
    absl::string_view path = start[1].substr(0, start[1].find('?'));
    bool keep_alive = start[2] != "HTTP/1.0";
    bool has_body = false;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == absl::string_view::npos) continue;
      const absl::string_view name =
          absl::StripAsciiWhitespace(lines[i].substr(0, colon));
      const absl::string_view value =
          absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
      if (absl::EqualsIgnoreCase(name, "Connection")) {
        const std::string lower = absl::AsciiStrToLower(value);
        if (absl::StrContains(lower, "close")) keep_alive = false;
        if (absl::StrContains(lower, "keep-alive")) keep_alive = true;
      } else if (absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
        has_body = true;
      } else if (absl::EqualsIgnoreCase(name, "Content-Length")) {
        int64_t length = 0;
        if (!absl::SimpleAtoi(value, &length) || length != 0) has_body = true;
      }
    }
    // A body is never read: what follows it would be taken for the next
    // request.
    const bool close_after =
        !keep_alive || has_body ||
        c.served + 1 >= std::max(1, limits_.keep_alive_max_requests);
    const bool head_only = method == "HEAD";
    if (method != "GET" && !head_only) {
      Answer(c, 405, "", "text/plain", true, false, now);
      return;
    }
    if (path != "/metrics") {
      Answer(c, 404, "", "text/plain", close_after, head_only, now);
      return;
    }
    if (before_scrape_) before_scrape_();
    Answer(c, 200, registry_->Serialize(), metrics::Registry::kContentType,
           close_after, head_only, now);
  }

  void Answer(Connection& c, int status, std::string body,
              absl::string_view content_type, bool close_after, bool head_only,
              int64_t now) {
    c.out = absl::StrCat(
        "HTTP/1.1 ", status, " ", Reason(status),
        "\r\nContent-Type: ", content_type, "\r\nContent-Length: ", body.size(),
        status == 405 ? "\r\nAllow: GET, HEAD" : "",
        "\r\nConnection: ", close_after ? "close" : "keep-alive", "\r\n\r\n");
    if (!head_only) c.out += body;
    c.out_pos = 0;
    c.writing = true;
    c.close_after = close_after;
    c.deadline_ms = now + limits_.write_timeout_ms;
    ++c.served;
  }

  // Sends what it can; false when the connection is to be closed.
  bool OnWritable(Connection& c, int64_t now) {
    if (!c.writing) return true;
    while (c.out_pos < c.out.size()) {
      ssize_t n = send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos,
                       MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        return false;
      }
      c.out_pos += static_cast<size_t>(n);
    }
    if (c.close_after) {
      shutdown(c.fd, SHUT_WR);
      c.writing = false;
      c.draining = true;
      c.in.clear();
      c.waiting_since_ms = 0;  // The first to go when room is needed.
      c.deadline_ms = now + std::min<int64_t>(limits_.read_timeout_ms, 1000);
      return true;
    }
    c.out.clear();
    c.out_pos = 0;
    c.writing = false;
    c.waiting_since_ms = now;
    c.deadline_ms = now + limits_.read_timeout_ms;
    // A pipelined request may be waiting already.
    return c.in.empty() ? true : NextRequest(c, now);
  }

  const int listen_fd_;
  const metrics::Registry* const registry_;
  const std::function<void()> before_scrape_;
  const HttpServerLimits limits_;
  int wake_[2] = {-1, -1};
  std::list<Connection> connections_;  // Loop thread only.
};

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, const metrics::Registry* registry,
    std::function<void()> before_scrape, HttpServerLimits limits) {
  const auto colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "observability.metrics_listen: \"", listen, "\" is not host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const HttpServerLimits defaults;
  if (limits.read_timeout_ms <= 0) {
    limits.read_timeout_ms = defaults.read_timeout_ms;
  }
  if (limits.write_timeout_ms <= 0) {
    limits.write_timeout_ms = defaults.write_timeout_ms;
  }
  if (limits.max_connections <= 0) {
    limits.max_connections = defaults.max_connections;
  }
  if (limits.keep_alive_max_requests <= 0) {
    limits.keep_alive_max_requests = defaults.keep_alive_max_requests;
  }
  if (limits.max_request_bytes <= 0) {
    limits.max_request_bytes = defaults.max_request_bytes;
  }
  int bound = 0;
  const int fd = Listen(host, port, &bound);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "observability.metrics_listen: cannot listen on ", listen));
  }
  std::unique_ptr<MetricsHttpServer> s(new MetricsHttpServer());
  s->loop_ =
      std::make_unique<Loop>(fd, registry, std::move(before_scrape), limits);
  if (!s->loop_->Init()) {
    return absl::InternalError("observability.metrics_listen: no pipe");
  }
  s->port_ = bound;
  Loop* loop = s->loop_.get();
  s->thread_ = std::thread([loop] { loop->Run(); });
  return s;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (loop_) loop_->Stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace utpost::observability
