#include "queue/amqp_connection.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace utpost::queue {
namespace {

// The largest frame we ask for; RabbitMQ's default is the same.
constexpr int kFrameMax = 131072;

// Detect a dead peer in about a minute even when heartbeats are off or the
// process is inside a long handler.
constexpr int kKeepAliveIdleSeconds = 30;
constexpr int kKeepAliveIntervalSeconds = 10;
constexpr int kKeepAliveProbes = 3;

void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current = {};
    if (sigaction(SIGPIPE, nullptr, &current) != 0) return;
    // An application that installed its own handler keeps it.
    if (current.sa_handler != SIG_DFL) return;
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, nullptr);
  });
}

void SetKeepAlive(int fd) {
  if (fd < 0) return;
  // Best effort: a socket without keepalive still works, it only notices a
  // vanished broker later.
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  int idle = kKeepAliveIdleSeconds;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  int interval = kKeepAliveIntervalSeconds;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  int probes = kKeepAliveProbes;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
}

absl::Status StatusForReplyCode(int code, absl::string_view message) {
  switch (code) {
    case AMQP_NOT_FOUND:
      return absl::NotFoundError(message);
    case AMQP_ACCESS_REFUSED:
    case AMQP_NOT_ALLOWED:
      return absl::PermissionDeniedError(message);
    case AMQP_RESOURCE_LOCKED:
    case AMQP_PRECONDITION_FAILED:
      return absl::FailedPreconditionError(message);
    case AMQP_CONNECTION_FORCED:
    case AMQP_RESOURCE_ERROR:
    case AMQP_INTERNAL_ERROR:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

// Where the next ring made in this process starts: random at first, then
// one further on for each ring.
size_t NextRingStart() {
  static std::atomic<size_t> next{std::random_device{}()};
  return next.fetch_add(1);
}

}  // namespace

absl::StatusOr<BrokerNode> ParseBrokerNode(absl::string_view text) {
  auto bad = [text](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not host:port: ", why));
  };
  BrokerNode node;
  absl::string_view port;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return bad("no ']'");
    node.host = std::string(text.substr(1, close - 1));
    absl::string_view rest = text.substr(close + 1);
    if (!absl::StartsWith(rest, ":")) return bad("no port");
    port = rest.substr(1);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return bad("no port");
    node.host = std::string(text.substr(0, colon));
    if (node.host.find(':') != std::string::npos) {
      return bad("an IPv6 address goes in brackets");
    }
    port = text.substr(colon + 1);
  }
  if (node.host.empty()) return bad("empty host");
  for (char c : node.host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                    c == '_' || c == ':';
    if (!ok) return bad("bad character in host");
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port, &node.port) || node.port < 1 ||
      node.port > 65535) {
    return bad("port not in 1..65535");
  }
  return node;
}

std::string NodeName(const BrokerNode& node) {
  if (node.host.find(':') != std::string::npos) {
    return absl::StrCat("[", node.host, "]:", node.port);
  }
  return absl::StrCat(node.host, ":", node.port);
}

absl::StatusOr<NodeRing> NodeRing::Of(const BrokerOptions& options) {
  RETURN_IF_ERROR(ValidateBrokerOptions(options));
  std::vector<BrokerNode> nodes;
  if (options.nodes.empty()) {
    nodes.push_back({options.host, options.port});
  } else {
    for (const std::string& text : options.nodes) {
      ASSIGN_OR_RETURN(BrokerNode node, ParseBrokerNode(text));
      nodes.push_back(std::move(node));
    }
  }
  const size_t start = NextRingStart() % nodes.size();
  return NodeRing(std::move(nodes), start);
}

absl::Status ValidateBrokerOptions(const BrokerOptions& o) {
  auto bad = [](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker option ", field, ": ", why));
  };
  if (o.nodes.empty()) {
    if (o.host.empty()) return bad("host", "empty");
    if (o.port < 1 || o.port > 65535) return bad("port", "not in 1..65535");
  }
  for (size_t i = 0; i < o.nodes.size(); ++i) {
    absl::StatusOr<BrokerNode> node = ParseBrokerNode(o.nodes[i]);
    if (!node.ok()) {
      return bad(absl::StrCat("nodes[", i, "]"), node.status().message());
    }
  }
  if (o.prefetch < 1 || o.prefetch > 65535) {
    return bad("prefetch", "not in 1..65535");
  }
  if (o.heartbeat_seconds < 0 || o.heartbeat_seconds > 65535) {
    return bad("heartbeat_seconds", "not in 0..65535");
  }
  if (o.connect_timeout.count() <= 0) return bad("connect_timeout", "<= 0");
  if (o.rpc_timeout.count() <= 0) return bad("rpc_timeout", "<= 0");
  if (o.reconnect_backoff_min.count() <= 0) {
    return bad("reconnect_backoff_min", "<= 0");
  }
  if (o.reconnect_backoff_max < o.reconnect_backoff_min) {
    return bad("reconnect_backoff_max", "below reconnect_backoff_min");
  }
  if (o.max_in_flight < 1) return bad("max_in_flight", "< 1");
  if (o.confirm_timeout.count() <= 0) return bad("confirm_timeout", "<= 0");
  if (o.failover_timeout.count() < 0) return bad("failover_timeout", "< 0");
  return absl::OkStatus();
}

