// BrokerOptions::nodes without a broker: parsing, validation, and the
// order in which a client tries the nodes.

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue/amqp_broker.h"
#include "queue/amqp_connection.h"

namespace utpost::queue {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

TEST(ParseBrokerNodeTest, HostAndPort) {
  absl::StatusOr<BrokerNode> node = ParseBrokerNode("rabbit-2.example:5673");
  ASSERT_THAT(node.status(), IsOk());
  EXPECT_EQ(node->host, "rabbit-2.example");
  EXPECT_EQ(node->port, 5673);
  EXPECT_EQ(NodeName(*node), "rabbit-2.example:5673");
}

TEST(ParseBrokerNodeTest, BracketedIpv6) {
  absl::StatusOr<BrokerNode> node = ParseBrokerNode("[::1]:5672");
  ASSERT_THAT(node.status(), IsOk());
  EXPECT_EQ(node->host, "::1");
  EXPECT_EQ(node->port, 5672);
  EXPECT_EQ(NodeName(*node), "[::1]:5672");
}

TEST(ParseBrokerNodeTest, RejectsMalformed) {
  for (const char* bad :
       {"", "host", "host:", ":5672", "host:0", "host:65536", "host:56x",
        "host:+5672", "host:-1", "::1:5672", "[::1]5672", "[::1", "[]:5672",
        "ho st:5672", "host/x:5672", "host:123456"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseBrokerNode(bad).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'")));
  }
}

TEST(ValidateBrokerOptionsTest, NamesTheBadNode) {
  BrokerOptions options;
  options.nodes = {"a:1", "b:2", "c"};
  EXPECT_THAT(
      ValidateBrokerOptions(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nodes[2]")));
  options.nodes = {"a:1", "b:2", "c:3"};
  // Host and port are not used when nodes are given.
  options.host = "";
  options.port = 0;
  EXPECT_THAT(ValidateBrokerOptions(options), IsOk());
}

TEST(NodeRingTest, OneNodeFromHostAndPort) {
  BrokerOptions options;
  options.host = "10.0.0.5";
  options.port = 5700;
  absl::StatusOr<NodeRing> ring = NodeRing::Of(options);
  ASSERT_THAT(ring.status(), IsOk());
  EXPECT_EQ(ring->size(), 1u);
  EXPECT_EQ(NodeName(ring->current()), "10.0.0.5:5700");
  ring->Advance();
  EXPECT_EQ(NodeName(ring->current()), "10.0.0.5:5700");
}

TEST(NodeRingTest, RingsMadeInTurnStartAtSuccessiveNodes) {
  BrokerOptions options;
  options.nodes = {"a:1", "b:2", "c:3"};
  std::vector<std::string> starts;
  for (int i = 0; i < 6; ++i) {
    absl::StatusOr<NodeRing> ring = NodeRing::Of(options);
    ASSERT_THAT(ring.status(), IsOk());
    starts.push_back(NodeName(ring->current()));
  }
  // Wherever the first one starts, each next one starts one further on.
  const std::vector<std::string> order = {"a:1", "b:2", "c:3"};
  const size_t first =
      std::find(order.begin(), order.end(), starts[0]) - order.begin();
  ASSERT_LT(first, order.size());
  for (size_t i = 0; i < starts.size(); ++i) {
    EXPECT_EQ(starts[i], order[(first + i) % order.size()]) << i;
  }
}

TEST(NodeRingTest, AdvanceVisitsEveryNodeThenWraps) {
  BrokerOptions options;
  options.nodes = {"a:1", "b:2", "c:3"};
  absl::StatusOr<NodeRing> ring = NodeRing::Of(options);
  ASSERT_THAT(ring.status(), IsOk());
  const std::string first = NodeName(ring->current());
  std::set<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    seen.insert(NodeName(ring->current()));
    ring->Advance();
  }
  EXPECT_EQ(seen, (std::set<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_EQ(NodeName(ring->current()), first);
}

TEST(NodeRingTest, BadOptionsAreInvalidArgument) {
  BrokerOptions options;
  options.nodes = {"a:1", "nope"};
  EXPECT_THAT(
      NodeRing::Of(options).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nodes[1]")));
}

}  // namespace
}  // namespace utpost::queue
