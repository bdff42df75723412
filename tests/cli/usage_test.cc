#include "cli/usage.h"

#include "CLI/CLI.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::cli {
namespace {

// A command tree shaped as utpostctl's.
class DiagnoseUnknownTest : public ::testing::Test {
 protected:
  DiagnoseUnknownTest() {
    app_.add_option("--server", server_);
    app_.add_flag("--json", json_);
    auto* letters = app_.add_subcommand("letters");
    letters->add_option("--state", value_);
    letters->add_option("--tenant", value_);
    letters->add_option("--page-size", number_);
    auto* status = app_.add_subcommand("status");
    status->add_option("--watch", value_)->expected(0, 1);
    auto* get = app_.add_subcommand("get");
    get->add_option("id", value_);
    auto* audit = app_.add_subcommand("audit");
    audit->add_subcommand("export");
    audit->add_subcommand("verify");
  }

  std::string Diagnose(std::vector<std::string> args) {
    return DiagnoseUnknown(app_, args);
  }

  CLI::App app_;
  std::string server_, value_;
  int number_ = 0;
  bool json_ = false;
};

TEST_F(DiagnoseUnknownTest, SuggestsACommand) {
  EXPECT_EQ(Diagnose({"stauts"}),
            "unknown command \"stauts\"; did you mean \"status\"?");
  EXPECT_EQ(Diagnose({"--server", "h:1", "lettres", "--json"}),
            "unknown command \"lettres\"; did you mean \"letters\"?");
  EXPECT_EQ(Diagnose({"audit", "verfiy", "f"}),
            "unknown command \"verfiy\" for \"audit\"; did you mean "
            "\"verify\"?");
}

TEST_F(DiagnoseUnknownTest, ListsTheCommandsWhenNoneIsNear) {
  EXPECT_EQ(Diagnose({"deploy"}),
            "unknown command \"deploy\"; the commands are letters, status, "
            "get, audit");
}

TEST_F(DiagnoseUnknownTest, SuggestsAFlagOfTheCommandOrAGlobalOne) {
  EXPECT_EQ(Diagnose({"letters", "--stat", "PARKED"}),
            "unknown flag \"--stat\" for \"letters\"; did you mean "
            "\"--state\"?");
  EXPECT_EQ(Diagnose({"letters", "--page-sise=5"}),
            "unknown flag \"--page-sise\" for \"letters\"; did you mean "
            "\"--page-size\"?");
  EXPECT_EQ(Diagnose({"letters", "--jsn"}),
            "unknown flag \"--jsn\" for \"letters\"; did you mean \"--json\"?");
  EXPECT_EQ(Diagnose({"--sever", "h:1", "status"}),
            "unknown flag \"--sever\"; did you mean \"--server\"?");
  EXPECT_EQ(Diagnose({"status", "--frobnicate"}),
            "unknown flag \"--frobnicate\" for \"status\"");
}

TEST_F(DiagnoseUnknownTest, ValuesOfOptionsAreNotTakenForCommands) {
  // "stauts" is the value of --state here, not a command.
  EXPECT_EQ(Diagnose({"letters", "--state", "stauts"}), "");
  EXPECT_EQ(Diagnose({"get", "stauts"}), "");  // A positional argument.
  EXPECT_EQ(Diagnose({"status", "--watch", "--json"}), "");
  EXPECT_EQ(Diagnose({"letters", "--page-size", "x"}), "");
}

}  // namespace
}  // namespace utpost::cli
