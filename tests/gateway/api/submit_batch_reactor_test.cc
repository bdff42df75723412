// SubmitBatchReactor over a real gRPC server on loopback, with a fake
// submission path: one result per letter, matched by index; reading stops
// a window ahead of the results; an unparsable letter fails alone; a
// cancelled stream finishes once its letters are done.
#include "gateway/api/submit_batch_reactor.h"

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "utpost/v1/letter.grpc.pb.h"

namespace utpost::api {
namespace {

using ::testing::HasSubstr;

using BatchServiceBase = v1::LetterService::WithRawCallbackMethod_SubmitBatch<
    v1::LetterService::Service>;

// The submission path: refuses references ending in "-bad", holds the
// letters while `hold` is set, answers the others at once or from another
// thread.
class FakeSubmit {
 public:
  void Call(const v1::SubmitLetterRequest* request,
            v1::SubmitLetterResponse* response,
            std::function<void(absl::Status)> done) {
    std::unique_lock<std::mutex> lock(mu_);
    ++calls_;
    const std::string ref = request->client_reference();
    if (ref.size() > 4 && ref.substr(ref.size() - 4) == "-bad") {
      lock.unlock();
      done(absl::InvalidArgumentError("title: required"));
      return;
    }
    auto answer = [response, ref, done = std::move(done)] {
      response->mutable_letter()->set_id("id-" + ref);
      response->mutable_letter()->set_client_reference(ref);
      response->set_created(true);
      done(absl::OkStatus());
    };
    if (hold_) {
      held_.push_back(std::move(answer));
      return;
    }
    lock.unlock();
    if (calls_ % 2 == 0) {
      std::thread(std::move(answer)).detach();
    } else {
      answer();
    }
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  void Release() {
    std::vector<std::function<void()>> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = false;
      held.swap(held_);
    }
    for (auto& answer : held) answer();
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  int calls_ = 0;
  bool hold_ = false;
  std::vector<std::function<void()>> held_;
};

class BatchService final : public BatchServiceBase {
 public:
  FakeSubmit fake;
  int window = SubmitBatchReactor::kWindow;
  absl::Status refuse;

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* SubmitBatch(
      grpc::CallbackServerContext*) override {
    if (!refuse.ok()) return new SubmitBatchReactor(refuse);
    return new SubmitBatchReactor(
        [this](const v1::SubmitLetterRequest* request,
               v1::SubmitLetterResponse* response,
               std::function<void(absl::Status)> done) {
          fake.Call(request, response, std::move(done));
        },
        window);
  }
};

class SubmitBatchReactorTest : public ::testing::Test {
 protected:
  void Start() {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::LetterService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                            grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::seconds(5));
    }
  }

  static v1::SubmitLetterRequest Letter(const std::string& ref) {
    v1::SubmitLetterRequest r;
    r.set_client_reference(ref);
    r.set_title("Vedtak");
    return r;
  }

  BatchService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::LetterService::Stub> stub_;
};

TEST_F(SubmitBatchReactorTest, EveryLetterGetsOneResultByIndex) {
  Start();
  grpc::ClientContext ctx;
  auto stream = stub_->SubmitBatch(&ctx);
  constexpr int kLetters = 300;
  std::thread writer([&] {
    for (int i = 0; i < kLetters; ++i) {
      const std::string ref =
          "ref-" + std::to_string(i) + (i % 7 == 3 ? "-bad" : "");
      ASSERT_TRUE(stream->Write(Letter(ref)));
    }
    stream->WritesDone();
  });
  std::set<int64_t> seen;
  int ok = 0;
  int refused = 0;
  v1::SubmitBatchResult result;
  while (stream->Read(&result)) {
    EXPECT_TRUE(seen.insert(result.index()).second) << result.index();
    const std::string want_ref = "ref-" + std::to_string(result.index()) +
                                 (result.index() % 7 == 3 ? "-bad" : "");
    EXPECT_EQ(result.client_reference(), want_ref);
    if (result.index() % 7 == 3) {
      ++refused;
      EXPECT_EQ(result.code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(result.message(), "title: required");
      EXPECT_FALSE(result.has_letter());
    } else {
      ++ok;
      EXPECT_EQ(result.code(), 0) << result.message();
      EXPECT_EQ(result.letter().id(), "id-" + want_ref);
      EXPECT_TRUE(result.created());
    }
  }
  writer.join();
  grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(static_cast<int>(seen.size()), kLetters);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), kLetters - 1);
  EXPECT_EQ(refused, 43);
  EXPECT_EQ(ok, kLetters - 43);
}

