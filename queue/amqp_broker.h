// The RabbitMQ implementation of queue.h, over rabbitmq-c (AMQP 0-9-1).
//
// Every object made here owns one connection with one channel, opened lazily
// by its first call and rebuilt after a failure. An object is not
// thread-safe: use one per thread. Invalid options are reported by the first
// call that connects, never by the factories.
#ifndef UTPOST_QUEUE_AMQP_BROKER_H_
#define UTPOST_QUEUE_AMQP_BROKER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "queue/queue.h"

namespace utpost::queue {

struct BrokerOptions {
  // Where the broker listens and how to log in (SASL PLAIN).
  std::string host = "127.0.0.1";
  int port = 5672;
  // The nodes of a cluster, "host:port" each ("[v6 address]:port" too).
  // When set, host and port are not used. Every connection starts at a node
  // picked in turn from a random place in the list (so the processes and
  // the objects of one process spread over the nodes), and when a node does
  // not answer or its connection breaks, goes on with the next.
  std::vector<std::string> nodes;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";

  // Unacknowledged deliveries allowed per consumed queue (basic.qos per
  // consumer; quorum queues refuse a channel-wide limit). 1 to 65535.
  int prefetch = 64;

  // Shown by the broker's management tools; empty means none.
  std::string connection_name;

  // AMQP heartbeat asked of the broker; 0 disables it. Heartbeats are only
  // sent from inside library calls, so a consumer's handler must return well
  // within twice this interval.
  int heartbeat_seconds = 10;

  // TCP connect, and each synchronous AMQP exchange (login, declare, consume
  // set-up, close).
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds rpc_timeout{30000};

  // Consumer reconnects wait this long after a connection loss, doubling up
  // to the maximum while the broker stays unreachable.
  std::chrono::milliseconds reconnect_backoff_min{100};
  std::chrono::milliseconds reconnect_backoff_max{5000};

  // Publisher: messages sent but not yet confirmed, at most.
  int max_in_flight = 1000;
  // Publisher: gives up (UNAVAILABLE) when no confirm arrives for this long
  // while some are outstanding.
  std::chrono::milliseconds confirm_timeout{30000};
  // Publisher: after its connection breaks (or the broker refuses or does
  // not confirm a message), PublishAll connects again, to the next node that
  // answers, and publishes once more every message not yet confirmed
  // (waiting reconnect_backoff_min, doubling up to the maximum, between
  // tries); for this long after the first such failure, 0 for never. It
  // gives up at once when no node accepts a connection.
  std::chrono::milliseconds failover_timeout{15000};
};

// One node of BrokerOptions.
struct BrokerNode {
  std::string host;
  int port = 0;
};

// Parses "host:port" or "[v6 address]:port"; INVALID_ARGUMENT if malformed.
absl::StatusOr<BrokerNode> ParseBrokerNode(absl::string_view text);

// Publishes with `mandatory` set and publisher confirms, so a message no
// queue accepts is an error (UNAVAILABLE), never a silent drop. Any error
// drops the connection; a broken connection, a nack or a missing confirm is
// retried within the call on a new connection (failover_timeout), republishing
// what is unconfirmed, so a message may reach its queue twice. The next
// PublishAll opens a new connection too, as does a call after an idle spell
// longer than the heartbeat interval (the broker may have given up on a
// connection that sent no heartbeats meanwhile).
std::unique_ptr<Publisher> NewAmqpPublisher(const BrokerOptions& options);

// Consumes with manual acks. Run returns NOT_FOUND when a queue does not
// exist, PERMISSION_DENIED when the broker refuses the login or the vhost,
// and INVALID_ARGUMENT for bad options or no queues; other failures are
// retried with backoff, on the next node of a cluster. What was delivered
// and not acked when a connection broke is delivered again.
std::unique_ptr<Consumer> NewAmqpConsumer(const BrokerOptions& options);

// Declares topologies and reads queue depths. DeclareTopology returns
// FAILED_PRECONDITION when an existing queue or exchange was declared with
// other arguments (for example another retry delay TTL), NOT_FOUND from
// Stats when a queue is missing, UNAVAILABLE when the broker is unreachable.
// Stats counts ready messages, not those delivered and unacknowledged.
// A call whose connection breaks is tried once more on each other node.
//
// Queues are quorum queues with the broker's default membership: every
// node of the cluster when declared.
std::unique_ptr<Admin> NewAmqpAdmin(const BrokerOptions& options);

}  // namespace utpost::queue

#endif  // UTPOST_QUEUE_AMQP_BROKER_H_
