#include "adapters/print/print_channel.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adapters/http/fake_http_client.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/pdf_fixtures.h"

namespace utpost::adapters {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::utpost::testing::IsOk;
using ::utpost::testing::MakeTestPdf;
using ::utpost::testing::StatusIs;
using json = nlohmann::json;

HttpResponse Reply(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

OutgoingLetter Letter(std::string id = "msg-1") {
  OutgoingLetter letter;
  letter.message_id = std::move(id);
  letter.tenant = "964338531";
  letter.person_number = "12860150180";
  letter.documents = {
      {"brev.pdf", "application/pdf", MakeTestPdf(3), ""},
      {"vedlegg.pdf", "application/pdf", MakeTestPdf(1, "v"), "given-digest"}};
  letter.recipient_address = {
      "Nora Utenpost", {"Testveien 1"}, "5003", "Bergen", ""};
  letter.return_address = {
      "Bergen kommune", {"Postboks 7700"}, "5020", "Bergen", ""};
  letter.color = true;
  letter.duplex = true;
  letter.a_post = false;
  letter.shred_if_undeliverable = true;
  return letter;
}

struct Part {
  std::string file_name;
  std::string content;
};

// The parts of a multipart/form-data request, by name.
std::map<std::string, Part> PartsOf(const HttpRequest& request) {
  std::string type = *FindHeader(request.headers, "Content-Type");
  std::string delimiter =
      absl::StrCat("--", type.substr(type.find("boundary=") + 9));
  std::map<std::string, Part> parts;
  const std::string& body = request.body;
  size_t pos = body.find(delimiter);
  while (pos != std::string::npos) {
    size_t head = pos + delimiter.size();
    if (body.compare(head, 2, "--") == 0) break;
    size_t header_end = body.find("\r\n\r\n", head);
    size_t next = body.find("\r\n" + delimiter, header_end);
    std::string headers = body.substr(head, header_end - head);
    size_t name = headers.find("name=\"") + 6;
    Part part;
    part.content = body.substr(header_end + 4, next - header_end - 4);
    size_t file = headers.find("filename=\"");
    if (file != std::string::npos) {
      file += 10;
      part.file_name = headers.substr(file, headers.find('"', file) - file);
    }
    parts[headers.substr(name, headers.find('"', name) - name)] = part;
    pos = next + 2;
  }
  return parts;
}

json ManifestOf(const HttpRequest& request) {
  return json::parse(PartsOf(request).at("manifest").content);
}

// A provider that takes every letter, except those whose ids are listed as
// refused or known.
HttpResponse Answer(const HttpRequest& request,
                    const std::map<std::string, std::string>& special = {}) {
  json manifest = ManifestOf(request);
  json letters = json::array();
  for (const json& letter : manifest["letters"]) {
    std::string id = letter["message_id"];
    auto it = special.find(id);
    std::string status = it == special.end() ? "RECEIVED" : it->second;
    json answer = {{"message_id", id}, {"status", status}};
    if (status == "REJECTED") {
      answer["error"] = {{"code", "ADDRESS_UNKNOWN"},
                         {"message", "no such street for 12860150180"}};
    }
    letters.push_back(answer);
  }
  return Reply(
      200, json{{"job_id", manifest["job_id"]}, {"letters", letters}}.dump());
}

PrintOptions Options() {
  PrintOptions options;
  options.base_url = "https://print.test/";
  options.max_wait_ms = 1;
  return options;
}

TEST(PrintChannelTest, SendsManifestThenDocuments) {
  FakeHttpClient http([](const HttpRequest& r) { return Answer(r); });
  auto channel = NewPrintChannel(Options(), &http);
  EXPECT_EQ(channel->name(), "print");
  OutgoingLetter letter = Letter();
  absl::StatusOr<SendResult> result = channel->Send(letter);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->outcome, SendResult::Outcome::kAccepted);
  EXPECT_FALSE(result->delivered);
  EXPECT_THAT(result->provider_reference, HasSubstr("RECEIVED"));

  std::vector<HttpRequest> requests = http.requests();
  ASSERT_EQ(requests.size(), 1u);
  const HttpRequest& request = requests[0];
  EXPECT_EQ(request.url, "https://print.test/print/v1/jobs");
  EXPECT_THAT(*FindHeader(request.headers, "Content-Type"),
              StartsWith("multipart/form-data; boundary="));
  EXPECT_LT(request.body.find("name=\"manifest\""),
            request.body.find("filename=\"brev.pdf\""));

  std::map<std::string, Part> parts = PartsOf(request);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts["document-0-0"].file_name, "brev.pdf");
  EXPECT_EQ(parts["document-0-0"].content, letter.documents[0].content);
  EXPECT_EQ(parts["document-0-1"].content, letter.documents[1].content);

