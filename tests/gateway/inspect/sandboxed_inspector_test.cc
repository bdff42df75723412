#include "gateway/inspect/sandboxed_inspector.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "gateway/inspect/document_inspector.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/hostile_pdfs.h"
#include "tests/testing/pdf_fixtures.h"

namespace utpost::inspect {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::utpost::testing::HostilePdf;
using ::utpost::testing::IsOk;
using ::utpost::testing::MakeTestPdf;
using ::utpost::testing::StatusIs;
using Clock = std::chrono::steady_clock;

SandboxOptions Options() {
  SandboxOptions o;
  o.worker_path = UTPOST_INSPECT_BINARY;
  return o;
}

// One slot whose letters run out of CPU time (1 s) before anything else.
SandboxOptions CpuBound() {
  SandboxOptions o = Options();
  o.workers = 1;
  o.cpu_seconds = 1;
  o.memory_bytes = int64_t{2} << 30;
  o.deadline = std::chrono::seconds(30);
  return o;
}

std::unique_ptr<SandboxedInspector> Start(SandboxOptions o = Options()) {
  absl::StatusOr<std::unique_ptr<SandboxedInspector>> s =
      NewSandboxedInspector(std::move(o));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

InspectionRequest One(const std::string& pdf, bool may_print = true) {
  InspectionRequest r;
  r.documents.push_back({"brev.pdf", pdf});
  r.may_print = may_print;
  return r;
}

std::future<absl::Status> InspectAsync(DocumentInspector& inspector,
                                       const InspectionRequest& request) {
  auto promise = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> f = promise->get_future();
  inspector.Inspect(request,
                    [promise](absl::Status s) { promise->set_value(s); });
  return f;
}

absl::Status InspectNow(DocumentInspector& inspector,
                        const InspectionRequest& request) {
  return InspectAsync(inspector, request).get();
}

// kB from a line of /proc/self/status, e.g. "VmHWM:".
int64_t StatusKib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::vector<std::string> parts = absl::StrSplit(
        line.substr(key.size()), absl::ByAnyChar(" \t"), absl::SkipEmpty());
    int64_t kib = 0;
    if (!parts.empty() && absl::SimpleAtoi(parts[0], &kib)) return kib;
  }
  return -1;
}

// The utpost-inspect processes this test started.
std::vector<pid_t> Workers() {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* e = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string stat;
    std::getline(in, stat);
    // "pid (comm) state ppid ..."
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    const std::string comm =
        stat.substr(stat.find('(') + 1, close - stat.find('(') - 1);
    std::vector<std::string> rest = absl::StrSplit(stat.substr(close + 2), ' ');
    int ppid = 0;
    if (comm.rfind("utpost-inspect", 0) == 0 && rest.size() > 1 &&
        absl::SimpleAtoi(rest[1], &ppid) && ppid == getpid()) {
      pids.push_back(pid);
    }
  }
  closedir(proc);
  return pids;
}

class SandboxedInspectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::vector<HostilePdf>> c =
        ::utpost::testing::GenerateHostilePdfs();
    ASSERT_TRUE(c.ok()) << c.status();
    cases_ = new std::vector<HostilePdf>(*std::move(c));
  }
  static void TearDownTestSuite() {
    delete cases_;
    cases_ = nullptr;
  }
  static const HostilePdf& Case(const std::string& name) {
    for (const HostilePdf& c : *cases_) {
      if (c.name == name) return c;
    }
    ADD_FAILURE() << "no case " << name;
    return cases_->front();
  }

  static std::vector<HostilePdf>* cases_;
};

std::vector<HostilePdf>* SandboxedInspectorTest::cases_ = nullptr;

