// The hostile PDF catalogue (tests/hostile/pdfs.py), generated for a test.
#ifndef UTPOST_TESTS_TESTING_HOSTILE_PDFS_H_
#define UTPOST_TESTS_TESTING_HOSTILE_PDFS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace utpost::testing {

struct HostilePdf {
  std::string name;
  std::string content;
  // "OK" or "INVALID_ARGUMENT".
  absl::StatusCode code = absl::StatusCode::kOk;
  // A substring of the message ("" for OK).
  std::string message;
  // Inspect as a letter that may be printed.
  bool may_print = true;
  // The answer comes from the sandbox's limits (only an isolated
  // inspector gives it).
  bool sandbox_only = false;
};

// Runs `python3 tests/hostile/pdfs.py` (from the source tree) into a fresh
// temporary folder and reads the cases back; the folder is removed.
absl::StatusOr<std::vector<HostilePdf>> GenerateHostilePdfs();

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_HOSTILE_PDFS_H_