  json manifest = ManifestOf(request);
  ASSERT_EQ(manifest["letters"].size(), 1u);
  const json& m = manifest["letters"][0];
  EXPECT_EQ(m["message_id"], "msg-1");
  EXPECT_EQ(m["sender"]["organisation_number"], "964338531");
  EXPECT_EQ(m["recipient"], json::parse(R"({"name": "Nora Utenpost",
              "address_lines": ["Testveien 1"], "postal_code": "5003",
              "city": "Bergen", "country_code": "NO"})"));
  EXPECT_EQ(m["return_address"]["name"], "Bergen kommune");
  EXPECT_EQ(m["colour"], "COLORS");
  EXPECT_EQ(m["duplex"], true);
  EXPECT_EQ(m["post_type"], "B");
  EXPECT_EQ(m["return_handling"], "SHRED");
  EXPECT_EQ(m["cover_page"], false);
  // Duplex: 3 pages are 2 sheets, 1 page 1 sheet.
  EXPECT_EQ(m["pages"], 4);
  EXPECT_EQ(m["sheets"], 3);
  ASSERT_EQ(m["documents"].size(), 2u);
  EXPECT_EQ(m["documents"][0]["part"], "document-0-0");
  EXPECT_EQ(m["documents"][0]["file_name"], "brev.pdf");
  EXPECT_EQ(m["documents"][0]["sha256"],
            Sha256Hex(letter.documents[0].content));
  EXPECT_EQ(m["documents"][0]["pages"], 3);
  EXPECT_EQ(m["documents"][1]["sha256"], "given-digest");
}

TEST(PrintChannelTest, SimplexCountsASheetPerPage) {
  FakeHttpClient http([](const HttpRequest& r) { return Answer(r); });
  auto channel = NewPrintChannel(Options(), &http);
  OutgoingLetter letter = Letter();
  letter.color = false;
  letter.duplex = false;
  letter.a_post = true;
  letter.shred_if_undeliverable = false;
  ASSERT_THAT(channel->Send(letter), IsOk());
  const json m = ManifestOf(http.requests()[0])["letters"][0];
  EXPECT_EQ(m["colour"], "MONOCHROME");
  EXPECT_EQ(m["post_type"], "A");
  EXPECT_EQ(m["return_handling"], "RETURN_TO_SENDER");
  EXPECT_EQ(m["sheets"], 4);
}

TEST(PrintChannelTest, ConcurrentSendsShareJobsAndEachGetsItsOwnResult) {
  constexpr int kLetters = 10;
  constexpr int kPerJob = 4;
  FakeHttpClient http([](const HttpRequest& r) {
    return Answer(r, {{"msg-3", "REJECTED"}, {"msg-7", "DUPLICATE"}});
  });
  PrintOptions options = Options();
  options.max_letters_per_job = kPerJob;
  // Long enough for all threads to arrive; a full job does not wait.
  options.max_wait_ms = 1000;
  auto channel = NewPrintChannel(options, &http);

  std::vector<absl::StatusOr<SendResult>> results(
      kLetters, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kLetters; ++i) {
    threads.emplace_back([&, i] {
      results[i] = channel->Send(Letter(absl::StrCat("msg-", i)));
    });
  }
  for (std::thread& t : threads) t.join();

  std::vector<HttpRequest> requests = http.requests();
  EXPECT_EQ(requests.size(),
            static_cast<size_t>((kLetters + kPerJob - 1) / kPerJob));
  std::map<std::string, int> seen;
  for (const HttpRequest& request : requests) {
    json manifest = ManifestOf(request);
    EXPECT_LE(manifest["letters"].size(), static_cast<size_t>(kPerJob));
    EXPECT_EQ(PartsOf(request).size(), 1 + 2 * manifest["letters"].size());
    for (const json& letter : manifest["letters"]) {
      ++seen[letter["message_id"].get<std::string>()];
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kLetters));
  for (const auto& [id, times] : seen) EXPECT_EQ(times, 1) << id;

  for (int i = 0; i < kLetters; ++i) {
    if (i == 3) {
      EXPECT_THAT(results[i],
                  StatusIs(absl::StatusCode::kInvalidArgument,
                           AllOf(HasSubstr("ADDRESS_UNKNOWN"),
                                 HasSubstr("no such street for 128601*****"))));
    } else if (i == 7) {
      ASSERT_THAT(results[i], IsOk());
      EXPECT_EQ(results[i]->outcome, SendResult::Outcome::kDuplicate);
    } else {
      ASSERT_THAT(results[i], IsOk()) << i;
      EXPECT_EQ(results[i]->outcome, SendResult::Outcome::kAccepted) << i;
    }
  }
}

