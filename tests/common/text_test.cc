#include "common/text.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost {
namespace {

TEST(TextTest, ValidUtf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("Vedtak \xC3\xB8 \xE2\x82\xAC \xF0\x9F\x93\xAE"));
  EXPECT_FALSE(IsValidUtf8("\xC3\x28"));          // Bad continuation.
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // Surrogate U+D800.
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // Above U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("ab\xE2\x82"));        // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xFF"));
}

TEST(TextTest, ValidPrefixStopsBeforeTheBadSequence) {
  EXPECT_EQ(ValidUtf8Prefix("ab\xC3\xB8\xC3\x28"), 4u);
  EXPECT_EQ(ValidUtf8Prefix("abc"), 3u);
}

TEST(TextTest, CountsCodePointsNotBytes) {
  EXPECT_EQ(CountCodePoints("\xC3\xB8\xC3\xA6\xC3\xA5"), 3u);
  std::string full_width;
  for (int i = 0; i < 11; ++i) full_width += "\xEF\xBC\x91";
  EXPECT_EQ(CountCodePoints(full_width), 11u);
}

TEST(TextTest, FindsControlAndBidiCharacters) {
  EXPECT_EQ(FindForbiddenCharacter("Vedtak om tilskudd"), std::nullopt);
  EXPECT_EQ(FindForbiddenCharacter("\xC3\xB8 \xD7\xA9"), std::nullopt);
  auto nul = FindForbiddenCharacter(std::string("ab\0c", 4));
  ASSERT_TRUE(nul.has_value());
  EXPECT_EQ(nul->position, 3u);
  EXPECT_EQ(nul->description, "U+0000 (a control character)");
  for (const char* text :
       {"a\tb", "a\nb", "a\rb", "a\x1b", "a\x7f", "a\xC2\x85", "a\xE2\x80\xAE",
        "a\xE2\x81\xA6", "a\xE2\x80\x8F", "a\xD8\x9C", "a\xE2\x80\xA8",
        "a\xEF\xBB\xBF"}) {
    auto found = FindForbiddenCharacter(text);
    ASSERT_TRUE(found.has_value()) << text;
    EXPECT_EQ(found->position, 2u) << text;
  }
  auto rlo = FindForbiddenCharacter("\xC3\xB8\xE2\x80\xAE");
  ASSERT_TRUE(rlo.has_value());
  EXPECT_EQ(rlo->position, 2u);  // Characters, not bytes.
  EXPECT_EQ(rlo->description, "U+202E (a bidirectional control)");
}

TEST(TextTest, Cp1252KeepsLatin1AndTheEuroSign) {
  EXPECT_EQ(Utf8ToCp1252("Bergen kommune"), "Bergen kommune");
  EXPECT_EQ(Utf8ToCp1252("\xC3\xA6\xC3\xB8\xC3\xA5 \xC3\x85"),
            "\xE6\xF8\xE5 \xC5");                         // æøå Å
  EXPECT_EQ(Utf8ToCp1252("12 \xE2\x82\xAC"), "12 \x80");  // €
}

TEST(TextTest, Cp1252ReplacesWhatItLacksAndWhatIsMalformed) {
  EXPECT_EQ(Utf8ToCp1252("a\tb\nc"), "a b c");         // no controls on paper
  EXPECT_EQ(Utf8ToCp1252("\xE2\x80\xAE"), "?");        // U+202E
  EXPECT_EQ(Utf8ToCp1252("\xF0\x9F\x98\x80x"), "?x");  // emoji
  EXPECT_EQ(Utf8ToCp1252("\xFFx"), "?x");              // not a lead byte
  EXPECT_EQ(Utf8ToCp1252("x\xC3"), "x?");              // cut short
}

}  // namespace
}  // namespace utpost
