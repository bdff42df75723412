#include "common/logging/logging.h"

#include <string>

#include "common/mask.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace utpost::logging {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

// A valid synthetic test person (sim/data/persons.yaml).
constexpr char kPerson[] = "01817010055";

std::string Format(spdlog::formatter& f, const std::string& text,
                   spdlog::level::level_enum level = spdlog::level::info) {
  spdlog::details::log_msg msg("utpost", level, text);
  spdlog::memory_buf_t buf;
  f.format(msg, buf);
  return std::string(buf.data(), buf.size());
}

TEST(MaskTest, ValidPersonNumbersAreRecognised) {
  EXPECT_TRUE(IsValidPersonNumber(kPerson));
  EXPECT_TRUE(IsValidPersonNumber("15838210012"));
  EXPECT_FALSE(IsValidPersonNumber("01817010056"));  // Bad k2.
  EXPECT_FALSE(IsValidPersonNumber("12345678901"));
  EXPECT_FALSE(IsValidPersonNumber("0181701005"));
}

TEST(MaskTest, OnlyValidNumbersAreMaskedInText) {
  EXPECT_EQ(MaskValidPersonNumbersIn("to 01817010055, not 12345678901 or "
                                     "101817010055"),
            "to 018170*****, not 12345678901 or 101817010055");
}

TEST(JsonFormatterTest, OneObjectPerLineWithTimeLevelMessage) {
  auto f = NewJsonFormatter();
  std::string line = Format(*f, "hello \"world\"\n\tnext", spdlog::level::warn);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["message"], "hello \"world\"\n\tnext");
  EXPECT_THAT(j["time"].get<std::string>(),
              ::testing::MatchesRegex(
                  "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z"));
  EXPECT_FALSE(j.contains("letter_id"));
  EXPECT_FALSE(j.contains("attempt"));
}

TEST(JsonFormatterTest, MasksPersonNumbersInTheMessage) {
  auto f = NewJsonFormatter();
  std::string line = Format(*f, std::string("recipient ") + kPerson);
  EXPECT_THAT(line, Not(HasSubstr(kPerson)));
  EXPECT_EQ(nlohmann::json::parse(line)["message"], "recipient 018170*****");
}

TEST(JsonFormatterTest, CarriesTheThreadsContext) {
  auto f = NewJsonFormatter();
  {
    ScopedContext outer({"letter-1", "964338531", "route", 0, "trace-a"});
    {
      ScopedContext inner({"letter-2", "", "deliver.print", 2, ""});
      auto j = nlohmann::json::parse(Format(*f, "x"));
      EXPECT_EQ(j["letter_id"], "letter-2");
      EXPECT_EQ(j["stage"], "deliver.print");
      EXPECT_EQ(j["attempt"], 2);
      EXPECT_FALSE(j.contains("tenant"));
      EXPECT_FALSE(j.contains("trace_id"));
    }
    auto j = nlohmann::json::parse(Format(*f, "y"));
    EXPECT_EQ(j["letter_id"], "letter-1");
    EXPECT_EQ(j["tenant"], "964338531");
    EXPECT_EQ(j["attempt"], 0);
    EXPECT_EQ(j["trace_id"], "trace-a");
  }
  EXPECT_EQ(CurrentContext(), nullptr);
}

TEST(JsonFormatterTest, ControlCharactersAreEscaped) {
  EXPECT_EQ(JsonQuote(std::string("a\x01") + "\\"), "\"a\\u0001\\\\\"");
}

TEST(TextFormatterTest, MasksAndAppendsContext) {
  auto f = NewTextFormatter();
  ScopedContext c({"letter-1", "964338531", "route", 1, "t"});
  std::string line = Format(*f, std::string("to ") + kPerson);
  EXPECT_THAT(line, HasSubstr("info to 018170***** letter=letter-1 "
                              "tenant=964338531 stage=route attempt=1 "
                              "trace=t"));
  EXPECT_THAT(line, Not(HasSubstr(kPerson)));
}

TEST(LevelTest, SetLevelChangesTheDefaultLoggerAndRefusesUnknownNames) {
  ASSERT_THAT(Install(Format::kJson, "info"), IsOk());
  EXPECT_EQ(GetLevel(), "info");
  EXPECT_THAT(SetLevel("debug"), IsOk());
  EXPECT_EQ(GetLevel(), "debug");
  EXPECT_TRUE(spdlog::should_log(spdlog::level::debug));
  EXPECT_THAT(SetLevel("loud"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_EQ(GetLevel(), "debug");
  EXPECT_THAT(Install(Format::kText, "verbose"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(FormatTest, Parse) {
  EXPECT_EQ(*ParseFormat(""), Format::kJson);
  EXPECT_EQ(*ParseFormat("text"), Format::kText);
  EXPECT_FALSE(ParseFormat("xml").ok());
}

}  // namespace
}  // namespace utpost::logging

#include "common/logging/trace.h"

namespace utpost::logging {
namespace {

TEST(TraceTest, TraceparentGivesItsTraceId) {
  EXPECT_EQ(TraceIdFromTraceparent(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(TraceIdFromTraceparent(
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            "");
  EXPECT_EQ(TraceIdFromTraceparent(
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
            "");
  EXPECT_EQ(TraceIdFromTraceparent("00-4bf92f35-00f067aa0ba902b7-01"), "");
  EXPECT_EQ(TraceIdFromTraceparent(""), "");
}

TEST(TraceTest, NewTraceIdsAre32HexAndDiffer) {
  std::string a = NewTraceId();
  std::string b = NewTraceId();
  EXPECT_THAT(a, ::testing::MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace utpost::logging