TEST(PrintChannelTest, LoneLetterIsNotDelayedLong) {
  FakeHttpClient http([](const HttpRequest& r) { return Answer(r); });
  PrintOptions options = Options();
  options.max_wait_ms = 20;
  auto channel = NewPrintChannel(options, &http);
  absl::Time start = absl::Now();
  ASSERT_THAT(channel->Send(Letter()), IsOk());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(PrintChannelTest, SameLetterTwiceAtOnceTravelsInTwoJobs) {
  absl::Mutex mu;
  std::map<std::string, int> received;
  FakeHttpClient http([&](const HttpRequest& r) {
    json manifest = ManifestOf(r);
    std::map<std::string, std::string> special;
    absl::MutexLock lock(&mu);
    for (const json& letter : manifest["letters"]) {
      if (received[letter["message_id"]]++ > 0) {
        special[letter["message_id"]] = "DUPLICATE";
      }
    }
    return Answer(r, special);
  });
  PrintOptions options = Options();
  options.max_wait_ms = 300;
  auto channel = NewPrintChannel(options, &http);
  std::vector<absl::StatusOr<SendResult>> results(
      2, absl::UnknownError("not run"));
  std::thread a([&] { results[0] = channel->Send(Letter("same")); });
  std::thread b([&] { results[1] = channel->Send(Letter("same")); });
  a.join();
  b.join();
  EXPECT_EQ(http.requests().size(), 2u);
  ASSERT_THAT(results[0], IsOk());
  ASSERT_THAT(results[1], IsOk());
  EXPECT_NE(results[0]->outcome, results[1]->outcome);
}

TEST(PrintChannelTest, JobErrorsGoToEveryLetterClassified) {
  int status = 0;
  FakeHttpClient http([&status](const HttpRequest&) {
    return Reply(status,
                 R"({"error": {"code": "X", "message": "for 12860150180"}})");
  });
  auto channel = NewPrintChannel(Options(), &http);
  status = 503;
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  status = 408;
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("408")));
  status = 400;  // A job of one letter: that letter is refused.
  EXPECT_THAT(
      channel->Send(Letter()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("128601*****"), Not(HasSubstr("12860150180")))));
  for (int refusal : {413, 414, 422, 431}) {
    status = refusal;
    EXPECT_THAT(channel->Send(Letter()),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(std::to_string(refusal))));
  }
  status = 403;
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("X")));
  status = 429;
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("X")));
  for (int set_up : {404, 409, 415}) {
    status = set_up;
    absl::StatusOr<SendResult> result = channel->Send(Letter());
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr(std::to_string(set_up))));
    EXPECT_FALSE(IsLetterRefusal(result.status()));
  }
}

TEST(PrintChannelTest, RefusedJobOfSeveralLettersIsSplitUntilEachHasAVerdict) {
  // A provider that refuses every job: each letter ends up refused alone,
  // with the provider's words, never a retried set-up error.
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(400, R"({"error": {"code": "INVALID_MANIFEST"}})");
  });
  PrintOptions options = Options();
  options.max_letters_per_job = 2;
  options.max_wait_ms = 2000;
  auto channel = NewPrintChannel(options, &http);
  std::vector<absl::StatusOr<SendResult>> results(
      2, absl::UnknownError("not run"));
  std::thread a([&] { results[0] = channel->Send(Letter("a")); });
  std::thread b([&] { results[1] = channel->Send(Letter("b")); });
  a.join();
  b.join();
  ASSERT_EQ(http.requests().size(), 3u);  // The job, then each alone.
  EXPECT_EQ(ManifestOf(http.requests()[0])["letters"].size(), 2u);
  EXPECT_EQ(ManifestOf(http.requests()[1])["letters"].size(), 1u);
  EXPECT_EQ(ManifestOf(http.requests()[2])["letters"].size(), 1u);
  for (const auto& result : results) {
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("INVALID_MANIFEST")));
  }
}

