#include "cli/output.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "utpost/v1/letter.pb.h"
#include "utpost/v1/ops.pb.h"

namespace utpost::cli {
namespace {

using ::utpost::v1::Letter;

TEST(ToJsonTest, PrintsSixtyFourBitNumbersAsNumbers) {
  v1::Status status;
  auto* sc = status.add_letters();
  sc->set_state(Letter::DELIVERED);
  sc->set_count(12);
  status.set_parked(3);
  status.set_outbox_oldest_pending_seconds(1.5);
  auto* q = status.add_queues();
  q->set_queue("utpost.route");
  q->set_messages(4);
  const auto j = nlohmann::json::parse(ToJson(status));
  ASSERT_TRUE(j["letters"][0]["count"].is_number_integer()) << j.dump();
  EXPECT_EQ(j["letters"][0]["count"], 12);
  EXPECT_EQ(j["letters"][0]["state"], "DELIVERED");
  EXPECT_EQ(j["parked"], 3);
  EXPECT_EQ(j["queues"][0]["messages"], 4);
  EXPECT_DOUBLE_EQ(j["outbox_oldest_pending_seconds"].get<double>(), 1.5);
}

TEST(ToJsonTest, ZeroValuesArePresent) {
  v1::Status status;
  status.add_queues()->set_queue("utpost.route");
  const auto j = nlohmann::json::parse(ToJson(status));
  ASSERT_TRUE(j.contains("parked")) << j.dump();
  EXPECT_EQ(j["parked"], 0);
  EXPECT_EQ(j["outbox_pending"], 0);
  EXPECT_EQ(j["broker_error"], "");
  EXPECT_EQ(j["queues"][0]["consumers"], 0);
  EXPECT_TRUE(j["paused_channels"].is_array());
  EXPECT_TRUE(j["paused_channels"].empty());
}

TEST(ToJsonTest, TimestampsStayStringsAndFieldOrderIsKept) {
  v1::LetterEvent e;
  e.set_cursor(9007199254740993);  // Beyond a double's exact integers.
  e.set_letter_id("id");
  e.mutable_time()->set_seconds(0);
  const std::string text = ToJson(e);
  EXPECT_LT(text.find("\"cursor\""), text.find("\"letter_id\"")) << text;
  EXPECT_NE(text.find("9007199254740993"), std::string::npos) << text;
  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["cursor"].get<int64_t>(), 9007199254740993);
  EXPECT_EQ(j["time"], "1970-01-01T00:00:00Z");
}

TEST(ToJsonTest, NestedMessagesAreFixedToo) {
  v1::SubmitLetterResponse r;
  r.mutable_letter()->add_documents()->set_size_bytes(2048);
  const auto j = nlohmann::json::parse(ToJson(r));
  EXPECT_EQ(j["letter"]["documents"][0]["size_bytes"], 2048);
  EXPECT_EQ(j["created"], false);
}

// Messages as gRPC (BoringSSL/OpenSSL) reports them.
TEST(TransportFailureTest, ARefusedClientCertificateIsNotUnreachable) {
  grpc::Status refused(
      grpc::StatusCode::UNAVAILABLE,
      "failed to connect to all addresses; last error: UNKNOWN: "
      "ipv4:127.0.0.1:7443: Ssl handshake failed: SSL_ERROR_SSL: "
      "error:10000418:SSL routines:OPENSSL_internal:TLSV1_ALERT_UNKNOWN_CA");
  EXPECT_EQ(ClassifyTransportFailure(refused),
            TransportFailure::kClientCertificateRefused);
  EXPECT_EQ(ExitCodeFor(refused), kRefused);

  grpc::Status untrusted(
      grpc::StatusCode::UNAVAILABLE,
      "failed to connect to all addresses; last error: UNKNOWN: "
      "ipv4:127.0.0.1:7443: Ssl handshake failed: SSL_ERROR_SSL: "
      "error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED");
  EXPECT_EQ(ClassifyTransportFailure(untrusted),
            TransportFailure::kServerCertificateRejected);
  EXPECT_EQ(ExitCodeFor(untrusted), kRefused);
}

TEST(TransportFailureTest, NobodyListeningIsUnreachable) {
  grpc::Status down(grpc::StatusCode::UNAVAILABLE,
                    "failed to connect to all addresses; last error: "
                    "UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to remote "
                    "host: Connection refused");
  EXPECT_EQ(ClassifyTransportFailure(down), TransportFailure::kNone);
  EXPECT_EQ(ExitCodeFor(down), kUnreachable);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                     "Deadline Exceeded")),
            kUnreachable);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::NOT_FOUND, "no")),
            kRefused);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "x")),
            kRefused);
  EXPECT_EQ(ExitCodeFor(grpc::Status::OK), kOk);
}

}  // namespace
}  // namespace utpost::cli
