// An inspector that opens tenants' documents only in isolated worker
// processes, so that a hostile PDF can cost the letter that carries it and
// nothing else.
//
// Each letter is inspected by a `utpost-inspect` process (started with
// posix_spawn of the binary, never a fork of this multithreaded process),
// which before reading its input limits itself (address space, CPU time,
// no files, no core dumps, no new privileges) and installs a seccomp filter
// that kills it on any system call beyond reading its request, writing its
// reply and managing memory. The worker inspects the whole letter (all
// documents, so sheet counts work) and answers. A pool of `workers` slots
// keeps one started worker each, ready before the letter arrives.
//
// Reuse: a worker may inspect up to `letters_per_worker` letters in turn,
// but only letters of one reuse key (the tenant; InspectionRequest), so no
// state of one tenant's letter can reach another tenant's. Letters are
// taken in arrival order; when the next letter's key is not the worker's,
// the worker is ended and a fresh one takes it. A worker is also ended
// after a letter it refused or could not finish, and once it has used half
// its CPU budget. Starting a process (exec, libraries, qpdf's warm-up)
// costs several times a small letter's inspection, so in a tenant's bulk
// run reuse is what lets the sandbox keep up.
//
// CPU time per letter: a reused worker's RLIMIT_CPU is twice
// `cpu_seconds` (and it is ended once it has used `cpu_seconds`, so every
// letter has at least that much); the slot reads the worker's CPU time
// while it waits and kills it when THIS letter has used more than
// `cpu_seconds`. With letters_per_worker 1, RLIMIT_CPU is `cpu_seconds`.
//
// When the worker dies (a signal, a resource limit, the seccomp filter) or
// misses the letter's deadline (it is then killed with SIGKILL), THAT
// letter fails INVALID_ARGUMENT, e.g.
//   "documents: inspection stopped: exceeded the memory limit (512 MiB)"
//   "documents: inspection stopped: exceeded the CPU time limit (5 s)"
//   "documents: inspection stopped: exceeded the time limit of 10 s"
//   "documents: inspection stopped: crashed (signal 11)"
//   "documents: inspection stopped: made a forbidden system call"
// and a new worker takes the slot; other letters do not notice. The reply
// is read only within its bounded frame and only OK or INVALID_ARGUMENT are
// taken from it.
//
// Load and fairness: single letters wait in one bounded queue for a free
// slot; when `max_queued` wait already, Inspect answers at once with
// RESOURCE_EXHAUSTED "document inspection is busy" (the client may retry),
// rather than letting the queue and the latency grow without bound. Letters
// of bulk streams (InspectionRequest::wait_when_busy) wait in a queue per
// reuse key (tenant) instead, refused only past `max_bulk_queued` of one
// key (their streams bound how many each sends). The slots take letters in
// turn: the single letters' queue, then the next tenant's bulk queue, then the
// single letters' again, and so on, so a tenant's 100,000-letter run holds back
// another tenant's letter by at most one letter per tenant ahead of it in the
// turn. After Stop, Inspect answers UNAVAILABLE.
//
// Threads: one per slot, which hands the slot's letters to its worker and
// waits for the answer with poll(); `done` runs on that thread. Thread-safe.
#ifndef UTPOST_GATEWAY_INSPECT_SANDBOXED_INSPECTOR_H_
#define UTPOST_GATEWAY_INSPECT_SANDBOXED_INSPECTOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/inspect/document_inspector.h"
#include "gateway/inspect/document_policy.h"

namespace utpost::inspect {

struct SandboxOptions {
  // The utpost-inspect binary. Empty (default): "utpost-inspect" in the
  // folder of the running executable (/proc/self/exe).
  std::string worker_path;
  // Workers inspecting at the same time. Default 2.
  int workers = 2;
  // Letters waiting for a worker at most; more are refused. Default 32.
  int max_queued = 32;
  // Bulk letters (wait_when_busy) of one reuse key waiting at most; more
  // are refused as busy. Default 1024, sixteen SubmitBatch streams' windows: a
  // tenant opening many streams cannot make the queue grow without bound.
  int max_bulk_queued = 1024;
  // Wall-clock time one letter's inspection may take, from the moment a
  // worker has it. Default 10 s.
  std::chrono::milliseconds deadline{10000};
  // RLIMIT_AS of a worker. Default 512 MiB.
  int64_t memory_bytes = int64_t{512} << 20;
  // CPU time one letter's inspection may take. Default 5 s.
  int cpu_seconds = 5;
  // Letters of one reuse key a worker inspects before it is replaced.
  // Default 64; 1 is a fresh worker for every letter.
  int letters_per_worker = 64;
  // A request (all documents of a letter and their file names) is at most
  // this long; longer letters fail INVALID_ARGUMENT without a worker.
  // Default 96 MiB. Must be below memory_bytes.
  int64_t max_request_bytes = int64_t{96} << 20;
  // The policy applied to every letter.
  DocumentLimits limits;
};

// Counters since the start, for tests and metrics.
struct SandboxStats {
  int64_t workers_started = 0;
  int64_t letters_inspected = 0;
  // Letters a worker inspected after another one (reuse).
  int64_t letters_on_reused_workers = 0;
  // Letters whose worker died or ran out of time.
  int64_t inspections_stopped = 0;
  int64_t refused_busy = 0;
  // Letters waiting for a worker now.
  int64_t queued = 0;
  // Peak RSS of the worker that answered or ended last, and of all, in
  // KiB: its VmHWM when it answered (over all its letters so far); for one
  // that died, wait4's ru_maxrss, which also counts this process's RSS at
  // the worker's start.
  int64_t last_worker_peak_rss_kib = 0;
  int64_t max_worker_peak_rss_kib = 0;
};

class SandboxedInspector final : public DocumentInspector {
 public:
  // Stops the pool (see Stop).
  ~SandboxedInspector() override;
  SandboxedInspector(const SandboxedInspector&) = delete;
  SandboxedInspector& operator=(const SandboxedInspector&) = delete;

  void Inspect(const InspectionRequest& request,
               std::function<void(absl::Status)> done) override;

  // Letters waiting fail UNAVAILABLE; letters being inspected finish (each
  // within its deadline); the workers are ended. Idempotent; blocks until
  // the slots' threads are gone.
  void Stop();

  SandboxStats Stats() const;

  struct Impl;

 private:
  friend absl::StatusOr<std::unique_ptr<SandboxedInspector>>
  NewSandboxedInspector(SandboxOptions options);
  explicit SandboxedInspector(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

// Checks the options, finds the binary, checks that its sandbox is in
// force on this host (a worker started with --check-sandbox must be killed
// by the seccomp filter) and starts the pool (a worker per slot). Fails
// INVALID_ARGUMENT naming the option, or FAILED_PRECONDITION when the
// binary cannot be started or its sandbox does not hold.
absl::StatusOr<std::unique_ptr<SandboxedInspector>> NewSandboxedInspector(
    SandboxOptions options);

}  // namespace utpost::inspect

#endif  // UTPOST_GATEWAY_INSPECT_SANDBOXED_INSPECTOR_H_
