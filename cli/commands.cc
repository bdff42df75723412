#include "cli/commands.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/arguments.h"
#include "cli/letter_lookup.h"
#include "cli/output.h"
#include "cli/text.h"
#include "cli/tls_probe.h"
#include "common/digest.h"
#include "common/logging/logging.h"
#include "common/yaml_proto.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "utpost/v1/letter.grpc.pb.h"
#include "yaml-cpp/yaml.h"

namespace utpost::cli {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::TimeUtil;

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

std::string When(const google::protobuf::Timestamp& t) {
  return TimeUtil::ToString(t);
}

std::string StateName(v1::Letter::State s) { return v1::Letter::State_Name(s); }

void SetDeadline(grpc::ClientContext* ctx, const ConnectionOptions& c) {
  if (c.timeout_seconds > 0) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(c.timeout_seconds));
  }
}

// The channel to the server; null (and the exit code in `*err`) when a
// file it needs cannot be read.
std::shared_ptr<grpc::Channel> OpenChannel(const ConnectionOptions& c,
                                           int* err) {
  auto channel = Connect(c);
  if (!channel.ok()) {
    std::cerr << "utpostctl: " << channel.status().message() << "\n";
    *err = kUsage;
    return nullptr;
  }
  return *channel;
}

template <typename Stub>
std::unique_ptr<Stub> MakeStub(const ConnectionOptions& c, int* err) {
  auto channel = OpenChannel(c, err);
  if (!channel) return nullptr;
  return std::make_unique<Stub>(channel);
}

std::string ReadFileOr(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path;
    return "";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads a letter file into a request; documents from its `files:` list and
// from `pdfs`.
// `text` is one letter (YAML or JSON) named `label` in messages; its
// `files:` are relative to `base`.
bool LoadLetterText(std::string text, const std::string& label,
                    const fs::path& base, const std::vector<std::string>& pdfs,
                    v1::SubmitLetterRequest* request, std::string* error) {
  const std::string& letter_file = label;
  std::vector<std::string> files;
  try {
    YAML::Node root = YAML::Load(text);
    if (root["files"]) {
      for (const auto& f : root["files"]) {
        files.push_back((base / f.as<std::string>()).string());
      }
      root.remove("files");
    }
    YAML::Emitter emitter;
    emitter << root;
    text = emitter.c_str();
  } catch (const YAML::Exception& e) {
    *error = letter_file + ": " + e.what();
    return false;
  }
  auto s = YamlToProto(text, letter_file, request);
  if (!s.ok()) {
    *error = std::string(s.message());
    return false;
  }
  files.insert(files.end(), pdfs.begin(), pdfs.end());
  for (const auto& f : files) {
    auto* d = request->add_documents();
    d->set_file_name(fs::path(f).filename().string());
    d->set_media_type("application/pdf");
    d->set_content(ReadFileOr(f, error));
    if (!error->empty()) return false;
  }
  return true;
}

bool LoadLetter(const std::string& letter_file,
                const std::vector<std::string>& pdfs,
                v1::SubmitLetterRequest* request, std::string* error) {
  std::string text = ReadFileOr(letter_file, error);
  if (!error->empty()) return false;
  return LoadLetterText(std::move(text), letter_file,
                        fs::path(letter_file).parent_path(), pdfs, request,
                        error);
}

// Whether the server refused our certificate, asked at most once per
// `once` (ProbeTls); the answer stays in `*probe`.
bool HandshakeRefused(const ConnectionOptions& c, std::once_flag* once,
                      TlsProbeResult* probe) {
  std::call_once(*once, [&] { *probe = ProbeTls(c); });
  return probe->verdict == TlsProbeResult::kClientCertRefused;
}

// One letter of a batch: where it came from, and its text when the batch
// is one file (empty: read the file `label`).
struct BatchItem {
  std::string label;
  std::string text;
};

// The letters of a batch FILE: JSON Lines (one letter object per line) or
// a YAML list of letters. Labels are "FILE:LINE" or "FILE#INDEX".
bool ReadBatchFile(const std::string& path, std::vector<BatchItem>* items,
                   std::string* error) {
  std::string text = ReadFileOr(path, error);
  if (!error->empty()) return false;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    std::istringstream lines(text);
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      items->push_back({absl::StrCat(path, ":", n), line});
    }
    return true;
  }
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsSequence()) {
      *error = path + ": expected a YAML list of letters or JSON Lines";
      return false;
    }
    for (size_t i = 0; i < root.size(); ++i) {
      YAML::Emitter emitter;
      emitter << root[i];
      items->push_back({absl::StrCat(path, "#", i + 1), emitter.c_str()});
    }
  } catch (const YAML::Exception& e) {
    *error = path + ": " + e.what();
    return false;
  }
  return true;
}

