#include "cli/usage.h"

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/text.h"

namespace utpost::cli {
namespace {

std::vector<const CLI::App*> Subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App*) { return true; });
}

const CLI::App* FindSubcommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : Subcommands(app)) {
    if (sub->check_name(name)) return sub;
  }
  return nullptr;
}

bool HasPositionals(const CLI::App& app) {
  return !app.get_options(
                 [](const CLI::Option* o) { return o->get_positional(); })
              .empty();
}

// The option `name` ("--state", "-o") of the command or one of its parents
// (global options fall through to every command).
const CLI::Option* FindOption(const std::vector<const CLI::App*>& chain,
                              const std::string& name) {
  for (const CLI::App* a : chain) {
    if (const CLI::Option* o = a->get_option_no_throw(name)) return o;
  }
  return nullptr;
}

std::vector<std::string> OptionNames(
    const std::vector<const CLI::App*>& chain) {
  std::vector<std::string> names;
  for (const CLI::App* a : chain) {
    for (const CLI::Option* o : a->get_options()) {
      for (const auto& l : o->get_lnames()) names.push_back("--" + l);
    }
  }
  return names;
}

std::string CommandPath(const std::vector<const CLI::App*>& chain) {
  std::vector<std::string> names;
  for (size_t i = 1; i < chain.size(); ++i) {
    names.push_back(chain[i]->get_name());
  }
  return absl::StrJoin(names, " ");
}

}  // namespace

std::string DiagnoseUnknown(const CLI::App& app,
                            const std::vector<std::string>& args) {
  std::vector<const CLI::App*> chain{&app};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    const CLI::App& current = *chain.back();
    if (absl::StartsWith(arg, "-") && arg.size() > 1) {
      const bool long_form = absl::StartsWith(arg, "--");
      const size_t eq = arg.find('=');
      const std::string name = long_form ? arg.substr(0, eq) : arg.substr(0, 2);
      const CLI::Option* o = FindOption(chain, name);
      if (o == nullptr) {
        if (!long_form) return "";  // Short options: leave it to CLI11.
        const std::string near = ClosestMatch(name, OptionNames(chain));
        const std::string where = CommandPath(chain);
        return absl::StrCat(
            "unknown flag \"", name, "\"",
            where.empty() ? "" : absl::StrCat(" for \"", where, "\""),
            near.empty() ? "" : absl::StrCat("; did you mean \"", near, "\"?"));
      }
      // Its value is the next argument unless given with "=" (or glued to
      // a short option).
      const bool inline_value =
          long_form ? eq != std::string::npos : arg.size() > 2;
      if (o->get_items_expected_max() > 0 && !inline_value &&
          i + 1 < args.size() &&
          !(o->get_expected_min() == 0 && absl::StartsWith(args[i + 1], "-"))) {
        ++i;
      }
      continue;
    }
    if (const CLI::App* sub = FindSubcommand(current, arg)) {
      chain.push_back(sub);
      continue;
    }
    // A word that is no command, where only commands may come.
    if (!HasPositionals(current) && !Subcommands(current).empty()) {
      std::vector<std::string> names;
      for (const CLI::App* sub : Subcommands(current)) {
        if (!sub->get_name().empty()) names.push_back(sub->get_name());
      }
      const std::string near = ClosestMatch(arg, names);
      const std::string where = CommandPath(chain);
      return absl::StrCat(
          "unknown command \"", arg, "\"",
          where.empty() ? "" : absl::StrCat(" for \"", where, "\""),
          near.empty()
              ? absl::StrCat("; the commands are ", absl::StrJoin(names, ", "))
              : absl::StrCat("; did you mean \"", near, "\"?"));
    }
  }
  return "";
}

}  // namespace utpost::cli
