// Finding a letter by a unique id prefix, against a fake LetterService and
// OpsService that answer ListLetters from a fixed set of ids.
#include "cli/letter_lookup.h"

#include <sstream>

#include "absl/strings/match.h"
#include "cli/output.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "utpost/v1/letter.grpc.pb.h"
#include "utpost/v1/ops.grpc.pb.h"

namespace utpost::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kIds = {
    "0b7c9f2e-5d1a-4c3e-9f00-1a2b3c4d5e6f",
    "0b7c1111-5d1a-4c3e-9f00-1a2b3c4d5e6f",
    "9a000000-0000-4000-8000-000000000001",
};

class FakeLetters final : public v1::LetterService::Service {
 public:
  bool refuse = false;  // As for an operator's certificate.
  int calls = 0;
  grpc::Status ListLetters(grpc::ServerContext*,
                           const v1::ListLettersRequest* request,
                           v1::ListLettersResponse* response) override {
    ++calls;
    if (refuse) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "operator");
    }
    for (const auto& id : kIds) {
      if (absl::StartsWith(id, request->id_prefix())) {
        auto* l = response->add_letters();
        l->set_id(id);
        l->set_client_reference("ref-" + id.substr(0, 8));
        l->set_state(v1::Letter::DELIVERED);
      }
    }
    return grpc::Status::OK;
  }
};

class FakeOps final : public v1::OpsService::Service {
 public:
  int calls = 0;
  grpc::Status ListLetters(grpc::ServerContext*,
                           const v1::OpsListLettersRequest* request,
                           v1::OpsListLettersResponse* response) override {
    ++calls;
    for (const auto& id : kIds) {
      if (absl::StartsWith(id, request->id_prefix())) {
        auto* ol = response->add_letters();
        ol->mutable_letter()->set_id(id);
        ol->set_tenant("964338531");
      }
    }
    return grpc::Status::OK;
  }
};

class LetterLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&letters_);
    b.RegisterService(&ops_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
    c_.timeout_seconds = 10;
    c_.server = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override { server_->Shutdown(); }

  // Runs ResolveLetterId; its stderr goes to `err_`.
  int Resolve(const std::string& arg, LookupScope scope) {
    err_.str("");
    id_.clear();
    auto* old = std::cerr.rdbuf(err_.rdbuf());
    const int code = ResolveLetterId(c_, channel_, arg, scope, &id_);
    std::cerr.rdbuf(old);
    return code;
  }

  FakeLetters letters_;
  FakeOps ops_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  ConnectionOptions c_;
  std::ostringstream err_;
  std::string id_;
};

TEST_F(LetterLookupTest, AWholeIdNeedsNoCall) {
  EXPECT_EQ(Resolve("letters/9A000000-0000-4000-8000-000000000001",
                    LookupScope::kTenant),
            kOk);
  EXPECT_EQ(id_, "9a000000-0000-4000-8000-000000000001");
  EXPECT_EQ(letters_.calls, 0);
}

TEST_F(LetterLookupTest, AUniquePrefixFindsTheLetter) {
  EXPECT_EQ(Resolve("9a00", LookupScope::kTenant), kOk) << err_.str();
  EXPECT_EQ(id_, "9a000000-0000-4000-8000-000000000001");
  EXPECT_EQ(Resolve("0B7C9", LookupScope::kTenant), kOk) << err_.str();
  EXPECT_EQ(id_, kIds[0]);
}

TEST_F(LetterLookupTest, AnAmbiguousPrefixExits2AndListsTheCandidates) {
  EXPECT_EQ(Resolve("0b7c", LookupScope::kTenant), kUsage);
  EXPECT_EQ(id_, "");
  EXPECT_THAT(err_.str(), HasSubstr("\"0b7c\" is ambiguous: it matches "
                                    "2 letters"));
  EXPECT_THAT(err_.str(), HasSubstr(kIds[0]));
  EXPECT_THAT(err_.str(), HasSubstr(kIds[1]));
  EXPECT_THAT(err_.str(), Not(HasSubstr(kIds[2])));
}

TEST_F(LetterLookupTest, NoMatchIsNotFoundAndExits1) {
  EXPECT_EQ(Resolve("ffff", LookupScope::kTenant), kRefused);
  EXPECT_THAT(err_.str(), HasSubstr("NOT_FOUND: no letter id starts with"));
}

TEST_F(LetterLookupTest, BadArgumentsExit2WithoutACall) {
  EXPECT_EQ(Resolve("0b7", LookupScope::kTenant), kUsage);
  EXPECT_THAT(err_.str(), HasSubstr("at least 4"));
  EXPECT_EQ(Resolve("0b7c%", LookupScope::kTenant), kUsage);
  EXPECT_THAT(err_.str(), HasSubstr("is not a letter id"));
  EXPECT_EQ(letters_.calls, 0);
}

TEST_F(LetterLookupTest, OperatorsLookAcrossTenants) {
  EXPECT_EQ(Resolve("9a00", LookupScope::kOperator), kOk);
  EXPECT_EQ(ops_.calls, 1);
  EXPECT_EQ(letters_.calls, 0);
  // Either: the tenants' service refuses an operator, so the operators'
  // one is asked.
  letters_.refuse = true;
  EXPECT_EQ(Resolve("0b7c9", LookupScope::kEither), kOk) << err_.str();
  EXPECT_EQ(id_, kIds[0]);
  EXPECT_EQ(ops_.calls, 2);
  // A tenant-only look-up reports the refusal.
  EXPECT_EQ(Resolve("0b7c9", LookupScope::kTenant), kRefused);
  EXPECT_THAT(err_.str(), HasSubstr("PERMISSION_DENIED"));
}

}  // namespace
}  // namespace utpost::cli