// The letters of `dir` (a folder of letter files, or a batch file), in
// order, and the folder their `files:` are relative to. kUsage (reported)
// when it cannot be read.
int CollectBatch(const std::string& dir, std::vector<BatchItem>* files,
                 fs::path* base) {
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) {
    std::string error;
    if (!ReadBatchFile(dir, files, &error)) {
      std::cerr << "utpostctl: " << error << "\n";
      return kUsage;
    }
    *base = fs::path(dir).parent_path();
    return kOk;
  }
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto ext = e.path().extension().string();
    if (ext == ".yaml" || ext == ".yml" || ext == ".json") {
      files->push_back({e.path().string(), ""});
    }
  }
  if (ec) {
    std::cerr << "utpostctl: cannot read " << dir << ": " << ec.message()
              << "\n";
    return kUsage;
  }
  std::sort(
      files->begin(), files->end(),
      [](const BatchItem& a, const BatchItem& b) { return a.label < b.label; });
  return kOk;
}

std::string ProgressBar(size_t done, size_t total) {
  constexpr int kWidth = 24;
  const int filled =
      total == 0 ? kWidth : static_cast<int>(kWidth * done / total);
  return "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') +
         "]";
}

void PrintLetter(const v1::Letter& l) {
  std::cout << "letter     " << l.id() << "\n"
            << "reference  " << l.client_reference() << "\n"
            << "state      " << StateName(l.state()) << "\n"
            << "channel    " << (l.channel().empty() ? "-" : l.channel())
            << "\n"
            << "recipient  "
            << (l.recipient().has_person()
                    ? "person " + l.recipient().person()
                    : "organisation " + l.recipient().organisation())
            << "\n"
            << "title      " << l.title() << "\n";
  for (const auto& d : l.documents()) {
    std::cout << "document   " << d.file_name() << " (" << d.size_bytes()
              << " bytes, sha256 " << d.sha256().substr(0, 16) << "...)\n";
  }
  if (!l.reason().empty()) std::cout << "reason     " << l.reason() << "\n";
  if (l.timeline_size() > 0) std::cout << "timeline\n";
  for (const auto& e : l.timeline()) {
    std::cout << "  " << std::setw(3) << e.sequence() << "  " << When(e.time())
              << "  " << std::left << std::setw(13) << StateName(e.state())
              << std::right << " " << std::setw(8)
              << (e.channel().empty() ? "-" : e.channel()) << "  " << e.reason()
              << "\n";
  }
}

void PrintLetterTable(const v1::ListLettersResponse& response) {
  std::cout << std::left << std::setw(38) << "LETTER" << std::setw(13)
            << "STATE" << std::setw(9) << "CHANNEL"
            << "REFERENCE\n";
  for (const auto& l : response.letters()) {
    std::cout << std::setw(38) << l.id() << std::setw(13)
              << StateName(l.state()) << std::setw(9)
              << (l.channel().empty() ? "-" : l.channel())
              << l.client_reference() << "\n";
  }
  if (!response.next_page_token().empty()) {
    std::cout << "(more: --page-token " << response.next_page_token() << ")\n";
  }
}

// One unary call: connect, call with the deadline, then print the answer
// as JSON or with `human`. Returns the exit code.
template <typename Stub, typename Request, typename Response>
int CallAndPrint(const ConnectionOptions& c, const Output& out,
                 grpc::Status (Stub::*method)(grpc::ClientContext*,
                                              const Request&, Response*),
                 const Request& request,
                 const std::function<void(const Response&)>& human,
                 std::shared_ptr<grpc::Channel> channel = nullptr) {
  int err = 0;
  if (!channel) channel = OpenChannel(c, &err);
  if (!channel) return err;
  auto stub = std::make_unique<Stub>(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  Response response;
  auto s = ((*stub).*method)(&ctx, request, &response);
  if (!s.ok()) return Report(s, c);
  if (out.json) {
    PrintJson(response);
  } else {
    human(response);
  }
  return kOk;
}

}  // namespace

