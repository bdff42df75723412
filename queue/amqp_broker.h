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

#include "queue/queue.h"

namespace utpost::queue {

struct BrokerOptions {
  // Where the broker listens and how to log in (SASL PLAIN).
  std::string host = "127.0.0.1";
  int port = 5672;
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
};

// Publishes with `mandatory` set and publisher confirms, so a message no
// queue accepts is an error (UNAVAILABLE), never a silent drop. Any error
// drops the connection; the next PublishAll opens a new one, as does a call
// after an idle spell longer than the heartbeat interval (the broker may
// have given up on a connection that sent no heartbeats meanwhile).
std::unique_ptr<Publisher> NewAmqpPublisher(const BrokerOptions& options);

// Consumes with manual acks. Run returns NOT_FOUND when a queue does not
// exist, PERMISSION_DENIED when the broker refuses the login or the vhost,
// and INVALID_ARGUMENT for bad options or no queues; other failures are
// retried with backoff.
std::unique_ptr<Consumer> NewAmqpConsumer(const BrokerOptions& options);

// Declares topologies and reads queue depths. DeclareTopology returns
// FAILED_PRECONDITION when an existing queue or exchange was declared with
// other arguments (for example another retry delay TTL), NOT_FOUND from
// Stats when a queue is missing, UNAVAILABLE when the broker is unreachable.
// Stats counts ready messages, not those delivered and unacknowledged.
std::unique_ptr<Admin> NewAmqpAdmin(const BrokerOptions& options);

}  // namespace utpost::queue

#endif  // UTPOST_QUEUE_AMQP_BROKER_H_