// Waits until no letter waits for a worker (the slots took them).
void AwaitEmptyQueue(SandboxedInspector& inspector) {
  for (int i = 0; i < 500 && inspector.Stats().queued > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(inspector.Stats().queued, 0);
}

TEST_F(SandboxedInspectorTest, EveryHostileCaseGetsItsDocumentedAnswer) {
  ASSERT_GE(cases_->size(), 25u);
  SandboxOptions options = Options();
  std::unique_ptr<SandboxedInspector> inspector = Start(options);
  ASSERT_NE(inspector, nullptr);
  const int64_t hwm_before = StatusKib("VmHWM:");
  for (const HostilePdf& c : *cases_) {
    const auto start = Clock::now();
    const absl::Status s = InspectNow(*inspector, One(c.content, c.may_print));
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        Clock::now() - start)
                        .count();
    EXPECT_EQ(s.code(), c.code) << c.name << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message)) << c.name;
    EXPECT_LT(ms, options.deadline.count() + 2000) << c.name;
    std::printf(
        "[ case ] %-36s %6lld ms  worker peak RSS %7lld KiB  %s\n",
        c.name.c_str(), static_cast<long long>(ms),
        static_cast<long long>(inspector->Stats().last_worker_peak_rss_kib),
        std::string(s.message().substr(0, 90)).c_str());
  }
  const int64_t hwm_after = StatusKib("VmHWM:");
  std::printf("[ parent ] VmHWM before %lld KiB, after %lld KiB\n",
              static_cast<long long>(hwm_before),
              static_cast<long long>(hwm_after));
  // The catalogue itself is about 25 MB in this process; the bombs (1 GiB
  // inflated, 100,000 pages) stayed in the workers.
  EXPECT_LT(hwm_after - hwm_before, 64 * 1024);
  EXPECT_LT(hwm_after, 160 * 1024);
  EXPECT_EQ(inspector->Stats().letters_inspected,
            static_cast<int64_t>(cases_->size()));
  // Letters without a reuse key: a fresh worker each.
  EXPECT_EQ(inspector->Stats().letters_on_reused_workers, 0);
}

InspectionRequest OfTenant(const std::string& pdf, std::string_view tenant) {
  InspectionRequest r = One(pdf);
  r.reuse_key = tenant;
  return r;
}

