#include "sim/print.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <memory>
#include <optional>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFLogger.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFPageObjectHelper.hh>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/mask.h"
#include "spdlog/spdlog.h"

namespace utpost::sim {
namespace {

using nlohmann::json;

constexpr char kJson[] = "application/json";
constexpr double kPointsPerMm = 72.0 / 25.4;
constexpr double kToleranceMm = 2.0;
constexpr int kMaxEventsPerFetch = 1000;

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string JsonError(absl::string_view code, absl::string_view message) {
  return Dump(json{{"error", {{"code", code}, {"message", message}}}});
}

std::string Text(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

bool AllDigits(absl::string_view s, size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// A letter's refusal: the code and the reason.
struct Refusal {
  std::string code;
  std::string message;
};

std::optional<Refusal> Refuse(std::string code, std::string message) {
  return Refusal{std::move(code), std::move(message)};
}

bool AddressPresent(const json& letter, const char* key) {
  auto it = letter.find(key);
  if (it == letter.end() || !it->is_object()) return false;
  const json& a = *it;
  if (Text(a, "name").empty() || Text(a, "postal_code").empty() ||
      Text(a, "city").empty()) {
    return false;
  }
  auto lines = a.find("address_lines");
  return lines != a.end() && lines->is_array() && !lines->empty();
}

// Opens a PDF and returns its page count, or a refusal for a page that is
// not A4 portrait or a file that is no PDF.
std::variant<int, Refusal> ReadPdf(const std::string& file_name,
                                   const std::string& content) {
  if (!absl::StartsWith(content, "%PDF-")) {
    return Refusal{"NOT_A_PDF", absl::StrCat(file_name, " is not a PDF")};
  }
  try {
    QPDF pdf;
    std::shared_ptr<QPDFLogger> logger = QPDFLogger::create();
    logger->setInfo(logger->discard());
    logger->setWarn(logger->discard());
    logger->setError(logger->discard());
    pdf.setLogger(logger);
    pdf.setSuppressWarnings(true);
    pdf.processMemoryFile(file_name.c_str(), content.data(), content.size());
    std::vector<QPDFPageObjectHelper> pages =
        QPDFPageDocumentHelper(pdf).getAllPages();
    for (size_t i = 0; i < pages.size(); ++i) {
      QPDFObjectHandle box = pages[i].getCropBox();
      bool a4 = false;
      if (box.isRectangle()) {
        QPDFObjectHandle::Rectangle r = box.getArrayAsRectangle();
        double w = std::fabs(r.urx - r.llx) / kPointsPerMm;
        double h = std::fabs(r.ury - r.lly) / kPointsPerMm;
        QPDFObjectHandle rotate = pages[i].getAttribute("/Rotate", false);
        if (rotate.isInteger() &&
            ((rotate.getIntValue() % 180) + 180) % 180 == 90) {
          std::swap(w, h);
        }
        a4 = std::fabs(w - 210) <= kToleranceMm &&
             std::fabs(h - 297) <= kToleranceMm;
      }
      if (!a4) {
        return Refusal{"NOT_A4", absl::StrCat(file_name, " page ", i + 1,
                                              " is not A4 portrait")};
      }
    }
    return static_cast<int>(pages.size());
  } catch (const std::exception& e) {
    return Refusal{"NOT_A_PDF",
                   absl::StrCat(file_name, " cannot be read as a PDF")};
  }
}

// Checks one letter of a job against its parts.
std::optional<Refusal> CheckLetter(const json& letter,
                                   const httplib::Request& req) {
  if (!letter.is_object() || Text(letter, "message_id").empty()) {
    return Refuse("INVALID_LETTER", "message_id: required");
  }
  auto sender = letter.find("sender");
  if (sender == letter.end() || !sender->is_object() ||
      !AllDigits(Text(*sender, "organisation_number"), 9)) {
    return Refuse("INVALID_LETTER",
                  "sender.organisation_number: 9 digits required");
  }
  if (!AddressPresent(letter, "recipient")) {
    return Refuse("NO_ADDRESS",
                  "recipient: name, address_lines, postal_code and city "
                  "required");
  }
  if (!AddressPresent(letter, "return_address")) {
    return Refuse("NO_ADDRESS",
                  "return_address: name, address_lines, postal_code and "
                  "city required");
  }
  const std::string colour = Text(letter, "colour");
  if (colour != "MONOCHROME" && colour != "COLORS") {
    return Refuse("INVALID_LETTER", "colour: MONOCHROME or COLORS");
  }
  auto duplex = letter.find("duplex");
  if (duplex == letter.end() || !duplex->is_boolean()) {
    return Refuse("INVALID_LETTER", "duplex: true or false");
  }
  const std::string post_type = Text(letter, "post_type");
  if (post_type != "A" && post_type != "B") {
    return Refuse("INVALID_LETTER", "post_type: A or B");
  }
  const std::string handling = Text(letter, "return_handling");
  if (handling != "RETURN_TO_SENDER" && handling != "SHRED") {
    return Refuse("INVALID_LETTER",
                  "return_handling: RETURN_TO_SENDER or SHRED");
  }
  auto documents = letter.find("documents");
  if (documents == letter.end() || !documents->is_array() ||
      documents->empty()) {
    return Refuse("INVALID_LETTER", "documents: a non-empty list");
  }
  int pages = 0;
  int sheets = 0;
  for (const json& d : *documents) {
    const std::string part = d.is_object() ? Text(d, "part") : "";
    const std::string file_name = d.is_object() ? Text(d, "file_name") : "";
    const std::string sha256 =
        absl::AsciiStrToLower(d.is_object() ? Text(d, "sha256") : "");
    if (part.empty() || file_name.empty() || sha256.size() != 64 ||
        !d.contains("pages") || !d["pages"].is_number_integer()) {
      return Refuse("INVALID_LETTER",
                    "documents[]: needs part, file_name, a 64-digit sha256 "
                    "and pages");
    }
    if (!req.has_file(part)) {
      return Refuse("INVALID_DOCUMENTS", absl::StrCat("no part ", part));
    }
    const std::string& content = req.get_file_value(part).content;
    std::variant<int, Refusal> read = ReadPdf(file_name, content);
    if (auto* refusal = std::get_if<Refusal>(&read)) return *refusal;
    if (Sha256Hex(content) != sha256) {
      return Refuse("CHECKSUM_MISMATCH",
                    absl::StrCat(file_name, " does not match its sha256"));
    }
    const int counted = std::get<int>(read);
    if (d["pages"].get<int>() != counted) {
      return Refuse(
          "PAGE_COUNT_MISMATCH",
          absl::StrCat(file_name, " has ", counted,
                       " pages, the manifest says ", d["pages"].get<int>()));
    }
    pages += counted;
    sheets += duplex->get<bool>() ? (counted + 1) / 2 : counted;
  }
  auto number = [&letter](const char* key) {
    auto it = letter.find(key);
    return it != letter.end() && it->is_number_integer() ? it->get<int>() : -1;
  };
  if (number("pages") != pages || number("sheets") != sheets) {
    return Refuse("PAGE_COUNT_MISMATCH",
                  absl::StrCat("the documents have ", pages, " pages on ",
                               sheets, " sheets, the manifest says ",
                               number("pages"), " on ", number("sheets")));
  }
  return std::nullopt;
}

}  // namespace

PrintSimulator::PrintSimulator(PrintSimOptions options)
    : clock_(options.clock != nullptr ? options.clock : RealClock()),
      posted_after_ms_(options.posted_after_ms) {}

void PrintSimulator::Register(httplib::Server* server, FaultHook fault) {
  fault_ = std::move(fault);
  using httplib::Request;
  using httplib::Response;
  server->Post("/print/v1/jobs",
               [this](const Request& q, Response& r) { HandleJob(q, r); });
  server->Get("/print/v1/events",
              [this](const Request& q, Response& r) { HandleEvents(q, r); });
  server->Post("/print/v1/events/ack",
               [this](const Request& q, Response& r) { HandleAck(q, r); });
  server->Post("/sim/v1/print/events",
               [this](const Request& q, Response& r) { HandleAddEvent(q, r); });
  server->Post("/sim/v1/print/settings",
               [this](const Request& q, Response& r) { HandleSettings(q, r); });
}

json PrintSimulator::Counts() const {
  absl::MutexLock lock(&mu_);
  json out = json::object();
  for (const auto& [id, state] : letters_) {
    out[id] = {{"accepted", state.accepted}, {"duplicates", state.duplicates}};
  }
  return out;
}

void PrintSimulator::Reset() {
  absl::MutexLock lock(&mu_);
  letters_.clear();
  events_.clear();
}

void PrintSimulator::AddEvent(const std::string& message_id,
                              const std::string& type, int64_t time_ms,
                              const std::string& reason) {
  Event event;
  event.seq = next_seq_++;
  event.message_id = message_id;
  event.type = type;
  event.time_ms = time_ms;
  event.reason = reason;
  events_[event.seq] = std::move(event);
}

void PrintSimulator::HandleJob(const httplib::Request& req,
                               httplib::Response& res) {
  if (fault_ &&
      fault_("print", res,
             req.has_file("manifest") ? req.get_file_value("manifest").content
                                      : std::string())) {
    return;
  }
  auto refuse_job = [&res](int status, const char* code,
                           const std::string& message) {
    spdlog::warn("print: job refused {} {}: {}", status, code,
                 MaskPersonNumbersIn(message));
    res.status = status;
    res.set_content(JsonError(code, message), kJson);
  };
  if (!req.is_multipart_form_data()) {
    return refuse_job(415, "UNSUPPORTED_MEDIA_TYPE",
                      "expected multipart/form-data");
  }
  if (!req.has_file("manifest")) {
    return refuse_job(400, "INVALID_MANIFEST", "no manifest part");
  }
  json manifest = json::parse(req.get_file_value("manifest").content, nullptr,
                              /*allow_exceptions=*/false);
  if (!manifest.is_object() || Text(manifest, "job_id").empty() ||
      !manifest.contains("letters") || !manifest["letters"].is_array() ||
      manifest["letters"].empty()) {
    return refuse_job(400, "INVALID_MANIFEST",
                      "expected {\"job_id\": \"...\", \"letters\": [...]}");
  }
  const std::string job_id = Text(manifest, "job_id");
  json answers = json::array();
  int received = 0;
  for (const json& letter : manifest["letters"]) {
    const std::string id = letter.is_object() ? Text(letter, "message_id") : "";
    json answer = {{"message_id", id}};
    std::optional<Refusal> refusal = CheckLetter(letter, req);
    if (refusal.has_value()) {
      spdlog::warn("print: letter {} rejected: {} {}", id, refusal->code,
                   MaskPersonNumbersIn(refusal->message));
      answer["status"] = "REJECTED";
      answer["error"] = {{"code", refusal->code},
                         {"message", refusal->message}};
      answers.push_back(answer);
      continue;
    }
    absl::MutexLock lock(&mu_);
    LetterState& state = letters_[id];
    if (state.accepted > 0) {
      ++state.duplicates;
      answer["status"] = "DUPLICATE";
    } else {
      const int64_t now = clock_->NowMillis();
      state.accepted = 1;
      state.posted_due_ms = now + posted_after_ms_;
      AddEvent(id, "RECEIVED", now, "");
      answer["status"] = "RECEIVED";
      ++received;
    }
    answers.push_back(answer);
  }
  spdlog::info("print: job {} with {} letters, {} received", job_id,
               answers.size(), received);
  res.status = 200;
  res.set_content(Dump(json{{"job_id", job_id}, {"letters", answers}}), kJson);
}

void PrintSimulator::HandleEvents(const httplib::Request& req,
                                  httplib::Response& res) {
  if (fault_ && fault_("print-events", res, {})) return;
  int limit = 100;
  if (req.has_param("limit") &&
      (!absl::SimpleAtoi(req.get_param_value("limit"), &limit) || limit < 1)) {
    res.status = 400;
    res.set_content(JsonError("INVALID_LIMIT", "limit: a positive number"),
                    kJson);
    return;
  }
  limit = std::min(limit, kMaxEventsPerFetch);
  json events = json::array();
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMillis();
    // Letters whose posting time has come get their POSTED event now, in
    // the order they were due.
    std::vector<std::pair<int64_t, std::string>> due;
    for (auto& [id, state] : letters_) {
      if (state.accepted > 0 && !state.posted && state.posted_due_ms <= now) {
        due.emplace_back(state.posted_due_ms, id);
      }
    }
    std::sort(due.begin(), due.end());
    for (const auto& [when, id] : due) {
      letters_[id].posted = true;
      AddEvent(id, "POSTED", when, "");
    }
    for (const auto& [seq, e] : events_) {
      if (static_cast<int>(events.size()) >= limit) break;
      json event = {{"id", std::to_string(seq)},
                    {"message_id", e.message_id},
                    {"type", e.type},
                    {"time_ms", e.time_ms}};
      if (!e.reason.empty()) event["reason"] = e.reason;
      events.push_back(event);
    }
  }
  res.status = 200;
  res.set_content(Dump(json{{"events", events}}), kJson);
}

void PrintSimulator::HandleAck(const httplib::Request& req,
                               httplib::Response& res) {
  if (fault_ && fault_("print-events", res, {})) return;
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("event_ids") ||
      !body["event_ids"].is_array()) {
    res.status = 400;
    res.set_content(JsonError("INVALID_ACK", "expected {\"event_ids\": [...]}"),
                    kJson);
    return;
  }
  absl::MutexLock lock(&mu_);
  for (const json& id : body["event_ids"]) {
    int64_t seq = 0;
    if (id.is_string() && absl::SimpleAtoi(id.get<std::string>(), &seq)) {
      events_.erase(seq);
    }
  }
  res.status = 204;
}

void PrintSimulator::HandleAddEvent(const httplib::Request& req,
                                    httplib::Response& res) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  const std::string id = body.is_object() ? Text(body, "message_id") : "";
  const std::string type = body.is_object() ? Text(body, "type") : "";
  if (id.empty() || (type != "RETURNED" && type != "FAILED")) {
    res.status = 400;
    res.set_content(
        JsonError("INVALID_EVENT",
                  "expected {\"message_id\": \"...\", \"type\": \"RETURNED\" "
                  "or \"FAILED\", \"reason\": \"...\"}"),
        kJson);
    return;
  }
  absl::MutexLock lock(&mu_);
  auto it = letters_.find(id);
  if (it == letters_.end() || it->second.accepted == 0) {
    res.status = 404;
    res.set_content(JsonError("UNKNOWN_LETTER", id), kJson);
    return;
  }
  AddEvent(id, type, clock_->NowMillis(), Text(body, "reason"));
  res.status = 204;
}

void PrintSimulator::HandleSettings(const httplib::Request& req,
                                    httplib::Response& res) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("posted_after_ms") ||
      !body["posted_after_ms"].is_number_integer() ||
      body["posted_after_ms"].get<int64_t>() < 0) {
    res.status = 400;
    res.set_content(
        JsonError("INVALID_SETTINGS", "expected {\"posted_after_ms\": N}"),
        kJson);
    return;
  }
  absl::MutexLock lock(&mu_);
  posted_after_ms_ = body["posted_after_ms"].get<int64_t>();
  res.status = 204;
}

}  // namespace utpost::sim