// Sends `ids` at once so that they travel in one first job; returns the
// results by id.
std::map<std::string, absl::StatusOr<SendResult>> SendTogether(
    Channel* channel, const std::vector<std::string>& ids) {
  std::vector<absl::StatusOr<SendResult>> results(
      ids.size(), absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back(
        [&, i] { results[i] = channel->Send(Letter(ids[i])); });
  }
  for (std::thread& t : threads) t.join();
  std::map<std::string, absl::StatusOr<SendResult>> by_id;
  for (size_t i = 0; i < ids.size(); ++i) by_id.emplace(ids[i], results[i]);
  return by_id;
}

// A provider that refuses, as a whole and without naming it, every job
// that holds a letter whose id starts with "bad"; takes the others and
// counts how often it took each.
class RefusingProvider {
 public:
  explicit RefusingProvider(int status = 400) : status_(status) {}
  absl::StatusOr<HttpResponse> operator()(const HttpRequest& request) {
    json manifest = ManifestOf(request);
    absl::MutexLock lock(&mu_);
    ++jobs_;
    for (const json& letter : manifest["letters"]) {
      if (letter["message_id"].get<std::string>().rfind("bad", 0) == 0) {
        return Reply(status_,
                     R"({"error": {"code": "INVALID_DOCUMENT_NAME",
                                   "message": "file name too long"}})");
      }
    }
    for (const json& letter : manifest["letters"]) {
      ++accepted_[letter["message_id"].get<std::string>()];
    }
    return Answer(request);
  }
  int jobs() {
    absl::MutexLock lock(&mu_);
    return jobs_;
  }
  std::map<std::string, int> accepted() {
    absl::MutexLock lock(&mu_);
    return accepted_;
  }

 private:
  const int status_;
  absl::Mutex mu_;
  int jobs_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> accepted_ ABSL_GUARDED_BY(mu_);
};

int CeilLog2(int n) {
  int k = 0;
  while ((1 << k) < n) ++k;
  return k;
}

TEST(PrintChannelTest, OneBadLetterIsFoundByHalvingAndTheRestArePrinted) {
  for (int n : {2, 3, 8, 11, 64}) {
    for (int bad_at : {0, n / 2, n - 1}) {
      RefusingProvider provider;
      FakeHttpClient http(
          [&provider](const HttpRequest& r) { return provider(r); });
      PrintOptions options = Options();
      options.max_letters_per_job = n;
      options.max_wait_ms = 5000;  // A full job goes at once.
      auto channel = NewPrintChannel(options, &http);
      std::vector<std::string> ids;
      for (int i = 0; i < n; ++i) {
        ids.push_back(i == bad_at ? "bad" : absl::StrCat("good-", i));
      }
      auto results = SendTogether(channel.get(), ids);
      SCOPED_TRACE(absl::StrCat("n=", n, " bad_at=", bad_at));
      EXPECT_EQ(ManifestOf(http.requests()[0])["letters"].size(),
                static_cast<size_t>(n));
      EXPECT_THAT(results.at("bad"),
                  StatusIs(absl::StatusCode::kInvalidArgument,
                           AllOf(HasSubstr("HTTP 400"),
                                 HasSubstr("INVALID_DOCUMENT_NAME"),
                                 HasSubstr("file name too long"))));
      std::map<std::string, int> accepted = provider.accepted();
      EXPECT_EQ(accepted.size(), static_cast<size_t>(n - 1));
      for (const std::string& id : ids) {
        if (id == "bad") continue;
        ASSERT_THAT(results.at(id), IsOk()) << id;
        EXPECT_EQ(results.at(id)->outcome, SendResult::Outcome::kAccepted);
        EXPECT_EQ(accepted[id], 1) << id;
      }
      EXPECT_LE(provider.jobs(), 1 + 2 * CeilLog2(n));
    }
  }
}

TEST(PrintChannelTest, TwoBadLettersFailAloneAndOnlyThey) {
  RefusingProvider provider(422);
  FakeHttpClient http(
      [&provider](const HttpRequest& r) { return provider(r); });
  PrintOptions options = Options();
  options.max_letters_per_job = 16;
  options.max_wait_ms = 5000;
  auto channel = NewPrintChannel(options, &http);
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) {
    ids.push_back(i == 3 || i == 12 ? absl::StrCat("bad-", i)
                                    : absl::StrCat("good-", i));
  }
  auto results = SendTogether(channel.get(), ids);
  for (const std::string& id : ids) {
    if (id.rfind("bad", 0) == 0) {
      EXPECT_THAT(results.at(id), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("HTTP 422")))
          << id;
    } else {
      EXPECT_THAT(results.at(id), IsOk()) << id;
      EXPECT_EQ(provider.accepted()[id], 1) << id;
    }
  }
  EXPECT_LE(provider.jobs(), 1 + 2 * 2 * CeilLog2(16));
}