// CPU seconds of this process's reaped children.
double ChildrenCpuSeconds() {
  struct rusage u {};
  getrusage(RUSAGE_CHILDREN, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The one worker of a one-slot pool, once the slot has it.
pid_t OnlyWorker() {
  std::vector<pid_t> pids = Workers();
  for (int i = 0; i < 300 && pids.size() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    pids = Workers();
  }
  EXPECT_EQ(pids.size(), 1u);
  return pids.empty() ? -1 : pids[0];
}

// The one worker of a one-slot pool once it is not `old`: a worker that is
// not kept is ended just after its letter is answered.
pid_t WorkerOtherThan(pid_t old) {
  for (int i = 0; i < 300; ++i) {
    const std::vector<pid_t> pids = Workers();
    if (pids.size() == 1 && pids[0] != old) return pids[0];
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "worker " << old << " was not replaced";
  return old;
}

TEST_F(SandboxedInspectorTest, OneTenantsLettersShareAWorkerNoOneElses) {
  SandboxOptions options = Options();
  options.workers = 1;
  options.letters_per_worker = 3;
  std::unique_ptr<SandboxedInspector> inspector = Start(options);
  ASSERT_NE(inspector, nullptr);
  const std::string pdf = MakeTestPdf(1, "Vedtak");
  // Three letters of one tenant: one worker, then it is replaced.
  ASSERT_THAT(InspectNow(*inspector, OfTenant(pdf, "910000001")), IsOk());
  const pid_t first = OnlyWorker();
  ASSERT_THAT(InspectNow(*inspector, OfTenant(pdf, "910000001")), IsOk());
  EXPECT_EQ(OnlyWorker(), first);
  ASSERT_THAT(InspectNow(*inspector, OfTenant(pdf, "910000001")), IsOk());
  WorkerOtherThan(first);
  EXPECT_EQ(inspector->Stats().letters_on_reused_workers, 2);
  // Another tenant's letter never goes to a worker that saw the first's.
  ASSERT_THAT(InspectNow(*inspector, OfTenant(pdf, "910000001")), IsOk());
  const pid_t of_first = OnlyWorker();
  ASSERT_THAT(InspectNow(*inspector, OfTenant(pdf, "920000002")), IsOk());
  const pid_t of_second = WorkerOtherThan(of_first);
  ASSERT_THAT(InspectNow(*inspector, OfTenant(pdf, "920000002")), IsOk());
  EXPECT_EQ(OnlyWorker(), of_second);
  // Nor does a letter without a key.
  ASSERT_THAT(InspectNow(*inspector, One(pdf)), IsOk());
  WorkerOtherThan(of_second);
  EXPECT_EQ(inspector->Stats().letters_on_reused_workers, 3);
  EXPECT_EQ(inspector->Stats().letters_inspected, 7);
}

TEST_F(SandboxedInspectorTest, AWorkerThatRefusedALetterIsNotReused) {
  SandboxOptions options = Options();
  options.workers = 1;
  std::unique_ptr<SandboxedInspector> inspector = Start(options);
  ASSERT_NE(inspector, nullptr);
  const std::string pdf = MakeTestPdf(1, "Vedtak");
  ASSERT_THAT(InspectNow(*inspector, OfTenant(pdf, "910000001")), IsOk());
  const pid_t worker = OnlyWorker();
  const std::string not_pdf = "not a pdf";
  EXPECT_THAT(
      InspectNow(*inspector, OfTenant(not_pdf, "910000001")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a PDF")));
  WorkerOtherThan(worker);
  ASSERT_THAT(InspectNow(*inspector, OfTenant(pdf, "910000001")), IsOk());
  // The refused letter was the only one on a reused worker.
  EXPECT_EQ(inspector->Stats().letters_on_reused_workers, 1);
}

TEST_F(SandboxedInspectorTest, CpuLimitHoldsForEachLetterOfAReusedWorker) {
  std::unique_ptr<SandboxedInspector> inspector = Start(CpuBound());
  ASSERT_NE(inspector, nullptr);
  const std::string pdf = MakeTestPdf(2, "Vedtak");
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(InspectNow(*inspector, OfTenant(pdf, "910000001")), IsOk());
  }
  const pid_t worker = OnlyWorker();
  const double children_before = ChildrenCpuSeconds();
  EXPECT_THAT(
      InspectNow(*inspector, OfTenant(Case("content_stream_cpu_burner").content,
                                      "910000001")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "documents: inspection stopped: exceeded the CPU time "
               "limit (1 s)"));
  // Stopped by the slot after about one second of this letter's CPU, not
  // by the worker's budget of two: the reaped worker's whole CPU time.
  const double used = ChildrenCpuSeconds() - children_before;
  EXPECT_GE(used, 1.0);
  EXPECT_LT(used, 1.8);
  EXPECT_EQ(inspector->Stats().letters_on_reused_workers, 5);
  WorkerOtherThan(worker);
  EXPECT_THAT(InspectNow(*inspector, OfTenant(pdf, "910000001")), IsOk());
}

TEST_F(SandboxedInspectorTest, DeadlineKillsTheWorkerAndOnlyThatLetterFails) {
  SandboxOptions options = Options();
  options.deadline = std::chrono::milliseconds(300);
  options.memory_bytes = int64_t{2} << 30;  // Time runs out first.
  options.cpu_seconds = 30;
  std::unique_ptr<SandboxedInspector> inspector = Start(options);
  ASSERT_NE(inspector, nullptr);
  const std::string normal = MakeTestPdf(1, "Vedtak");
  const auto start = Clock::now();
  std::future<absl::Status> slow =
      InspectAsync(*inspector, One(Case("content_stream_cpu_burner").content));
  std::vector<std::future<absl::Status>> others;
  for (int i = 0; i < 6; ++i) {
    others.push_back(InspectAsync(*inspector, One(normal)));
  }
  for (auto& f : others) EXPECT_THAT(f.get(), IsOk());
  EXPECT_THAT(slow.get(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "documents: inspection stopped: exceeded the time "
                       "limit of 300 ms"));
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(300 + 1500));
  // The slot works again with a new worker.
  EXPECT_THAT(InspectNow(*inspector, One(normal)), IsOk());
  EXPECT_EQ(inspector->Stats().inspections_stopped, 1);
}

TEST_F(SandboxedInspectorTest, MemoryLimitStopsTheLetter) {
  SandboxOptions options = Options();
  options.memory_bytes = int64_t{128} << 20;
  options.max_request_bytes = int64_t{32} << 20;
  options.deadline = std::chrono::seconds(20);
  options.cpu_seconds = 20;
  std::unique_ptr<SandboxedInspector> inspector = Start(options);
  ASSERT_NE(inspector, nullptr);
  EXPECT_THAT(
      InspectNow(*inspector, One(Case("content_stream_cpu_burner").content)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "documents: inspection stopped: exceeded the memory limit "
               "(128 MiB)"));
  EXPECT_THAT(InspectNow(*inspector, One(MakeTestPdf())), IsOk());
}

TEST_F(SandboxedInspectorTest, WorkerKilledMidRequestIsReplaced) {
  SandboxOptions options = Options();
  options.workers = 1;
  options.memory_bytes = int64_t{2} << 30;
  options.cpu_seconds = 30;
  options.deadline = std::chrono::seconds(30);
  std::unique_ptr<SandboxedInspector> inspector = Start(options);
  ASSERT_NE(inspector, nullptr);
  std::future<absl::Status> slow =
      InspectAsync(*inspector, One(Case("content_stream_cpu_burner").content));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::vector<pid_t> workers = Workers();
  ASSERT_EQ(workers.size(), 1u);
  ASSERT_EQ(kill(workers[0], SIGSEGV), 0);
  EXPECT_THAT(slow.get(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "documents: inspection stopped: crashed (signal 11)"));
  EXPECT_THAT(InspectNow(*inspector, One(MakeTestPdf())), IsOk());
  // The slot starts its next worker after answering.
  std::vector<pid_t> after = Workers();
  for (int i = 0; i < 200 && after.size() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    after = Workers();
  }
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0], workers[0]);
  EXPECT_GE(inspector->Stats().workers_started, 3);
}

TEST_F(SandboxedInspectorTest, ForbiddenSystemCallKillsTheWorker) {
  // The worker's own check: after its set-up, opening a file kills it.
  const int status = std::system(UTPOST_INSPECT_BINARY " --check-sandbox");
  ASSERT_NE(status, -1);
  // system() runs it under sh, which reports a signal as 128 + signal.
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGSYS);

  SandboxOptions options = Options();
  options.workers = 1;
  options.memory_bytes = int64_t{2} << 30;
  options.cpu_seconds = 30;
  options.deadline = std::chrono::seconds(30);
  std::unique_ptr<SandboxedInspector> inspector = Start(options);
  ASSERT_NE(inspector, nullptr);
  std::future<absl::Status> slow =
      InspectAsync(*inspector, One(Case("content_stream_cpu_burner").content));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::vector<pid_t> workers = Workers();
  ASSERT_EQ(workers.size(), 1u);
  ASSERT_EQ(kill(workers[0], SIGSYS), 0);
  EXPECT_THAT(slow.get(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "documents: inspection stopped: made a forbidden "
                       "system call"));
}