amqp_bytes_t AmqpBytes(absl::string_view s) {
  amqp_bytes_t bytes;
  bytes.len = s.size();
  bytes.bytes = const_cast<char*>(s.data());
  return bytes;
}

std::string ToString(amqp_bytes_t bytes) {
  if (bytes.len == 0) return std::string();
  return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

struct timeval ToTimeval(std::chrono::milliseconds duration) {
  struct timeval tv = {};
  if (duration.count() <= 0) return tv;
  tv.tv_sec = duration.count() / 1000;
  tv.tv_usec = (duration.count() % 1000) * 1000;
  return tv;
}

void AmqpTable::AddString(absl::string_view key, absl::string_view value) {
  Entry e{std::string(key), Kind::kString, std::string(value)};
  entries_.push_back(std::move(e));
}

void AmqpTable::AddInt(absl::string_view key, int64_t value) {
  Entry e{std::string(key), Kind::kInt};
  e.number = value;
  entries_.push_back(std::move(e));
}

void AmqpTable::AddBool(absl::string_view key, bool value) {
  Entry e{std::string(key), Kind::kBool};
  e.number = value ? 1 : 0;
  entries_.push_back(std::move(e));
}

AmqpTable* AmqpTable::AddTable(absl::string_view key) {
  Entry e{std::string(key), Kind::kTable};
  e.table = std::make_unique<AmqpTable>();
  AmqpTable* table = e.table.get();
  entries_.push_back(std::move(e));
  return table;
}

amqp_table_t AmqpTable::Build() {
  built_.clear();
  built_.reserve(entries_.size());
  for (Entry& e : entries_) {
    amqp_table_entry_t out = {};
    out.key = AmqpBytes(e.key);
    switch (e.kind) {
      case Kind::kString:
        out.value.kind = AMQP_FIELD_KIND_UTF8;
        out.value.value.bytes = AmqpBytes(e.text);
        break;
      case Kind::kInt:
        // RabbitMQ reads 'l' (signed 64-bit) for x-message-ttl and friends.
        out.value.kind = AMQP_FIELD_KIND_I64;
        out.value.value.i64 = e.number;
        break;
      case Kind::kBool:
        out.value.kind = AMQP_FIELD_KIND_BOOLEAN;
        out.value.value.boolean = e.number != 0;
        break;
      case Kind::kTable:
        out.value.kind = AMQP_FIELD_KIND_TABLE;
        out.value.value.table = e.table->Build();
        break;
    }
    built_.push_back(out);
  }
  amqp_table_t table;
  table.num_entries = static_cast<int>(built_.size());
  table.entries = built_.empty() ? nullptr : built_.data();
  return table;
}

absl::StatusOr<std::unique_ptr<AmqpConnection>> AmqpConnection::Open(
    const BrokerOptions& options, NodeRing* ring) {
  RETURN_IF_ERROR(ValidateBrokerOptions(options));
  IgnoreSigpipeOnce();
  std::vector<std::string> errors;
  absl::Status last;
  absl::Status refused;
  for (size_t tried = 0; tried < ring->size(); ++tried) {
    absl::StatusOr<std::unique_ptr<AmqpConnection>> connection =
        OpenNode(options, ring->current());
    if (connection.ok()) return connection;
    last = connection.status();
    errors.push_back(std::string(last.message()));
    // A login or vhost refused is the same on every node, but a node may
    // be half started: try the others all the same, and report it if none
    // lets us in.
    if (refused.ok() &&
        (connection.status().code() == absl::StatusCode::kPermissionDenied ||
         connection.status().code() == absl::StatusCode::kNotFound)) {
      refused = connection.status();
    }
    ring->Advance();
  }
  if (!refused.ok()) return refused;
  if (errors.size() == 1) return last;
  return absl::UnavailableError(
      absl::StrCat("amqp: no node of ", errors.size(),
                   " answers: ", absl::StrJoin(errors, "; ")));
}

absl::StatusOr<std::unique_ptr<AmqpConnection>> AmqpConnection::OpenNode(
    const BrokerOptions& options, const BrokerNode& node) {
  amqp_connection_state_t state = amqp_new_connection();
  if (state == nullptr) return absl::ResourceExhaustedError("amqp: no memory");
  const std::string where = NodeName(node);
  // Owned from here on, so every early return frees it.
  std::unique_ptr<AmqpConnection> connection(new AmqpConnection(state, where));

  amqp_socket_t* socket = amqp_tcp_socket_new(state);
  if (socket == nullptr) {
    return absl::ResourceExhaustedError("amqp: cannot create a socket");
  }
  struct timeval connect_timeout = ToTimeval(options.connect_timeout);
  int rc = amqp_socket_open_noblock(socket, node.host.c_str(), node.port,
                                    &connect_timeout);
  if (rc != AMQP_STATUS_OK) {
    return absl::UnavailableError(absl::StrCat(
        "amqp: cannot connect to ", where, ": ", amqp_error_string2(rc)));
  }
  SetKeepAlive(amqp_socket_get_sockfd(socket));

  struct timeval rpc_timeout = ToTimeval(options.rpc_timeout);
  amqp_set_handshake_timeout(state, &rpc_timeout);
  amqp_set_rpc_timeout(state, &rpc_timeout);

  AmqpTable properties;
  if (!options.connection_name.empty()) {
    properties.AddString("connection_name",
                         absl::StrCat(options.connection_name, " @ ", where));
  }
  // Without this capability the broker cancels a consumer silently (queue
  // deleted) and the consumer would wait forever on a dead subscription.
  properties.AddTable("capabilities")->AddBool("consumer_cancel_notify", true);
  amqp_table_t table = properties.Build();
  amqp_rpc_reply_t reply = amqp_login_with_properties(
      state, options.vhost.c_str(), /*channel_max=*/0, kFrameMax,
      options.heartbeat_seconds, &table, AMQP_SASL_METHOD_PLAIN,
      options.user.c_str(), options.password.c_str());
  RETURN_IF_ERROR(connection->CheckReply(
      reply, absl::StrCat("log in to ", where, " as ", options.user)));
  connection->usable_ = true;

  amqp_channel_open(state, kChannel);
  RETURN_IF_ERROR(
      connection->CheckLastReply(absl::StrCat("open channel on ", where)));
  return connection;
}

AmqpConnection::~AmqpConnection() {
  if (usable_) amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(state_);
}

int AmqpConnection::heartbeat_seconds() const {
  return amqp_get_heartbeat(state_);
}

absl::Status AmqpConnection::CheckReply(const amqp_rpc_reply_t& reply,
                                        absl::string_view what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return absl::OkStatus();
    case AMQP_RESPONSE_NONE:
      usable_ = false;
      return absl::InternalError(
          absl::StrCat("amqp: ", what, ": no reply from the library"));
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return CheckLibraryStatus(reply.library_error, what);
    case AMQP_RESPONSE_SERVER_EXCEPTION: {
      absl::Status status = HandleClose(reply.reply, what);
      if (!status.ok()) return status;
      usable_ = false;
      return absl::InternalError(
          absl::StrCat("amqp: ", what, ": unexpected method ", reply.reply.id));
    }
  }
  usable_ = false;
  return absl::InternalError(absl::StrCat("amqp: ", what, ": unknown reply"));
}