int Submit(const ConnectionOptions& c, const Output& out,
           const std::string& letter_file,
           const std::vector<std::string>& pdfs) {
  v1::SubmitLetterRequest request;
  std::string error;
  if (!LoadLetter(letter_file, pdfs, &request, &error)) {
    std::cerr << "utpostctl: " << error << "\n";
    return kUsage;
  }
  return CallAndPrint<v1::LetterService::Stub>(
      c, out, &v1::LetterService::Stub::SubmitLetter, request,
      std::function<void(const v1::SubmitLetterResponse&)>(
          [](const v1::SubmitLetterResponse& r) {
            std::cout << (r.created() ? "submitted " : "already submitted ")
                      << r.letter().id() << " ("
                      << StateName(r.letter().state()) << ")\n";
          }));
}

int Upload(const ConnectionOptions& c, const Output& out,
           const std::string& file, int chunk_bytes) {
  std::string error;
  const std::string bytes = ReadFileOr(file, &error);
  if (!error.empty()) {
    std::cerr << "utpostctl: " << error << "\n";
    return kUsage;
  }
  int err = 0;
  auto stub = MakeStub<v1::LetterService::Stub>(c, &err);
  if (!stub) return err;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  v1::UploadedDocument uploaded;
  auto writer = stub->UploadDocument(&ctx, &uploaded);
  v1::UploadDocumentRequest header;
  header.mutable_header()->set_media_type("application/pdf");
  header.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
  header.mutable_header()->set_sha256(Sha256Hex(bytes));
  bool writing = writer->Write(header);
  for (size_t at = 0; writing && at < bytes.size(); at += chunk_bytes) {
    v1::UploadDocumentRequest chunk;
    chunk.set_chunk(bytes.substr(at, chunk_bytes));
    writing = writer->Write(chunk);
  }
  // A refusal mid-stream ends the writes; Finish says why.
  writer->WritesDone();
  const grpc::Status s = writer->Finish();
  if (!s.ok()) return Report(s, c);
  if (out.json) {
    PrintJson(uploaded);
  } else {
    std::cout << "uploaded " << uploaded.sha256() << " ("
              << uploaded.size_bytes() << " bytes); name it as "
              << "documents[].upload_sha256 until "
              << TimeUtil::ToString(uploaded.expire_time()) << "\n";
  }
  return kOk;
}