TEST_F(SandboxedInspectorTest, CpuLimitStopsTheLetter) {
  std::unique_ptr<SandboxedInspector> inspector = Start(CpuBound());
  ASSERT_NE(inspector, nullptr);
  EXPECT_THAT(
      InspectNow(*inspector, One(Case("content_stream_cpu_burner").content)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "documents: inspection stopped: exceeded the CPU time limit "
               "(1 s)"));
}

TEST_F(SandboxedInspectorTest, FullQueueRefusesBusy) {
  SandboxOptions options = Options();
  options.workers = 1;
  options.max_queued = 1;
  options.deadline = std::chrono::milliseconds(500);
  std::unique_ptr<SandboxedInspector> inspector = Start(options);
  ASSERT_NE(inspector, nullptr);
  const InspectionRequest slow = One(Case("content_stream_cpu_burner").content);
  std::future<absl::Status> first = InspectAsync(*inspector, slow);
  AwaitEmptyQueue(*inspector);
  std::future<absl::Status> second = InspectAsync(*inspector, slow);
  EXPECT_THAT(InspectNow(*inspector, slow),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "document inspection is busy"));
  EXPECT_THAT(first.get(), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("inspection stopped")));
  EXPECT_THAT(second.get(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("inspection stopped")));
  EXPECT_EQ(inspector->Stats().refused_busy, 1);
}