TEST(PrintChannelTest, RefusedJobThatNamesItsBadLettersIsSentAgainWithout) {
  absl::Mutex mu;
  std::vector<size_t> job_sizes;
  FakeHttpClient http([&](const HttpRequest& r) {
    json manifest = ManifestOf(r);
    {
      absl::MutexLock lock(&mu);
      job_sizes.push_back(manifest["letters"].size());
    }
    for (const json& letter : manifest["letters"]) {
      if (letter["message_id"] == "bad") {
        return Reply(400, json{{"error", {{"code", "INVALID_JOB"}}},
                               {"letters",
                                {{{"message_id", "bad"},
                                  {"status", "REJECTED"},
                                  {"error",
                                   {{"code", "NAME_TOO_LONG"},
                                    {"message", "recipient name"}}}}}}}
                              .dump());
      }
    }
    return Answer(r);
  });
  PrintOptions options = Options();
  options.max_letters_per_job = 5;
  options.max_wait_ms = 5000;
  auto channel = NewPrintChannel(options, &http);
  auto results = SendTogether(channel.get(), {"a", "b", "bad", "c", "d"});
  EXPECT_THAT(results.at("bad"), StatusIs(absl::StatusCode::kInvalidArgument,
                                          AllOf(HasSubstr("NAME_TOO_LONG"),
                                                HasSubstr("recipient name"))));
  for (const char* id : {"a", "b", "c", "d"}) {
    EXPECT_THAT(results.at(id), IsOk()) << id;
  }
  EXPECT_EQ(job_sizes, (std::vector<size_t>{5, 4}));
}

TEST(PrintChannelTest, TransientErrorOfAJobIsNotSplit) {
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(503, R"({"error": {"code": "BUSY"}})");
  });
  PrintOptions options = Options();
  options.max_letters_per_job = 4;
  options.max_wait_ms = 5000;
  auto channel = NewPrintChannel(options, &http);
  auto results = SendTogether(channel.get(), {"a", "b", "c", "d"});
  EXPECT_EQ(http.requests().size(), 1u);
  for (const auto& [id, result] : results) {
    EXPECT_THAT(result,
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("BUSY")));
  }
}

TEST(PrintChannelTest, LetterMissingFromReplyIsTransient) {
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(200, R"({"job_id": "j", "letters": []})");
  });
  auto channel = NewPrintChannel(Options(), &http);
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("does not mention the letter")));
}

TEST(PrintChannelTest, MalformedUrlIsNotALetterRefusal) {
  FakeHttpClient http([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return absl::InvalidArgumentError("URL using bad/illegal format");
  });
  auto channel = NewPrintChannel(Options(), &http);
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("bad/illegal")));
}

TEST(PrintChannelTest, RefusesLettersItCannotPrint) {
  FakeHttpClient http([](const HttpRequest& r) { return Answer(r); });
  auto channel = NewPrintChannel(Options(), &http);
  OutgoingLetter no_address = Letter();
  no_address.recipient_address = {};
  EXPECT_THAT(
      channel->Send(no_address),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("address")));
  OutgoingLetter no_documents = Letter();
  no_documents.documents.clear();
  EXPECT_THAT(
      channel->Send(no_documents),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("documents")));
  OutgoingLetter not_pdf = Letter();
  not_pdf.documents[1].content = "%PDF-1.7\nnot really";
  EXPECT_THAT(
      channel->Send(not_pdf),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("documents[1]")));
  EXPECT_TRUE(http.requests().empty());
}

TEST(PrintChannelTest, CoverPageGoesInFrontOfTheFirstDocument) {
  FakeHttpClient http([](const HttpRequest& r) { return Answer(r); });
  PrintOptions options = Options();
  options.cover_page = true;
  auto channel = NewPrintChannel(options, &http);
  OutgoingLetter letter = Letter();
  letter.documents[0].sha256_hex = "stale";
  ASSERT_THAT(channel->Send(letter), IsOk());
  const HttpRequest request = http.requests()[0];
  const json m = ManifestOf(request)["letters"][0];
  EXPECT_EQ(m["cover_page"], true);
  // Duplex: the cover and its blank back, then the letter's 3 pages.
  EXPECT_EQ(m["documents"][0]["pages"], 5);
  EXPECT_EQ(m["pages"], 6);
  EXPECT_EQ(m["sheets"], 4);
  const std::string sent = PartsOf(request).at("document-0-0").content;
  EXPECT_NE(sent, letter.documents[0].content);
  EXPECT_EQ(m["documents"][0]["sha256"], Sha256Hex(sent));
  EXPECT_EQ(PartsOf(request).at("document-0-1").content,
            letter.documents[1].content);
}

