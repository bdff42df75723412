// The hostile PDF catalogue (tests/hostile/pdfs.py) through the checks in
// this process: every case but those answered by the sandbox's limits gets
// its documented answer, each within a few seconds.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gateway/inspect/document_inspector.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/hostile_pdfs.h"

namespace utpost::inspect {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::GenerateHostilePdfs;
using ::utpost::testing::HostilePdf;

// This process's VmHWM in KiB (-1 when unreadable).
int64_t PeakKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::strtoll(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
}

TEST(HostileCatalogueTest, EveryCaseGetsItsDocumentedAnswerInProcess) {
  absl::StatusOr<std::vector<HostilePdf>> cases = GenerateHostilePdfs();
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_GE(cases->size(), 25u);
  int checked = 0;
  for (const HostilePdf& c : *cases) {
    if (c.sandbox_only) continue;
    InspectionRequest request;
    request.documents.push_back({"brev.pdf", c.content});
    request.may_print = c.may_print;
    const auto start = std::chrono::steady_clock::now();
    const absl::Status s = InspectDocuments(request);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(s.code(), c.code) << c.name << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message)) << c.name;
    EXPECT_LT(took, std::chrono::seconds(5)) << c.name;
    std::printf("[ in-process ] %-36s %6lld ms  VmHWM %7lld KiB\n",
                c.name.c_str(),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(took)
                        .count()),
                static_cast<long long>(PeakKib()));
    ++checked;
  }
  EXPECT_GE(checked, 25);
}

}  // namespace
}  // namespace utpost::inspect