TEST_F(SandboxedInspectorTest,
       BulkLettersWaitInsteadOfBeingRefusedAndTakeTurns) {
  SandboxOptions options = Options();
  options.workers = 1;
  options.max_queued = 1;
  options.max_bulk_queued = 10;
  options.deadline = std::chrono::milliseconds(500);
  std::unique_ptr<SandboxedInspector> inspector = Start(options);
  ASSERT_NE(inspector, nullptr);
  // The slot busy with a slow letter while the others arrive.
  std::future<absl::Status> slow =
      InspectAsync(*inspector, One(Case("content_stream_cpu_burner").content));
  AwaitEmptyQueue(*inspector);
  const std::string pdf = MakeTestPdf(1, "Skattevedtak");
  std::mutex mu;
  std::vector<std::string> order;
  std::vector<absl::Status> results;
  auto inspect = [&](const std::string& name, std::string_view tenant,
                     bool bulk) {
    InspectionRequest r = OfTenant(pdf, tenant);
    r.wait_when_busy = bulk;
    inspector->Inspect(r, [&, name](absl::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(name);
      results.push_back(s);
    });
  };
  // Tenant A's bulk run: far more than the queue of single letters holds,
  // none refused up to its own bound.
  for (int i = 0; i < 10; ++i) inspect("A" + std::to_string(i), "A", true);
  // Its bound: the eleventh waiting letter of one tenant is refused.
  InspectionRequest eleventh = OfTenant(pdf, "A");
  eleventh.wait_when_busy = true;
  EXPECT_THAT(InspectNow(*inspector, eleventh),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "document inspection is busy"));
  // Then a single letter of tenant B and a bulk letter of tenant C.
  inspect("B", "B", false);
  inspect("C", "C", true);
  EXPECT_EQ(inspector->Stats().queued, 12);
  EXPECT_THAT(slow.get(), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("inspection stopped")));
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (order.size() == 12) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(order.size(), 12u);
  for (const absl::Status& s : results) EXPECT_THAT(s, IsOk());
  // In turn: A's first, B's single letter, C's, then the rest of A's.
  EXPECT_EQ(order[0], "A0");
  EXPECT_EQ(order[1], "B");
  EXPECT_EQ(order[2], "C");
  EXPECT_EQ(order[11], "A9");
  EXPECT_EQ(inspector->Stats().refused_busy, 1);
}

TEST_F(SandboxedInspectorTest, StopFailsWaitingLettersAndLaterOnes) {
  SandboxOptions options = Options();
  options.workers = 1;
  options.deadline = std::chrono::milliseconds(500);
  std::unique_ptr<SandboxedInspector> inspector = Start(options);
  ASSERT_NE(inspector, nullptr);
  const InspectionRequest slow = One(Case("content_stream_cpu_burner").content);
  std::future<absl::Status> first = InspectAsync(*inspector, slow);
  AwaitEmptyQueue(*inspector);
  std::future<absl::Status> waiting = InspectAsync(*inspector, slow);
  inspector->Stop();
  EXPECT_THAT(waiting.get(), StatusIs(absl::StatusCode::kUnavailable,
                                      "document inspection is shutting down"));
  EXPECT_THAT(first.get(), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("inspection stopped")));
  EXPECT_THAT(
      InspectNow(*inspector, One(MakeTestPdf())),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  EXPECT_TRUE(Workers().empty());
}

TEST_F(SandboxedInspectorTest, MissingBinaryFailsAtStart) {
  SandboxOptions options = Options();
  options.worker_path = "/nonexistent/utpost-inspect";
  EXPECT_THAT(NewSandboxedInspector(options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("/nonexistent/utpost-inspect")));
  options = Options();
  options.workers = 0;
  EXPECT_THAT(
      NewSandboxedInspector(options).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("workers")));
}

TEST_F(SandboxedInspectorTest, WholeLetterInOneRequestSoSheetsAddUp) {
  std::unique_ptr<SandboxedInspector> inspector = Start();
  ASSERT_NE(inspector, nullptr);
  const std::string eight = MakeTestPdf(8, "Vedlegg");
  InspectionRequest r;
  r.documents = {{"a.pdf", eight}, {"b.pdf", eight}};
  r.may_print = true;
  EXPECT_THAT(
      InspectNow(*inspector, r),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("documents: 16 sheets, an envelope holds 14")));
}