int SubmitBatch(const ConnectionOptions& c, const Output& out,
                const std::string& dir, int concurrency, bool follow) {
  std::vector<BatchItem> files;
  fs::path base;
  if (int code = CollectBatch(dir, &files, &base); code != kOk) return code;
  int err = 0;
  auto channel = OpenChannel(c, &err);
  if (!channel) return err;
  auto stub = v1::LetterService::NewStub(channel);

  const bool frames = !out.json && IsTerminal(kStderr);
  // A refused certificate reaches gRPC as a closed socket; asked once.
  std::once_flag probe_once;
  TlsProbeResult probe;
  std::atomic<size_t> next{0}, done{0};
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> failures;
  BatchCounts counts;
  std::map<std::string, v1::Letter::State> letters;  // For --follow.
  int worst = kOk;
  const auto start = std::chrono::steady_clock::now();
  // One letter's outcome: counted, remembered for --follow, printed.
  auto record = [&](size_t i, int code, const std::string& error,
                    const v1::SubmitBatchResult* result) {
    std::lock_guard<std::mutex> lock(mu);
    if (code == kOk) {
      ++(result->created() ? counts.submitted : counts.already_submitted);
      letters[result->letter().id()] = result->letter().state();
      if (out.json) {
        v1::SubmitLetterResponse response;
        *response.mutable_letter() = result->letter();
        response.set_created(result->created());
        PrintJson(response);
      }
    } else {
      ++(code == kUsage     ? counts.invalid
         : code == kRefused ? counts.refused
                            : counts.unreachable);
      failures.emplace_back(files[i].label, error);
      worst = std::max(worst, code);
      if (out.json) {
        std::cout << "{\"file\": " << logging::JsonQuote(files[i].label)
                  << ", \"error\": " << logging::JsonQuote(error)
                  << ", \"code\": " << code << "}\n";
      }
    }
    size_t n = ++done;
    if (frames) {
      double secs = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - start)
                        .count();
      double rate = secs > 0 ? n / secs : 0;
      double eta = rate > 0 ? (files.size() - n) / rate : 0;
      std::cerr << "\r" << ProgressBar(n, files.size()) << " submitted " << n
                << "/" << files.size() << "  " << std::fixed
                << std::setprecision(1) << rate << " letters/s  ETA " << eta
                << " s  failed " << failures.size() << "   " << std::flush;
    }
  };
  // One SubmitBatch stream: this thread loads letters and writes them, a
  // second reads the results (the gateway reads at most 64 ahead of them).
  // A letter refused for the tenant's rate (RESOURCE_EXHAUSTED with a
  // retry delay of at most kLongestWait) is sent again on the same stream
  // once its delay has passed, and nothing new is sent before that; a
  // longer delay (a daily quota) is reported as the refusal it is.
  auto work = [&] {
    using Clock = std::chrono::steady_clock;
    constexpr auto kLongestWait = std::chrono::seconds(60);
    grpc::ClientContext ctx;
    auto stream = stub->SubmitBatch(&ctx);
    std::mutex stream_mu;
    std::condition_variable changed;
    std::vector<size_t> sent;  // Stream index -> position in `files`.
    std::vector<bool> answered;
    size_t unanswered = 0;
    std::deque<size_t> again;  // To send again, at `hold_until`.
    Clock::time_point hold_until = Clock::now();
    bool reader_done = false;
    std::thread reader([&] {
      v1::SubmitBatchResult result;
      while (stream->Read(&result)) {
        size_t i;
        {
          std::lock_guard<std::mutex> lock(stream_mu);
          if (result.index() < 0 ||
              static_cast<size_t>(result.index()) >= sent.size() ||
              answered[result.index()]) {
            continue;  // Not a letter of this stream: ignored.
          }
          answered[result.index()] = true;
          --unanswered;
          i = sent[result.index()];
          const auto delay = std::chrono::milliseconds(
              TimeUtil::DurationToMilliseconds(result.retry_delay()));
          if (result.code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
              delay.count() > 0 && delay <= kLongestWait) {
            again.push_back(i);
            hold_until = std::max(hold_until, Clock::now() + delay);
            changed.notify_all();
            continue;
          }
          changed.notify_all();
        }
        const grpc::Status s(static_cast<grpc::StatusCode>(result.code()),
                             result.message());
        if (s.ok()) {
          record(i, kOk, "", &result);
        } else {
          record(
              i, ExitCodeFor(s),
              absl::StrCat(CodeName(s.error_code()), ": ", s.error_message()),
              nullptr);
        }
      }
      std::lock_guard<std::mutex> lock(stream_mu);
      reader_done = true;
      changed.notify_all();
    });
    // The next letter to write: one to send again once its delay is over,
    // else a new one; none once every letter is answered (or the stream
    // is gone).
    auto take = [&](size_t* i) {
      std::unique_lock<std::mutex> lock(stream_mu);
      for (;;) {
        if (reader_done) return false;
        if (Clock::now() < hold_until) {
          changed.wait_until(lock, hold_until);
          continue;
        }
        if (!again.empty()) {
          *i = again.front();
          again.pop_front();
          return true;
        }
        if ((*i = next++) < files.size()) return true;
        if (unanswered == 0) return false;
        changed.wait(lock);
      }
    };
    for (size_t i; take(&i);) {
      v1::SubmitLetterRequest request;
      std::string error;
      const bool loaded = files[i].text.empty()
                              ? LoadLetter(files[i].label, {}, &request, &error)
                              : LoadLetterText(files[i].text, files[i].label,
                                               base, {}, &request, &error);
      if (!loaded) {
        record(i, kUsage, error, nullptr);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(stream_mu);
        sent.push_back(i);
        answered.push_back(false);
        ++unanswered;
      }
      if (!stream->Write(request)) {
        // The stream broke; its status below says why, for this letter and
        // the others not answered.
        break;
      }
    }
    stream->WritesDone();
    reader.join();
    grpc::Status s = stream->Finish();
    std::string error;
    int code = kOk;
    if (!s.ok()) {
      error = absl::StrCat(CodeName(s.error_code()), ": ", s.error_message());
      code = ExitCodeFor(s);
      if (code == kUnreachable && HandshakeRefused(c, &probe_once, &probe)) {
        error =
            "TLS handshake refused: the server did not accept the client "
            "certificate " +
            c.cert_file + " (" + probe.detail + ")";
        code = kRefused;
      }
    } else {
      code = kUnreachable;
      error =
          "no result from the gateway (submit it again: the client "
          "reference makes that safe)";
    }
    // Letters without a result: they may or may not be stored. Letters
    // waiting to be sent again are not.
    for (size_t k = 0; k < sent.size(); ++k) {
      if (!answered[k]) record(sent[k], code, error, nullptr);
    }
    for (size_t i : again) record(i, code, error, nullptr);
    // A broken stream: the letters not sent yet fail with its reason, so
    // that every letter is reported.
    if (!s.ok()) {
      for (size_t i; (i = next++) < files.size();) {
        record(i, code, error, nullptr);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, concurrency); ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (out.json) {
    std::cout << "{\"submitted\": " << counts.submitted
              << ", \"already_submitted\": " << counts.already_submitted
              << ", \"refused\": " << counts.refused
              << ", \"invalid\": " << counts.invalid
              << ", \"unreachable\": " << counts.unreachable
              << ", \"failed\": " << failures.size() << "}\n";
  } else {
    if (frames) {
      std::cerr << "\n";
    } else {
      // One line instead of frames: a log or pipe keeps no carriage returns.
      std::cerr << "submitted " << done << "/" << files.size() << " in "
                << std::fixed << std::setprecision(1) << secs << " s\n";
    }
    std::cout << BatchSummary(counts) << "\n";
    for (const auto& [file, why] : failures) {
      // Errors from reading the file name it already.
      std::cout << "  " << (why.rfind(file, 0) == 0 ? why : file + ": " + why)
                << "\n";
    }
  }
  if (follow && !letters.empty()) {
    std::cout << std::flush;
    const int followed = FollowLetters(c, out, channel, std::move(letters));
    worst = std::max(worst, followed);
  }
  return worst;
}

namespace {

// One PreflightLetters call carries at most this many letters and about
// this many bytes of documents (a larger letter goes alone), well below the
// gateway's message limit.
constexpr int kPreflightLetters = 1000;
constexpr size_t kPreflightBytes = size_t{16} << 20;
// A call checks and looks up a whole chunk: it may take longer than one
// submission.
constexpr int kPreflightMinTimeoutSeconds = 300;

// Adds the totals of one call to the run's.
void AddTotals(const v1::PreflightTotals& in, v1::PreflightTotals* sum) {
  sum->set_letters(sum->letters() + in.letters());
  sum->set_would_send(sum->would_send() + in.would_send());
  sum->set_would_fail(sum->would_fail() + in.would_fail());
  sum->set_print_sheets(sum->print_sheets() + in.print_sheets());
  sum->set_envelopes(sum->envelopes() + in.envelopes());
  sum->set_cost(sum->cost() + in.cost());
  sum->set_cost_all_print(sum->cost_all_print() + in.cost_all_print());
  sum->set_currency(in.currency());
  sum->set_priced(in.priced());
  for (const auto& c : in.channels()) {
    v1::PreflightChannelTotal* into = nullptr;
    for (auto& have : *sum->mutable_channels()) {
      if (have.channel() == c.channel()) into = &have;
    }
    if (into == nullptr) {
      into = sum->add_channels();
      into->set_channel(c.channel());
    }
    into->set_letters(into->letters() + c.letters());
    into->set_sheets(into->sheets() + c.sheets());
    into->set_envelopes(into->envelopes() + c.envelopes());
    into->set_cost(into->cost() + c.cost());
    into->set_configured(c.configured());
    into->set_paused(c.paused());
  }
  for (const auto& f : in.failures()) {
    v1::PreflightFailureTotal* into = nullptr;
    for (auto& have : *sum->mutable_failures()) {
      if (have.failure() == f.failure()) into = &have;
    }
    if (into == nullptr) {
      into = sum->add_failures();
      into->set_failure(f.failure());
    }
    into->set_letters(into->letters() + f.letters());
  }
}

// Minor units as "1234.50".
std::string Money(int64_t minor) {
  const bool negative = minor < 0;
  const uint64_t v = negative ? 0 - static_cast<uint64_t>(minor) : minor;
  std::ostringstream s;
  s << (negative ? "-" : "") << v / 100 << "." << std::setw(2)
    << std::setfill('0') << v % 100;
  return s.str();
}

struct PreflightLine {
  std::string file;
  v1::PreflightOutcome outcome;
  // Set when the file could not be read: no call was made for it.
  std::string error;
};

}  // namespace

int PreflightBatch(const ConnectionOptions& c, const Output& out,
                   const std::string& dir) {
  std::vector<BatchItem> files;
  fs::path base;
  if (int code = CollectBatch(dir, &files, &base); code != kOk) return code;
  int err = 0;
  auto channel = OpenChannel(c, &err);
  if (!channel) return err;
  auto stub = v1::LetterService::NewStub(channel);

  std::vector<PreflightLine> lines;
  v1::PreflightTotals sum;
  int64_t unreadable = 0;
  v1::PreflightLettersRequest request;
  std::vector<size_t> chunk;  // Index in `lines` of each letter in request.
  size_t bytes = 0;
  auto send = [&]() -> int {
    if (request.letters_size() == 0) return kOk;
    grpc::ClientContext ctx;
    ConnectionOptions longer = c;
    if (longer.timeout_seconds > 0) {
      longer.timeout_seconds =
          std::max(longer.timeout_seconds, kPreflightMinTimeoutSeconds);
    }
    SetDeadline(&ctx, longer);
    v1::PreflightLettersResponse response;
    grpc::Status s = stub->PreflightLetters(&ctx, request, &response);
    if (!s.ok()) return Report(s, c);
    for (const auto& o : response.outcomes()) {
      if (o.index() < 0 || o.index() >= static_cast<int>(chunk.size())) {
        continue;
      }
      lines[chunk[o.index()]].outcome = o;
    }
    AddTotals(response.totals(), &sum);
    request.Clear();
    chunk.clear();
    bytes = 0;
    return kOk;
  };
  for (const BatchItem& item : files) {
    v1::SubmitLetterRequest letter;
    std::string error;
    const bool loaded =
        item.text.empty()
            ? LoadLetter(item.label, {}, &letter, &error)
            : LoadLetterText(item.text, item.label, base, {}, &letter, &error);
    PreflightLine line;
    line.file = item.label;
    if (!loaded) {
      line.error = error;
      ++unreadable;
      lines.push_back(std::move(line));
      continue;
    }
    const size_t size = letter.ByteSizeLong();
    if (request.letters_size() >= kPreflightLetters ||
        (request.letters_size() > 0 && bytes + size > kPreflightBytes)) {
      if (int code = send(); code != kOk) return code;
    }
    lines.push_back(std::move(line));
    chunk.push_back(lines.size() - 1);
    *request.add_letters() = std::move(letter);
    bytes += size;
  }
  if (int code = send(); code != kOk) return code;

  int worst = kOk;
  if (sum.would_fail() > 0) worst = kRefused;
  if (unreadable > 0) worst = kUsage;
  const std::vector<std::string> channels = {"digital", "dpi", "altinn",
                                             "print"};
  if (out.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(ToJson(sum));
    // Every reason, zeros included, so that scripts need not test for keys.
    nlohmann::ordered_json reasons = nlohmann::ordered_json::object();
    const auto* reason_enum = v1::PreflightFailure_descriptor();
    for (int i = 1; i < reason_enum->value_count(); ++i) {
      int64_t n = 0;
      for (const auto& f : sum.failures()) {
        if (f.failure() == reason_enum->value(i)->number()) n = f.letters();
      }
      reasons[reason_enum->value(i)->name()] = n;
    }
    j["failures_by_reason"] = reasons;
    j["unreadable"] = unreadable;
    nlohmann::ordered_json outcomes = nlohmann::ordered_json::array();
    for (const PreflightLine& l : lines) {
      nlohmann::ordered_json o;
      o["file"] = l.file;
      if (!l.error.empty()) {
        o["error"] = l.error;
        o["code"] = kUsage;
      } else {
        o["client_reference"] = l.outcome.client_reference();
        o["channel"] = l.outcome.channel();
        o["failure"] = v1::PreflightFailure_Name(l.outcome.failure());
        o["reason"] = l.outcome.reason();
        o["channel_paused"] = l.outcome.channel_paused();
        o["sheets"] = l.outcome.sheets();
        o["cost"] = l.outcome.cost();
      }
      outcomes.push_back(std::move(o));
    }
    j["outcomes"] = std::move(outcomes);
    std::cout << j.dump() << "\n";
    return worst;
  }
  std::cout << "preflight of " << lines.size()
            << " letters: " << sum.would_send() << " would go, "
            << sum.would_fail() + unreadable << " would fail"
            << " (nothing was submitted)\n\n";
  std::cout << std::left << std::setw(10) << "CHANNEL" << std::right
            << std::setw(9) << "LETTERS" << std::setw(9) << "SHEETS"
            << std::setw(11) << "ENVELOPES" << std::setw(14)
            << ("COST " + sum.currency()) << "\n";
  for (const std::string& name : channels) {
    v1::PreflightChannelTotal t;
    for (const auto& have : sum.channels()) {
      if (have.channel() == name) t = have;
    }
    std::string note;
    if (!t.configured()) note = "  not configured";
    if (t.paused()) note = "  paused";
    std::cout << std::left << std::setw(10) << name << std::right
              << std::setw(9) << t.letters() << std::setw(9) << t.sheets()
              << std::setw(11) << t.envelopes() << std::setw(14)
              << Money(t.cost()) << note << "\n";
  }
  std::cout << std::left << std::setw(10) << "total" << std::right
            << std::setw(9) << sum.would_send() << std::setw(9)
            << sum.print_sheets() << std::setw(11) << sum.envelopes()
            << std::setw(14) << Money(sum.cost()) << "\n";
  if (sum.priced()) {
    std::cout << "all by print would cost " << Money(sum.cost_all_print())
              << " " << sum.currency() << "\n";
  } else {
    std::cout << "no unit prices configured on the gateway (pricing): costs "
                 "are 0\n";
  }
  if (sum.would_fail() + unreadable > 0) {
    std::cout << "\nwould fail:\n";
    for (const auto& f : sum.failures()) {
      std::cout << "  " << std::left << std::setw(28)
                << v1::PreflightFailure_Name(f.failure()) << std::right
                << f.letters() << "\n";
    }
    if (unreadable > 0) {
      std::cout << "  " << std::left << std::setw(28) << "UNREADABLE_FILE"
                << std::right << unreadable << "\n";
    }
    for (const PreflightLine& l : lines) {
      if (!l.error.empty()) {
        std::cout << "  "
                  << (l.error.rfind(l.file, 0) == 0 ? l.error
                                                    : l.file + ": " + l.error)
                  << "\n";
      } else if (l.outcome.failure() != v1::PREFLIGHT_FAILURE_UNSPECIFIED) {
        std::cout << "  " << l.file << ": "
                  << v1::PreflightFailure_Name(l.outcome.failure()) << ": "
                  << l.outcome.reason() << "\n";
      }
    }
  }
  return worst;
}

int FollowLetters(const ConnectionOptions& c, const Output& out,
                  const std::shared_ptr<grpc::Channel>& channel,
                  std::map<std::string, v1::Letter::State> letters) {
  auto stub = v1::LetterService::NewStub(channel);
  const bool frames = !out.json && IsTerminal(kStderr);
  std::mutex mu;
  std::condition_variable changed;
  size_t pending = 0;  // Guarded by mu, as `letters` is.
  for (const auto& [id, state] : letters) pending += !IsFollowedToState(state);
  bool first_event = false;
  grpc::ClientContext watch_ctx;

  // Takes a letter's newer state; a letter once followed to its end stays
  // counted there (a later READ does not matter to the batch).
  auto update = [&](const std::string& id, v1::Letter::State state) {
    auto it = letters.find(id);
    if (it == letters.end() || IsFollowedToState(it->second)) return;
    it->second = state;
    if (IsFollowedToState(state) && --pending == 0) {
      watch_ctx.TryCancel();
      changed.notify_all();
    }
  };
  // The stream tells only what happens after the server set it up, which
  // the client cannot see; letters are read once the stream has carried an
  // event (it is set up by then), and every 15 s as a safety net.
  auto sweep = [&] {
    std::vector<std::string> ids;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [id, state] : letters) {
        if (!IsFollowedToState(state)) ids.push_back(id);
      }
    }
    for (const auto& id : ids) {
      grpc::ClientContext ctx;
      SetDeadline(&ctx, c);
      v1::GetLetterRequest request;
      request.set_name(id);
      v1::Letter letter;
      if (!stub->GetLetter(&ctx, request, &letter).ok()) continue;
      std::lock_guard<std::mutex> lock(mu);
      update(id, letter.state());
    }
  };
  std::thread sweeper([&] {
    std::unique_lock<std::mutex> lock(mu);
    bool swept_after_first = false;
    while (pending > 0) {
      changed.wait_for(lock, std::chrono::seconds(15), [&] {
        return pending == 0 || (first_event && !swept_after_first);
      });
      if (pending == 0) break;
      swept_after_first = swept_after_first || first_event;
      lock.unlock();
      sweep();
      lock.lock();
    }
  });

  grpc::Status status;
  {
    std::unique_lock<std::mutex> lock(mu);
    if (pending > 0) {
      lock.unlock();
      v1::WatchLettersRequest request;
      request.set_only_new(true);
      auto reader = stub->WatchLetters(&watch_ctx, request);
      v1::LetterEvent e;
      while (reader->Read(&e)) {
        lock.lock();
        if (!first_event) {
          first_event = true;
          changed.notify_all();
        }
        update(e.letter_id(), e.state());
        const size_t left = pending;
        lock.unlock();
        if (frames) {
          std::cerr << "\rfollowing: " << letters.size() - left << "/"
                    << letters.size() << " letters at their final state   "
                    << std::flush;
        }
        if (left == 0) break;
      }
      status = reader->Finish();
      lock.lock();
    }
    if (pending == 0) {
      status = grpc::Status::OK;  // The cancel that ended the stream.
    } else {
      pending = 0;  // Stops the sweeper; the stream failed.
      changed.notify_all();
    }
  }
  sweeper.join();
  if (frames) std::cerr << "\n";
  if (!status.ok()) return Report(status, c);

  std::map<v1::Letter::State, int64_t> by_state;
  for (const auto& [id, state] : letters) ++by_state[state];
  if (out.json) {
    std::cout << "{\"final\": {";
    bool first = true;
    for (const auto& [state, n] : by_state) {
      std::cout << (first ? "" : ", ") << "\"" << StateName(state)
                << "\": " << n;
      first = false;
    }
    std::cout << "}}\n";
  } else {
    std::vector<std::string> parts;
    for (const auto& [state, n] : by_state) {
      parts.push_back(absl::StrCat(n, " ", StateName(state)));
    }
    std::cout << Counted(static_cast<int64_t>(letters.size()), "letter")
              << " at their final state: " << absl::StrJoin(parts, ", ")
              << "\n";
  }
  return kOk;
}