TEST_F(SubmitBatchReactorTest, ReadsNoFurtherThanTheWindowAhead) {
  service_.window = 8;
  service_.fake.Hold();
  Start();
  grpc::ClientContext ctx;
  auto stream = stub_->SubmitBatch(&ctx);
  constexpr int kLetters = 40;
  std::thread writer([&] {
    for (int i = 0; i < kLetters; ++i) {
      if (!stream->Write(Letter("ref-" + std::to_string(i)))) break;
    }
    stream->WritesDone();
  });
  // The server takes eight letters and then no more while none is answered
  // (the rest stay in the transport, flow-controlled).
  for (int i = 0; i < 500 && service_.fake.calls() < 8; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(service_.fake.calls(), 8);
  service_.fake.Release();
  int results = 0;
  v1::SubmitBatchResult result;
  while (stream->Read(&result)) {
    EXPECT_EQ(result.code(), 0);
    ++results;
  }
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(results, kLetters);
  EXPECT_EQ(service_.fake.calls(), kLetters);
}

TEST_F(SubmitBatchReactorTest, AnUnparsableLetterFailsAloneNamingTheField) {
  Start();
  grpc::ClientContext ctx;
  auto stream = stub_->SubmitBatch(&ctx);
  // Not UTF-8: the server's parser names the field; the stream goes on.
  ASSERT_TRUE(stream->Write(Letter(std::string("ref-\xff\xfe"))));
  ASSERT_TRUE(stream->Write(Letter("ref-good")));
  stream->WritesDone();
  std::vector<v1::SubmitBatchResult> results(2);
  v1::SubmitBatchResult result;
  while (stream->Read(&result)) {
    ASSERT_GE(result.index(), 0);
    ASSERT_LT(result.index(), 2);
    results[result.index()] = result;
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(results[0].code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(results[0].message(), HasSubstr("client_reference"));
  EXPECT_EQ(results[1].code(), 0);
  EXPECT_EQ(results[1].letter().id(), "id-ref-good");
  // The unparsable letter never reached the submission path.
  EXPECT_EQ(service_.fake.calls(), 1);
}

TEST_F(SubmitBatchReactorTest, ACancelledStreamFinishesOnceItsLettersAreDone) {
  service_.fake.Hold();
  Start();
  grpc::ClientContext ctx;
  auto stream = stub_->SubmitBatch(&ctx);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(stream->Write(Letter("ref-" + std::to_string(i))));
  }
  for (int i = 0; i < 500 && service_.fake.calls() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(service_.fake.calls(), 5);
  ctx.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The letters handed to the submission path complete after the client
  // left; the reactor then finishes, and the server shuts down cleanly.
  service_.fake.Release();
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  server_.reset();
}

TEST_F(SubmitBatchReactorTest, ARefusedStreamEndsWithItsStatus) {
  service_.refuse = absl::PermissionDeniedError(
      "LetterService is for tenants; operators use OpsService");
  Start();
  grpc::ClientContext ctx;
  auto stream = stub_->SubmitBatch(&ctx);
  stream->Write(Letter("ref-1"));
  stream->WritesDone();
  v1::SubmitBatchResult result;
  EXPECT_FALSE(stream->Read(&result));
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("for tenants"));
  EXPECT_EQ(service_.fake.calls(), 0);
}

}  // namespace
}  // namespace utpost::api
