#include "cli/text.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::cli {
namespace {

TEST(EditDistanceTest, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(EditDistance("", ""), 0);
  EXPECT_EQ(EditDistance("status", "status"), 0);
  EXPECT_EQ(EditDistance("stauts", "status"), 2);  // A swap is two edits.
  EXPECT_EQ(EditDistance("letter", "letters"), 1);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_EQ(EditDistance("", "abc"), 3);
}

TEST(ClosestMatchTest, SuggestsTheNearestRealName) {
  const std::vector<std::string> commands = {"submit", "get",    "list",
                                             "watch",  "status", "letters",
                                             "letter", "redrive"};
  EXPECT_EQ(ClosestMatch("stauts", commands), "status");
  EXPECT_EQ(ClosestMatch("sumbit", commands), "submit");
  EXPECT_EQ(ClosestMatch("redirve", commands), "redrive");
  EXPECT_EQ(ClosestMatch("lettres", commands), "letters");
  EXPECT_EQ(ClosestMatch("--stat", {"--state", "--tenant"}), "--state");
  EXPECT_EQ(ClosestMatch("--page-sise", {"--page-size", "--page-token"}),
            "--page-size");
}

TEST(ClosestMatchTest, SuggestsNothingForAFarWord) {
  const std::vector<std::string> commands = {"submit", "get", "status"};
  EXPECT_EQ(ClosestMatch("deploy", commands), "");
  EXPECT_EQ(ClosestMatch("x", commands), "");
  EXPECT_EQ(ClosestMatch("email", {"digital", "dpi", "altinn", "print"}), "");
}

TEST(ClosestMatchTest, APrefixOfANameCountsAsNear) {
  EXPECT_EQ(ClosestMatch("--conc", {"--concurrency", "--batch"}),
            "--concurrency");
  EXPECT_EQ(ClosestMatch("redr", {"redrive", "receipts"}), "redrive");
}

TEST(CutMiddleTest, KeepsStartAndEndOfLongValues) {
  EXPECT_EQ(CutMiddle("short", 21), "short");
  const std::string cut = CutMiddle("property-tax-2026-bergen-000123", 21);
  EXPECT_EQ(cut.size(), 21u);
  EXPECT_EQ(cut, "property-...en-000123");
  // Two references that differ only at the end stay different.
  EXPECT_NE(CutMiddle("property-tax-2026-bergen-000123", 21),
            CutMiddle("property-tax-2026-bergen-000124", 21));
  EXPECT_EQ(CutMiddle("abcdefghij", 10), "abcdefghij");
  EXPECT_EQ(CutMiddle("abcdefghijk", 10), "abc...hijk");
  EXPECT_EQ(CutMiddle("abcdefghijk", 3), "abc");
}

TEST(CountedTest, SaysOneLetterAndNLetters) {
  EXPECT_EQ(Counted(0, "letter"), "0 letters");
  EXPECT_EQ(Counted(1, "letter"), "1 letter");
  EXPECT_EQ(Counted(2, "letter"), "2 letters");
  EXPECT_EQ(Counted(1000, "parked letter"), "1000 parked letters");
}

TEST(BatchSummaryTest, CountsAlreadySubmittedLettersApart) {
  BatchCounts c;
  c.submitted = 12;
  c.already_submitted = 3;
  c.refused = 1;
  EXPECT_EQ(BatchSummary(c), "12 submitted, 3 already submitted, 1 refused");
  c.invalid = 2;
  c.unreachable = 1;
  EXPECT_EQ(BatchSummary(c),
            "12 submitted, 3 already submitted, 1 refused, 2 invalid, "
            "1 unreachable");
  EXPECT_EQ(BatchSummary(BatchCounts()),
            "0 submitted, 0 already submitted, 0 refused");
}

}  // namespace
}  // namespace utpost::cli
