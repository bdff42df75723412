// Internal to queue/: one rabbitmq-c connection with one open channel, and
// the conversions between AMQP replies and absl::Status that the publisher,
// consumer and admin share.
#ifndef UTPOST_QUEUE_AMQP_CONNECTION_H_
#define UTPOST_QUEUE_AMQP_CONNECTION_H_

#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "queue/amqp_broker.h"

namespace utpost::queue {

// INVALID_ARGUMENT naming the first bad field of `options`, else OK.
absl::Status ValidateBrokerOptions(const BrokerOptions& options);

// The nodes of BrokerOptions (nodes, else host and port) in a ring, and the
// one to try next. Each ring made in a process starts one node further on
// than the one made before it, from a random first node, so that the
// clients of all processes spread over the cluster.
class NodeRing {
 public:
  // INVALID_ARGUMENT as ValidateBrokerOptions.
  static absl::StatusOr<NodeRing> Of(const BrokerOptions& options);

  const BrokerNode& current() const { return nodes_[next_]; }
  // Moves on to the next node (after the current one failed).
  void Advance() { next_ = (next_ + 1) % nodes_.size(); }
  size_t size() const { return nodes_.size(); }

 private:
  NodeRing(std::vector<BrokerNode> nodes, size_t next)
      : nodes_(std::move(nodes)), next_(next) {}

  std::vector<BrokerNode> nodes_;
  size_t next_;
};

// "host:port" of `node`, with brackets round an IPv6 address.
std::string NodeName(const BrokerNode& node);

// A view of `s` for rabbitmq-c. The library never writes through it.
amqp_bytes_t AmqpBytes(absl::string_view s);
std::string ToString(amqp_bytes_t bytes);

// An AMQP field table built from C++ values. The table returned by Build()
// points into this object: it is valid until this object or a nested table
// is changed or destroyed.
class AmqpTable {
 public:
  AmqpTable() = default;
  AmqpTable(const AmqpTable&) = delete;
  AmqpTable& operator=(const AmqpTable&) = delete;

  void AddString(absl::string_view key, absl::string_view value);
  void AddInt(absl::string_view key, int64_t value);
  void AddBool(absl::string_view key, bool value);
  // A nested table, owned by this one.
  AmqpTable* AddTable(absl::string_view key);

  amqp_table_t Build();

 private:
  enum class Kind { kString, kInt, kBool, kTable };
  struct Entry {
    std::string key;
    Kind kind;
    std::string text;
    int64_t number = 0;
    std::unique_ptr<AmqpTable> table;
  };
  std::vector<Entry> entries_;
  std::vector<amqp_table_entry_t> built_;
};

// One connection to the broker with channel kChannel open. Not thread-safe;
// never share one between threads.
//
// Errors come back as UNAVAILABLE for network trouble and timeouts, and by
// the AMQP reply code when the broker closes the channel or the connection:
// NOT_FOUND (404), PERMISSION_DENIED (403, 530), FAILED_PRECONDITION (405,
// 406), UNAVAILABLE (320, 506, 541), INTERNAL (protocol errors). After any
// error the connection is unusable and is only to be destroyed.
class AmqpConnection {
 public:
  static constexpr amqp_channel_t kChannel = 1;

  // Connects (TCP keepalive on), logs in and opens channel kChannel. Ignores
  // SIGPIPE process-wide the first time, unless the process has its own
  // handler, because a write to a socket the broker closed must be an error,
  // not the end of the process.
  //
  // Tries the nodes of `ring` in turn from its current one, each once,
  // advancing past each that fails; on success the ring's current node is
  // the one connected to. When none answers: PERMISSION_DENIED or NOT_FOUND
  // if a node refused the login or the vhost, else UNAVAILABLE naming every
  // node's error. The connection name sent is options.connection_name and
  // the node ("relay @ 10.0.0.5:5672").
  static absl::StatusOr<std::unique_ptr<AmqpConnection>> Open(
      const BrokerOptions& options, NodeRing* ring);

  // Closes politely (connection.close, bounded by the RPC timeout) if still
  // usable, then frees everything.
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  amqp_connection_state_t state() const { return state_; }
  // The node connected to, "host:port".
  const std::string& node() const { return node_; }
  // The heartbeat interval agreed with the broker, in seconds; 0 if none.
  int heartbeat_seconds() const;
  bool usable() const { return usable_; }
  // Makes the destructor drop the socket without a closing handshake.
  void MarkUnusable() { usable_ = false; }

  // The status of `reply` (from a synchronous rabbitmq-c call); `what` names
  // the operation in the message. A close sent by the broker is answered.
  absl::Status CheckReply(const amqp_rpc_reply_t& reply,
                          absl::string_view what);
  // CheckReply on the reply of the last synchronous call.
  absl::Status CheckLastReply(absl::string_view what);
  // The status of a rabbitmq-c status code (AMQP_STATUS_*).
  absl::Status CheckLibraryStatus(int status, absl::string_view what);
  // For a method read from the frame stream: answers channel.close or
  // connection.close and returns its error; OK for any other method.
  absl::Status HandleClose(const amqp_method_t& method, absl::string_view what);
  // Reads what arrived while idle (a close from the broker, a dead socket)
  // without waiting; this also sends a heartbeat if one is due.
  absl::Status DrainPending();

 private:
  AmqpConnection(amqp_connection_state_t state, std::string node)
      : state_(state), node_(std::move(node)) {}

  // Open on one node.
  static absl::StatusOr<std::unique_ptr<AmqpConnection>> OpenNode(
      const BrokerOptions& options, const BrokerNode& node);

  amqp_connection_state_t state_;
  const std::string node_;
  bool usable_ = false;
};

// Converts a duration for rabbitmq-c; negative durations become zero.
struct timeval ToTimeval(std::chrono::milliseconds duration);

}  // namespace utpost::queue

#endif  // UTPOST_QUEUE_AMQP_CONNECTION_H_