int Get(const ConnectionOptions& c, const Output& out,
        const std::string& argument) {
  int err = 0;
  auto channel = OpenChannel(c, &err);
  if (!channel) return err;
  std::string id;
  err = ResolveLetterId(c, channel, argument, LookupScope::kTenant, &id);
  if (err != kOk) return err;
  v1::GetLetterRequest request;
  request.set_name(id);
  return CallAndPrint<v1::LetterService::Stub>(
      c, out, &v1::LetterService::Stub::GetLetter, request,
      std::function<void(const v1::Letter&)>(PrintLetter), channel);
}

int List(const ConnectionOptions& c, const Output& out,
         const std::string& state, const std::string& client_reference,
         int page_size, const std::string& page_token) {
  v1::ListLettersRequest request;
  if (!state.empty()) {
    auto st = ParseState(state, "--state");
    if (!st.ok()) {
      std::cerr << "utpostctl: " << st.status().message() << "\n";
      return kUsage;
    }
    request.set_state(*st);
  }
  if (auto s = CheckPageSize(page_size, "--page-size"); !s.ok()) {
    std::cerr << "utpostctl: " << s.message() << "\n";
    return kUsage;
  }
  request.set_client_reference(client_reference);
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return CallAndPrint<v1::LetterService::Stub>(
      c, out, &v1::LetterService::Stub::ListLetters, request,
      std::function<void(const v1::ListLettersResponse&)>(PrintLetterTable));
}

