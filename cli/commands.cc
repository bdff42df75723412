#include "cli/commands.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
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
#include "common/yaml_proto.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "utpost/v1/letter.grpc.pb.h"
#include "utpost/v1/ops.grpc.pb.h"
#include "yaml-cpp/yaml.h"

namespace utpost::cli {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::TimeUtil;

constexpr int kOk = 0;
constexpr int kRefused = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

int ExitCodeFor(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return kOk;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kUnreachable;
    default:
      return kRefused;
  }
}

int Report(const grpc::Status& s) {
  std::cerr << "utpostctl: " << CodeName(s.error_code()) << ": "
            << s.error_message() << "\n";
  return ExitCodeFor(s);
}

void PrintJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  google::protobuf::util::MessageToJsonString(m, &json, o);
  std::cout << json << "\n";
}

// `s` as a JSON string literal.
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
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

template <typename Stub>
std::unique_ptr<Stub> MakeStub(const ConnectionOptions& c, int* err) {
  auto channel = Connect(c);
  if (!channel.ok()) {
    std::cerr << "utpostctl: " << channel.status().message() << "\n";
    *err = kUsage;
    return nullptr;
  }
  return std::make_unique<Stub>(*channel);
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
bool LoadLetter(const std::string& letter_file,
                const std::vector<std::string>& pdfs,
                v1::SubmitLetterRequest* request, std::string* error) {
  std::string text = ReadFileOr(letter_file, error);
  if (!error->empty()) return false;
  std::vector<std::string> files;
  try {
    YAML::Node root = YAML::Load(text);
    if (root["files"]) {
      const fs::path base = fs::path(letter_file).parent_path();
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

void PrintStatus(const v1::Status& status) {
  std::cout << "letters\n";
  int64_t total = 0;
  for (const auto& sc : status.letters()) {
    std::cout << "  " << std::left << std::setw(14) << StateName(sc.state())
              << std::right << std::setw(10) << sc.count() << "\n";
    total += sc.count();
  }
  std::cout << "  " << std::left << std::setw(14) << "total" << std::right
            << std::setw(10) << total << "\n";
  std::cout << "outbox pending  " << status.outbox_pending() << "\n";
  std::cout << "queues";
  if (!status.broker_error().empty()) {
    std::cout << "  (broker: " << status.broker_error() << ")";
  }
  std::cout << "\n";
  for (const auto& q : status.queues()) {
    std::cout << "  " << std::left << std::setw(28) << q.queue() << std::right
              << std::setw(8) << q.messages() << " ready " << std::setw(3)
              << q.consumers() << " consumers\n";
  }
}

// One unary call: connect, call with the deadline, then print the answer
// as JSON or with `human`. Returns the exit code.
template <typename Stub, typename Request, typename Response>
int CallAndPrint(const ConnectionOptions& c, const Output& out,
                 grpc::Status (Stub::*method)(grpc::ClientContext*,
                                              const Request&, Response*),
                 const Request& request,
                 const std::function<void(const Response&)>& human) {
  int err = 0;
  auto stub = MakeStub<Stub>(c, &err);
  if (!stub) return err;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  Response response;
  auto s = ((*stub).*method)(&ctx, request, &response);
  if (!s.ok()) return Report(s);
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

int SubmitBatch(const ConnectionOptions& c, const Output& out,
                const std::string& dir, int concurrency) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto ext = e.path().extension().string();
    if (ext == ".yaml" || ext == ".yml" || ext == ".json") {
      files.push_back(e.path().string());
    }
  }
  if (ec) {
    std::cerr << "utpostctl: cannot read " << dir << ": " << ec.message()
              << "\n";
    return kUsage;
  }
  std::sort(files.begin(), files.end());
  int err = 0;
  auto stub = MakeStub<v1::LetterService::Stub>(c, &err);
  if (!stub) return err;

  std::atomic<size_t> next{0}, done{0};
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> failures;
  int worst = kOk;
  const auto start = std::chrono::steady_clock::now();
  auto work = [&] {
    for (size_t i; (i = next++) < files.size();) {
      v1::SubmitLetterRequest request;
      std::string error;
      int code = kOk;
      if (!LoadLetter(files[i], {}, &request, &error)) {
        code = kUsage;
      } else {
        grpc::ClientContext ctx;
        SetDeadline(&ctx, c);
        v1::SubmitLetterResponse response;
        auto s = stub->SubmitLetter(&ctx, request, &response);
        if (!s.ok()) {
          error =
              absl::StrCat(CodeName(s.error_code()), ": ", s.error_message());
          code = ExitCodeFor(s);
        } else if (out.json) {
          std::lock_guard<std::mutex> lock(mu);
          PrintJson(response);
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      if (code != kOk) {
        failures.emplace_back(files[i], error);
        worst = std::max(worst, code);
        if (out.json) {
          std::cout << "{\"file\": " << JsonString(files[i])
                    << ", \"error\": " << JsonString(error)
                    << ", \"code\": " << code << "}\n";
        }
      }
      size_t n = ++done;
      if (!out.json) {
        double secs = std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start)
                          .count();
        double rate = secs > 0 ? n / secs : 0;
        double eta = rate > 0 ? (files.size() - n) / rate : 0;
        std::cerr << "\rsubmitted " << n << "/" << files.size() << "  "
                  << std::fixed << std::setprecision(1) << rate
                  << " letters/s  ETA " << eta << " s  failed "
                  << failures.size() << "   " << std::flush;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, concurrency); ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  if (out.json) {
    std::cout << "{\"submitted\": " << files.size() - failures.size()
              << ", \"failed\": " << failures.size() << "}\n";
  } else {
    std::cerr << "\n";
    std::cout << files.size() - failures.size() << " submitted, "
              << failures.size() << " failed\n";
    for (const auto& [file, why] : failures) {
      // Errors from reading the file name it already.
      std::cout << "  " << (why.rfind(file, 0) == 0 ? why : file + ": " + why)
                << "\n";
    }
  }
  return worst;
}

int Get(const ConnectionOptions& c, const Output& out, const std::string& id) {
  v1::GetLetterRequest request;
  request.set_name(id);
  return CallAndPrint<v1::LetterService::Stub>(
      c, out, &v1::LetterService::Stub::GetLetter, request,
      std::function<void(const v1::Letter&)>(PrintLetter));
}

int List(const ConnectionOptions& c, const Output& out,
         const std::string& state, const std::string& client_reference,
         int page_size, const std::string& page_token) {
  v1::ListLettersRequest request;
  if (!state.empty()) {
    v1::Letter::State st;
    if (!v1::Letter::State_Parse(state, &st)) {
      std::cerr << "utpostctl: unknown state " << state << "\n";
      return kUsage;
    }
    request.set_state(st);
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
  return s.ok() ? kOk : Report(s);
}

int Cancel(const ConnectionOptions& c, const Output& out,
           const std::string& id) {
  v1::CancelLetterRequest request;
  request.set_name(id);
  return CallAndPrint<v1::LetterService::Stub>(
      c, out, &v1::LetterService::Stub::CancelLetter, request,
      std::function<void(const v1::Letter&)>([](const v1::Letter& l) {
        std::cout << "cancelled " << l.id() << "\n";
      }));
}

int Receipts(const ConnectionOptions& c, const Output& out,
             const std::string& id) {
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
          }));
}

int Status(const ConnectionOptions& c, const Output& out) {
  return CallAndPrint<v1::OpsService::Stub>(
      c, out, &v1::OpsService::Stub::GetStatus, v1::GetStatusRequest(),
      std::function<void(const v1::Status&)>(PrintStatus));
}

}  // namespace utpost::cli