TEST(PrintChannelTest, CoverPageWithoutItsFontIsASetUpProblem) {
  FakeHttpClient http([](const HttpRequest& r) { return Answer(r); });
  PrintOptions options = Options();
  options.cover_page = true;
  options.cover_page_options.font_file = "/nonexistent/font.ttf";
  auto channel = NewPrintChannel(options, &http);
  EXPECT_THAT(channel->Send(Letter()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("/nonexistent/font.ttf")));
}

TEST(PrintChannelTest, HugeAddressFieldsStillMakeACoverPage) {
  FakeHttpClient http([](const HttpRequest& r) { return Answer(r); });
  PrintOptions options = Options();
  options.cover_page = true;
  auto channel = NewPrintChannel(options, &http);
  OutgoingLetter letter = Letter();
  letter.recipient_address.name = std::string(1 << 20, 'N');
  letter.recipient_address.city = std::string(100 << 10, 'C');
  letter.recipient_address.lines = {std::string(70000, 'L')};
  letter.return_address.name = std::string(1 << 20, 'R');
  absl::Time start = absl::Now();
  ASSERT_THAT(channel->Send(letter), IsOk());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(ManifestOf(http.requests()[0])["letters"][0]["cover_page"], true);
}

TEST(PrintChannelTest, FetchesEventsAndConfirmsThem) {
  FakeHttpClient http([](const HttpRequest& r) {
    if (r.method == "GET") {
      return Reply(200, R"({"events": [
        {"id": "1", "message_id": "m1", "type": "RECEIVED", "time_ms": 10},
        {"id": "2", "message_id": "m1", "type": "POSTED", "time_ms": 20},
        {"id": "3", "message_id": "m2", "type": "RETURNED", "time_ms": 30,
         "reason": "moved away"},
        {"id": "4", "message_id": "m3", "type": "FAILED", "reason": "jam"},
        {"id": "5", "message_id": "m3", "type": "SOMETHING_NEW"}]})");
    }
    return Reply(204, "");
  });
  auto channel = NewPrintChannel(Options(), &http);
  absl::StatusOr<std::vector<ProviderEvent>> events = channel->FetchEvents(50);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].kind, ProviderEvent::Kind::kPrintReceived);
  EXPECT_EQ((*events)[0].event_id, "1");
  EXPECT_EQ((*events)[0].message_id, "m1");
  EXPECT_EQ((*events)[0].time_ms, 10);
  EXPECT_EQ((*events)[1].kind, ProviderEvent::Kind::kPosted);
  EXPECT_EQ((*events)[2].kind, ProviderEvent::Kind::kReturned);
  EXPECT_EQ((*events)[2].reason, "moved away");
  EXPECT_EQ((*events)[3].kind, ProviderEvent::Kind::kFailed);
  EXPECT_EQ((*events)[3].provider, "print");
  EXPECT_THAT((*events)[3].evidence, HasSubstr("jam"));

  std::vector<HttpRequest> requests = http.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].url, "https://print.test/print/v1/events?limit=50");
  // The event nobody can use is acknowledged at once.
  EXPECT_EQ(requests[1].url, "https://print.test/print/v1/events/ack");
  EXPECT_EQ(json::parse(requests[1].body)["event_ids"], json({"5"}));

  ASSERT_THAT(channel->ConfirmEvents({"1", "2"}), IsOk());
  EXPECT_EQ(json::parse(http.requests()[2].body)["event_ids"],
            json({"1", "2"}));
  EXPECT_THAT(channel->ConfirmEvents({}), IsOk());
  EXPECT_EQ(http.requests().size(), 3u);
}

TEST(PrintChannelTest, EventFeedErrorsAreClassified) {
  FakeHttpClient http([](const HttpRequest&) { return Reply(503, ""); });
  auto channel = NewPrintChannel(Options(), &http);
  EXPECT_THAT(channel->FetchEvents(10),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  EXPECT_THAT(channel->ConfirmEvents({"1"}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
}

}  // namespace
}  // namespace utpost::adapters