int Watch(const ConnectionOptions& c, const Output& out, int64_t cursor,
          bool only_new) {
  int err = 0;
  auto stub = MakeStub<v1::LetterService::Stub>(c, &err);
  if (!stub) return err;
  grpc::ClientContext ctx;
  v1::WatchLettersRequest request;
  request.set_cursor(cursor);
  request.set_only_new(only_new);
  auto reader = stub->WatchLetters(&ctx, request);
  v1::LetterEvent e;
  while (reader->Read(&e)) {
    if (out.json) {
      PrintJson(e);
    } else {
      std::cout << "#" << e.cursor() << "  " << When(e.time()) << "  "
                << e.letter_id() << "  " << std::left << std::setw(13)
                << StateName(e.state()) << std::right << " "
                << (e.channel().empty() ? "-" : e.channel()) << "  "
                << e.client_reference()
                << (e.reason().empty() ? "" : "  (" + e.reason() + ")")
                << std::endl;
    }
  }
  auto s = reader->Finish();
  return s.ok() ? kOk : Report(s, c);
}

int Receipts(const ConnectionOptions& c, const Output& out,
             const std::string& argument) {
  int err = 0;
  auto channel = OpenChannel(c, &err);
  if (!channel) return err;
  std::string id;
  err = ResolveLetterId(c, channel, argument, LookupScope::kTenant, &id);
  if (err != kOk) return err;
  v1::GetReceiptsRequest request;
  request.set_name(id);
  return CallAndPrint<v1::LetterService::Stub>(
      c, out, &v1::LetterService::Stub::GetReceipts, request,
      std::function<void(const v1::GetReceiptsResponse&)>(
          [](const v1::GetReceiptsResponse& response) {
            for (const auto& r : response.receipts()) {
              std::cout << "# " << r.sequence() << " " << StateName(r.state())
                        << " sha256 " << r.sha256() << "\n"
                        << r.jws() << "\n";
            }
          }),
      channel);
}

}  // namespace utpost::cli
