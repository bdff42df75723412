#include "tests/testing/hostile_pdfs.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace utpost::testing {
namespace {

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

absl::StatusOr<std::vector<HostilePdf>> GenerateHostilePdfs() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "utpost-hostile-XXXXXX")
          .string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  const std::string dir = pattern;
  const std::string command = absl::StrCat(
      "python3 ", UTPOST_SOURCE_DIR, "/tests/hostile/pdfs.py '", dir, "'");
  if (std::system(command.c_str()) != 0) {
    std::filesystem::remove_all(dir);
    return absl::InternalError(absl::StrCat("failed: ", command));
  }
  absl::StatusOr<std::string> manifest = ReadWhole(dir + "/manifest.tsv");
  std::vector<HostilePdf> cases;
  if (manifest.ok()) {
    for (absl::string_view line : absl::StrSplit(*manifest, '\n')) {
      if (line.empty()) continue;
      std::vector<std::string> f = absl::StrSplit(line, '\t');
      if (f.size() != 6) {
        manifest = absl::InternalError(absl::StrCat("bad line: ", line));
        break;
      }
      HostilePdf c;
      c.name = f[0];
      absl::StatusOr<std::string> content = ReadWhole(dir + "/" + f[1]);
      if (!content.ok()) {
        manifest = content.status();
        break;
      }
      c.content = *std::move(content);
      c.code = f[2] == "OK" ? absl::StatusCode::kOk
                            : absl::StatusCode::kInvalidArgument;
      c.may_print = f[3] == "1";
      c.sandbox_only = f[4] == "1";
      c.message = f[5];
      cases.push_back(std::move(c));
    }
  }
  std::filesystem::remove_all(dir);
  if (!manifest.ok()) return manifest.status();
  return cases;
}

}  // namespace utpost::testing