absl::Status AmqpConnection::CheckLastReply(absl::string_view what) {
  return CheckReply(amqp_get_rpc_reply(state_), what);
}

absl::Status AmqpConnection::CheckLibraryStatus(int status,
                                                absl::string_view what) {
  if (status == AMQP_STATUS_OK) return absl::OkStatus();
  // After a library error the frame stream may be anywhere; only a new
  // connection is safe.
  usable_ = false;
  return absl::UnavailableError(
      absl::StrCat("amqp: ", what, ": ", amqp_error_string2(status)));
}

absl::Status AmqpConnection::DrainPending() {
  struct timeval zero = {};
  for (;;) {
    amqp_frame_t frame;
    int rc = amqp_simple_wait_frame_noblock(state_, &frame, &zero);
    if (rc == AMQP_STATUS_TIMEOUT) return absl::OkStatus();
    RETURN_IF_ERROR(CheckLibraryStatus(rc, "idle read"));
    if (frame.frame_type == AMQP_FRAME_METHOD) {
      RETURN_IF_ERROR(HandleClose(frame.payload.method, "idle read"));
    }
  }
}

absl::Status AmqpConnection::HandleClose(const amqp_method_t& method,
                                         absl::string_view what) {
  if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* close =
        static_cast<const amqp_channel_close_t*>(method.decoded);
    amqp_channel_close_ok_t ok = {};
    amqp_send_method(state_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    // The channel is gone; callers rebuild the whole connection rather than
    // track a half-alive one.
    usable_ = false;
    return StatusForReplyCode(
        close->reply_code,
        absl::StrCat("amqp: ", what, ": broker closed the channel (",
                     close->reply_code, "): ", ToString(close->reply_text)));
  }
  if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* close =
        static_cast<const amqp_connection_close_t*>(method.decoded);
    amqp_connection_close_ok_t ok = {};
    amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    usable_ = false;
    return StatusForReplyCode(
        close->reply_code,
        absl::StrCat("amqp: ", what, ": broker closed the connection (",
                     close->reply_code, "): ", ToString(close->reply_text)));
  }
  return absl::OkStatus();
}

}  // namespace utpost::queue