TEST_F(SandboxedInspectorTest, PageCountsComeBackWhenAskedFor) {
  std::unique_ptr<SandboxedInspector> inspector = Start();
  ASSERT_NE(inspector, nullptr);
  const std::string three = MakeTestPdf(3, "Vedlegg");
  const std::string five = MakeTestPdf(5, "Vedtak");
  std::vector<int> pages = {99};
  InspectionRequest r;
  r.documents = {{"a.pdf", five}, {"b.pdf", three}};
  r.may_print = false;
  r.page_counts = &pages;
  EXPECT_THAT(InspectNow(*inspector, r), IsOk());
  EXPECT_EQ(pages, (std::vector<int>{5, 3}));
  EXPECT_EQ(SheetsFor(pages, /*duplex=*/true, /*cover_page=*/true), 1 + 3 + 2);
  // Not asked: nothing to fill, and the letter passes as before.
  r.page_counts = nullptr;
  EXPECT_THAT(InspectNow(*inspector, r), IsOk());
}

// Per-letter latency of a normal one-page letter, through the sandbox with
// a fresh worker per letter and with a reused one, and in this process; and
// letters per second through a two-slot pool both ways (printed; the bound
// is loose, for a loaded machine).
TEST_F(SandboxedInspectorTest, NormalLetterLatencyAndRate) {
  SandboxOptions fresh_options = Options();
  fresh_options.letters_per_worker = 1;
  std::unique_ptr<SandboxedInspector> fresh = Start(fresh_options);
  std::unique_ptr<SandboxedInspector> reused = Start();
  ASSERT_NE(fresh, nullptr);
  ASSERT_NE(reused, nullptr);
  std::unique_ptr<DocumentInspector> local = NewInProcessInspector();
  const std::string pdf = MakeTestPdf(1, "Vedtak om tilskudd");
  constexpr int kRounds = 20;
  auto measure = [&](DocumentInspector& i) {
    std::vector<double> ms;
    for (int n = 0; n < kRounds; ++n) {
      const auto start = Clock::now();
      EXPECT_THAT(InspectNow(i, OfTenant(pdf, "910000001")), IsOk());
      ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - start)
              .count());
      // Time for the slot to start its next worker, as between letters.
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    std::sort(ms.begin(), ms.end());
    return ms[kRounds / 2];
  };
  constexpr int kLetters = 200;
  auto rate = [&](DocumentInspector& i) {
    const auto start = Clock::now();
    std::vector<std::future<absl::Status>> all;
    for (int n = 0; n < kLetters; ++n) {
      all.push_back(InspectAsync(i, OfTenant(pdf, "910000001")));
      // The queue holds 32; keep it below that.
      if (all.size() >= 24) {
        EXPECT_THAT(all.front().get(), IsOk());
        all.erase(all.begin());
      }
    }
    for (auto& f : all) EXPECT_THAT(f.get(), IsOk());
    return kLetters /
           std::chrono::duration<double>(Clock::now() - start).count();
  };
  const double fresh_ms = measure(*fresh);
  const double reused_ms = measure(*reused);
  const double in_process_ms = measure(*local);
  const double fresh_rate = rate(*fresh);
  const double reused_rate = rate(*reused);
  std::printf(
      "[ latency ] one-page letter, median of %d: sandboxed %.2f ms (fresh "
      "worker), %.2f ms (reused), in-process %.2f ms; worker peak RSS %lld "
      "KiB\n"
      "[ rate ] %d letters, two slots: %.0f letters/s with a fresh worker "
      "each, %.0f letters/s with workers reused\n",
      kRounds, fresh_ms, reused_ms, in_process_ms,
      static_cast<long long>(reused->Stats().last_worker_peak_rss_kib),
      kLetters, fresh_rate, reused_rate);
  EXPECT_LT(fresh_ms, 500);
  EXPECT_LT(reused_ms, 500);
  EXPECT_EQ(fresh->Stats().letters_on_reused_workers, 0);
  EXPECT_GT(reused->Stats().letters_on_reused_workers, kLetters / 2);
}

}  // namespace
}  // namespace utpost::inspect
