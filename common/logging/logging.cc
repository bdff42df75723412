#include "common/logging/logging.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "common/mask.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace utpost::logging {
namespace {

thread_local const Context* current_context = nullptr;

absl::StatusOr<spdlog::level::level_enum> ParseLevel(std::string_view name) {
  if (name.empty()) return spdlog::level::info;
  static const std::pair<const char*, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  for (const auto& [n, l] : kLevels) {
    if (name == n) return l;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("log_level: \"", std::string(name),
                   "\" is not trace, debug, info, warn or error"));
}

const char* LevelName(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

std::string Rfc3339Millis(spdlog::log_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      t.time_since_epoch())
                      .count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

void Append(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    std::string line =
        absl::StrCat("{\"time\":\"", Rfc3339Millis(msg.time), "\",\"level\":\"",
                     LevelName(msg.level), "\",\"message\":",
                     JsonQuote(MaskValidPersonNumbersIn(std::string_view(
                         msg.payload.data(), msg.payload.size()))));
    if (const Context* c = current_context) {
      if (!c->letter_id.empty()) {
        absl::StrAppend(&line, ",\"letter_id\":", JsonQuote(c->letter_id));
      }
      if (!c->tenant.empty()) {
        absl::StrAppend(&line, ",\"tenant\":", JsonQuote(c->tenant));
      }
      if (!c->stage.empty()) {
        absl::StrAppend(&line, ",\"stage\":", JsonQuote(c->stage));
      }
      if (c->attempt >= 0) absl::StrAppend(&line, ",\"attempt\":", c->attempt);
      if (!c->trace_id.empty()) {
        absl::StrAppend(&line, ",\"trace_id\":", JsonQuote(c->trace_id));
      }
    }
    line += "}\n";
    Append(dest, line);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

class TextFormatter final : public spdlog::formatter {
 public:
  TextFormatter()
      : pattern_(std::make_unique<spdlog::pattern_formatter>(
            "%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc)) {}

  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    std::string text = MaskValidPersonNumbersIn(
        std::string_view(msg.payload.data(), msg.payload.size()));
    if (const Context* c = current_context) {
      if (!c->letter_id.empty())
        absl::StrAppend(&text, " letter=", c->letter_id);
      if (!c->tenant.empty()) absl::StrAppend(&text, " tenant=", c->tenant);
      if (!c->stage.empty()) absl::StrAppend(&text, " stage=", c->stage);
      if (c->attempt >= 0) absl::StrAppend(&text, " attempt=", c->attempt);
      if (!c->trace_id.empty()) absl::StrAppend(&text, " trace=", c->trace_id);
    }
    spdlog::details::log_msg copy(msg);
    copy.payload = spdlog::string_view_t(text.data(), text.size());
    pattern_->format(copy, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }

 private:
  std::unique_ptr<spdlog::pattern_formatter> pattern_;
};

}  // namespace

absl::StatusOr<Format> ParseFormat(std::string_view name) {
  if (name.empty() || name == "json") return Format::kJson;
  if (name == "text") return Format::kText;
  return absl::InvalidArgumentError(absl::StrCat("observability.log_format: \"",
                                                 std::string(name),
                                                 "\" is not json or text"));
}

absl::Status Install(Format format, std::string_view level) {
  auto l = ParseLevel(level);
  if (!l.ok()) return l.status();
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(format == Format::kJson ? NewJsonFormatter()
                                              : NewTextFormatter());
  auto logger = std::make_shared<spdlog::logger>("utpost", std::move(sink));
  logger->set_level(*l);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

absl::Status SetLevel(std::string_view level) {
  auto l = ParseLevel(level);
  if (!l.ok()) return l.status();
  spdlog::default_logger()->set_level(*l);
  return absl::OkStatus();
}

std::string GetLevel() { return LevelName(spdlog::default_logger()->level()); }

ScopedContext::ScopedContext(Context context)
    : previous_(current_context), context_(std::move(context)) {
  current_context = &context_;
}

ScopedContext::~ScopedContext() { current_context = previous_; }

const Context* CurrentContext() { return current_context; }

std::unique_ptr<spdlog::formatter> NewJsonFormatter() {
  return std::make_unique<JsonFormatter>();
}

std::unique_ptr<spdlog::formatter> NewTextFormatter() {
  return std::make_unique<TextFormatter>();
}

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
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
  out += "\"";
  return out;
}

}  // namespace utpost::logging
