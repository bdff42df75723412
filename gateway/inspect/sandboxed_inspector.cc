#include "gateway/inspect/sandboxed_inspector.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/mask.h"
#include "gateway/inspect/inspect_exit.h"
#include "gateway/inspect/inspect_protocol.h"

namespace utpost::inspect {
namespace {

using Clock = std::chrono::steady_clock;

std::string Mib(int64_t bytes) {
  if (bytes % (int64_t{1} << 20) == 0) return absl::StrCat(bytes >> 20, " MiB");
  return absl::StrCat(bytes, " bytes");
}

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return absl::StrCat(d.count() / 1000, " s");
  return absl::StrCat(d.count(), " ms");
}

absl::Status Stopped(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("documents: inspection stopped: ", why));
}

// One started utpost-inspect process and the parent's end of its socket.
struct Worker {
  pid_t pid = -1;
  int fd = -1;
  // The reuse key of the letters it inspected, and how many.
  std::string key;
  int served = 0;
  bool alive() const { return pid > 0; }
};

struct Job {
  InspectionRequest request;  // Views valid until `done` runs.
  std::function<void(absl::Status)> done;
};

// How a worker ended.
struct Ending {
  int status = 0;  // As from waitpid.
  bool reaped = false;
  struct rusage usage {};
  // VmHWM read while it still ran; -1 when it did not answer.
  int64_t peak_rss_kib = -1;
};

// VmHWM of a running process, in KiB (-1 when unreadable). wait4's
// ru_maxrss would not do: after posix_spawn it includes the parent's RSS.
int64_t PeakRssKib(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    int64_t kib = -1;
    std::istringstream(line.substr(6)) >> kib;
    return kib;
  }
  return -1;
}

// User and system CPU time of a running process, in seconds (-1 when
// unreadable): fields 14 and 15 of /proc/PID/stat, after the command name.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat;
  std::getline(in, stat);
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
  }
  static const double kTicksPerSecond =
      static_cast<double>(sysconf(_SC_CLK_TCK));
  return ticks / kTicksPerSecond;
}

}  // namespace

struct SandboxedInspector::Impl {
  explicit Impl(SandboxOptions o) : options(std::move(o)) {
    argv_storage = {
        options.worker_path,
        absl::StrCat("--memory-bytes=", options.memory_bytes),
        // A reused worker's budget is twice a letter's (see the header).
        absl::StrCat("--cpu-seconds=",
                     reuse() ? 2 * options.cpu_seconds : options.cpu_seconds),
        absl::StrCat("--max-request-bytes=", options.max_request_bytes),
    };
  }

  bool reuse() const { return options.letters_per_worker > 1; }
  absl::StatusOr<Worker> Spawn(bool check_sandbox = false);
  void Retire(Worker& worker);
  absl::Status CheckSandbox();
  void SlotLoop(Worker worker);
  absl::Status Run(Worker& worker, const Job& job, Ending* ending);
  absl::Status Judge(const Ending& ending, bool timed_out);
  static void End(Worker& worker, Ending* ending, Clock::time_point until);

  const SandboxOptions options;
  std::vector<std::string> argv_storage;

  mutable absl::Mutex mu;
  // Takes the next letter in turn (see the header); false when none waits.
  bool Next(Job* job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  bool Waiting() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return !queue.empty() || !turns.empty();
  }

  // Single letters (bounded), and bulk letters by reuse key.
  std::deque<Job> queue ABSL_GUARDED_BY(mu);
  std::map<std::string, std::deque<Job>> bulk ABSL_GUARDED_BY(mu);
  // The keys with bulk letters waiting, in turn order; whether the single
  // letters have the next turn.
  std::deque<std::string> turns ABSL_GUARDED_BY(mu);
  bool single_turn ABSL_GUARDED_BY(mu) = true;
  int64_t bulk_waiting ABSL_GUARDED_BY(mu) = 0;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  SandboxStats stats ABSL_GUARDED_BY(mu);
  std::vector<std::thread> slots;
  absl::Mutex stop_mu;  // Serialises Stop.
};

absl::StatusOr<Worker> SandboxedInspector::Impl::Spawn(bool check_sandbox) {
  int fds[2];
  // CLOEXEC on both ends: a worker another slot starts at the same moment
  // must not inherit this one's socket. dup2 below clears it on 0 and 1.
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::UnavailableError(
        absl::StrCat("document inspection: socketpair: ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Default dispositions and an empty mask, whatever the daemon set.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  std::string check = "--check-sandbox";
  if (check_sandbox) argv.push_back(check.data());
  argv.push_back(nullptr);
  char* envp[] = {nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, options.worker_path.c_str(), &actions, &attr,
                             argv.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return absl::FailedPreconditionError(
        absl::StrCat("document inspection: cannot start ", options.worker_path,
                     ": ", strerror(rc)));
  }
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  {
    absl::MutexLock lock(&mu);
    ++stats.workers_started;
  }
  return Worker{pid, fds[0]};
}

// Kills the worker if it still runs at `until` and reaps it.
void SandboxedInspector::Impl::End(Worker& worker, Ending* ending,
                                   Clock::time_point until) {
  if (!worker.alive()) return;
  if (worker.fd >= 0) close(worker.fd);
  worker.fd = -1;
  while (true) {
    pid_t r = wait4(worker.pid, &ending->status, WNOHANG, &ending->usage);
    if (r == worker.pid) break;
    if (r < 0 && errno != EINTR) break;
    if (Clock::now() >= until) {
      kill(worker.pid, SIGKILL);
      while (wait4(worker.pid, &ending->status, 0, &ending->usage) < 0 &&
             errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ending->reaped = true;
  worker.pid = -1;
}

// A worker started with --check-sandbox must die of SIGSYS: otherwise the
// limits or the seccomp filter are not in force on this host, and the
// daemon must not serve.
absl::Status SandboxedInspector::Impl::CheckSandbox() {
  absl::StatusOr<Worker> w = Spawn(/*check_sandbox=*/true);
  if (!w.ok()) return w.status();
  Ending ending;
  End(*w, &ending, Clock::now() + std::chrono::seconds(10));
  if (WIFSIGNALED(ending.status) && WTERMSIG(ending.status) == SIGSYS) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "document inspection: the sandbox of ", options.worker_path,
      " is not in force on this host (",
      WIFEXITED(ending.status)
          ? absl::StrCat("exit status ", WEXITSTATUS(ending.status))
          : absl::StrCat("signal ", WTERMSIG(ending.status)),
      ", expected SIGSYS)"));
}

absl::Status SandboxedInspector::Impl::Judge(const Ending& ending,
                                             bool timed_out) {
  if (timed_out) {
    return Stopped(
        absl::StrCat("exceeded the time limit of ", Seconds(options.deadline)));
  }
  const int st = ending.status;
  const double cpu =
      ending.usage.ru_utime.tv_sec + ending.usage.ru_stime.tv_sec +
      (ending.usage.ru_utime.tv_usec + ending.usage.ru_stime.tv_usec) / 1e6;
  const std::string cpu_limit =
      absl::StrCat("exceeded the CPU time limit (", options.cpu_seconds, " s)");
  if (WIFEXITED(st)) {
    switch (WEXITSTATUS(st)) {
      case kExitOutOfMemory:
        return Stopped(absl::StrCat("exceeded the memory limit (",
                                    Mib(options.memory_bytes), ")"));
      case kExitRequestTooLarge:
        return Stopped("the letter is too large to inspect");
      default:
        return Stopped(
            absl::StrCat("crashed (exit status ", WEXITSTATUS(st), ")"));
    }
  }
  if (WIFSIGNALED(st)) {
    const int sig = WTERMSIG(st);
    if (sig == SIGXCPU) return Stopped(cpu_limit);
    // RLIMIT_CPU's hard limit ends with SIGKILL.
    if (sig == SIGKILL && cpu + 0.5 >= options.cpu_seconds) {
      return Stopped(cpu_limit);
    }
    if (sig == SIGSYS) return Stopped("made a forbidden system call");
    return Stopped(absl::StrCat("crashed (signal ", sig, ")"));
  }
  return Stopped("ended without an answer");
}

absl::Status SandboxedInspector::Impl::Run(Worker& worker, const Job& job,
                                           Ending* ending) {
  const std::string payload = EncodeRequest(job.request, options.limits);
  if (static_cast<int64_t>(payload.size()) > options.max_request_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("documents: too large to inspect (more than ",
                     Mib(options.max_request_bytes), ")"));
  }
  const std::string header = FrameHeader(static_cast<uint32_t>(payload.size()));
  const Clock::time_point deadline = Clock::now() + options.deadline;
  size_t sent = 0;
  const size_t to_send = header.size() + payload.size();
  unsigned char reply_header[4];
  size_t header_got = 0;
  std::string reply;
  size_t reply_size = 0;
  bool reply_complete = false;
  bool malformed = false;
  bool timed_out = false;
  bool cpu_exceeded = false;
  bool gone = false;
  // A reused worker has CPU time of earlier letters: this letter's is what
  // it uses from now on, read at most every kCpuCheck while it works.
  constexpr auto kCpuCheck = std::chrono::milliseconds(100);
  const double cpu_before = reuse() ? CpuSeconds(worker.pid) : 0;
  Clock::time_point next_cpu_check = Clock::now() + kCpuCheck;
  while (!reply_complete && !malformed && !gone) {
    const Clock::time_point now = Clock::now();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (reuse() && now >= next_cpu_check) {
      next_cpu_check = now + kCpuCheck;
      const double used = CpuSeconds(worker.pid) - cpu_before;
      if (cpu_before >= 0 && used > options.cpu_seconds) {
        cpu_exceeded = true;
        break;
      }
    }
    auto wait = left;
    if (reuse()) {
      wait =
          std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                             next_cpu_check - now));
    }
    pollfd p{worker.fd,
             static_cast<short>(POLLIN | (sent < to_send ? POLLOUT : 0)), 0};
    const int n = poll(&p, 1, static_cast<int>(wait.count()) + 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      gone = true;
      break;
    }
    if (n == 0) continue;
    if ((p.revents & POLLOUT) && sent < to_send) {
      const char* data;
      size_t len;
      if (sent < header.size()) {
        data = header.data() + sent;
        len = header.size() - sent;
      } else {
        data = payload.data() + (sent - header.size());
        len = to_send - sent;
      }
      const ssize_t w = send(worker.fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        sent += static_cast<size_t>(w);
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        gone = true;  // The worker died; its ending says why.
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[16 * 1024];
      size_t want = sizeof(buffer);
      if (header_got < 4) {
        want = 4 - header_got;
      } else {
        want = std::min(want, reply_size - reply.size());
      }
      const ssize_t r = recv(worker.fd, buffer, want, MSG_DONTWAIT);
      if (r == 0) {
        gone = true;
      } else if (r < 0) {
        if (errno != EAGAIN && errno != EINTR) gone = true;
      } else if (header_got < 4) {
        std::memcpy(reply_header + header_got, buffer, r);
        header_got += r;
        if (header_got == 4) {
          reply_size = FrameLength(reply_header);
          if (reply_size > kMaxReplyBytes) malformed = true;
          if (reply_size == 0) malformed = true;
        }
      } else {
        reply.append(buffer, r);
        if (reply.size() == reply_size) reply_complete = true;
      }
    }
  }
  if (reply_complete) {
    // It waits for the next letter; the slot decides whether it gets one.
    ending->peak_rss_kib = PeakRssKib(worker.pid);
  } else if (malformed || timed_out || cpu_exceeded) {
    kill(worker.pid, SIGKILL);
    End(worker, ending, Clock::now());
  } else {
    // It closed its socket: it is ending. Give it until the deadline.
    End(worker, ending, deadline);
  }
  if (timed_out) return Judge(*ending, true);
  if (cpu_exceeded) {
    return Stopped(absl::StrCat("exceeded the CPU time limit (",
                                options.cpu_seconds, " s)"));
  }
  if (malformed) return Stopped("the inspector's answer was malformed");
  if (!reply_complete) return Judge(*ending, false);
  std::vector<int> page_counts;
  absl::StatusOr<absl::Status> answer = DecodeReply(reply, &page_counts);
  if (!answer.ok()) return Stopped("the inspector's answer was malformed");
  if (answer->ok()) {
    if (job.request.page_counts != nullptr) {
      if (page_counts.size() != job.request.documents.size()) {
        return Stopped("the inspector's answer was malformed");
      }
      *job.request.page_counts = std::move(page_counts);
    }
    return absl::OkStatus();
  }
  std::string message = MaskPersonNumbersIn(
      std::string_view(answer->message().data(), answer->message().size()));
  if (!absl::StartsWith(message, "documents")) {
    message = absl::StrCat("documents: ", message);
  }
  return absl::InvalidArgumentError(message);
}

bool SandboxedInspector::Impl::Next(Job* job) {
  const bool single = !queue.empty() && (single_turn || turns.empty());
  if (single) {
    *job = std::move(queue.front());
    queue.pop_front();
    single_turn = false;
    return true;
  }
  if (turns.empty()) return false;
  const std::string key = std::move(turns.front());
  turns.pop_front();
  auto it = bulk.find(key);
  *job = std::move(it->second.front());
  it->second.pop_front();
  --bulk_waiting;
  if (it->second.empty()) {
    bulk.erase(it);
  } else {
    turns.push_back(key);
  }
  single_turn = true;
  return true;
}

// Ends an idle worker (it waits for a letter, so nothing is lost).
void SandboxedInspector::Impl::Retire(Worker& worker) {
  if (!worker.alive()) return;
  kill(worker.pid, SIGKILL);
  Ending ending;
  End(worker, &ending, Clock::now());
}

void SandboxedInspector::Impl::SlotLoop(Worker worker) {
  while (true) {
    Job job;
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(
          +[](Impl* impl) ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl->mu) {
            return impl->stopping || impl->Waiting();
          },
          this));
      if (!Next(&job)) break;  // Stopping, nothing left.
    }
    // The key is copied: the request's views end with `done`.
    const std::string key(job.request.reuse_key);
    if (worker.alive() && worker.served > 0 &&
        (key.empty() || key != worker.key)) {
      Retire(worker);  // Another tenant's letter: a fresh worker.
    }
    absl::Status result;
    Ending ending;
    if (!worker.alive()) {
      absl::StatusOr<Worker> started = Spawn();
      if (started.ok()) worker = *started;
    }
    const bool reused = worker.alive() && worker.served > 0;
    if (!worker.alive()) {
      result = absl::UnavailableError(
          "document inspection is unavailable: cannot start a worker");
    } else {
      result = Run(worker, job, &ending);
    }
    {
      absl::MutexLock lock(&mu);
      ++stats.letters_inspected;
      if (reused) ++stats.letters_on_reused_workers;
      if (absl::StartsWith(result.message(), "documents: inspection stopped")) {
        ++stats.inspections_stopped;
      }
      if (ending.reaped || ending.peak_rss_kib >= 0) {
        // A worker that died: ru_maxrss, an upper bound (see PeakRssKib).
        const int64_t peak = ending.peak_rss_kib >= 0
                                 ? ending.peak_rss_kib
                                 : int64_t{ending.usage.ru_maxrss};
        stats.last_worker_peak_rss_kib = peak;
        stats.max_worker_peak_rss_kib =
            std::max(stats.max_worker_peak_rss_kib, peak);
      }
    }
    const bool clean = result.ok();
    job.done(std::move(result));
    bool keep = false;
    if (worker.alive()) {
      ++worker.served;
      worker.key = key;
      // Kept for the next letter of its tenant only after a clean answer,
      // below its letter count and with a full letter's CPU budget left.
      keep = clean && !key.empty() &&
             worker.served < options.letters_per_worker &&
             CpuSeconds(worker.pid) < options.cpu_seconds;
    }
    bool stop;
    {
      absl::MutexLock lock(&mu);
      stop = stopping && !Waiting();
    }
    if (stop) break;
    if (keep) continue;
    Retire(worker);
    absl::StatusOr<Worker> next = Spawn();
    worker = next.ok() ? *next : Worker{};
  }
  Retire(worker);
}

SandboxedInspector::SandboxedInspector(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

SandboxedInspector::~SandboxedInspector() { Stop(); }

void SandboxedInspector::Inspect(const InspectionRequest& request,
                                 std::function<void(absl::Status)> done) {
  absl::Status refused;
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->stopping) {
      refused = absl::UnavailableError("document inspection is shutting down");
    } else if (request.wait_when_busy) {
      const std::string key(request.reuse_key);
      auto it = impl_->bulk.find(key);
      if (it != impl_->bulk.end() && static_cast<int>(it->second.size()) >=
                                         impl_->options.max_bulk_queued) {
        ++impl_->stats.refused_busy;
        refused = absl::ResourceExhaustedError("document inspection is busy");
      } else {
        if (it == impl_->bulk.end()) {
          it = impl_->bulk.emplace(key, std::deque<Job>()).first;
          impl_->turns.push_back(key);
        }
        it->second.push_back(Job{request, std::move(done)});
        ++impl_->bulk_waiting;
        return;
      }
    } else if (static_cast<int>(impl_->queue.size()) >=
               impl_->options.max_queued) {
      ++impl_->stats.refused_busy;
      refused = absl::ResourceExhaustedError("document inspection is busy");
    } else {
      impl_->queue.push_back(Job{request, std::move(done)});
      return;
    }
  }
  done(std::move(refused));
}

void SandboxedInspector::Stop() {
  absl::MutexLock stop_lock(&impl_->stop_mu);
  std::deque<Job> waiting;
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopping = true;
    waiting.swap(impl_->queue);
    for (auto& [key, jobs] : impl_->bulk) {
      for (Job& job : jobs) waiting.push_back(std::move(job));
    }
    impl_->bulk.clear();
    impl_->turns.clear();
    impl_->bulk_waiting = 0;
  }
  for (Job& job : waiting) {
    job.done(absl::UnavailableError("document inspection is shutting down"));
  }
  for (std::thread& t : impl_->slots) {
    if (t.joinable()) t.join();
  }
  impl_->slots.clear();
}

SandboxStats SandboxedInspector::Stats() const {
  absl::MutexLock lock(&impl_->mu);
  SandboxStats stats = impl_->stats;
  stats.queued =
      static_cast<int64_t>(impl_->queue.size()) + impl_->bulk_waiting;
  return stats;
}

absl::StatusOr<std::unique_ptr<SandboxedInspector>> NewSandboxedInspector(
    SandboxOptions options) {
  if (options.workers < 1) {
    return absl::InvalidArgumentError("workers: must be at least 1");
  }
  if (options.max_queued < 0) {
    return absl::InvalidArgumentError("max_queued: must be >= 0");
  }
  if (options.max_bulk_queued < 1) {
    return absl::InvalidArgumentError("max_bulk_queued: must be at least 1");
  }
  if (options.deadline.count() < 1) {
    return absl::InvalidArgumentError("deadline: must be positive");
  }
  if (options.cpu_seconds < 1) {
    return absl::InvalidArgumentError("cpu_seconds: must be at least 1");
  }
  if (options.letters_per_worker < 1) {
    return absl::InvalidArgumentError("letters_per_worker: must be at least 1");
  }
  if (options.memory_bytes < (int64_t{64} << 20)) {
    return absl::InvalidArgumentError("memory_bytes: must be at least 64 MiB");
  }
  if (options.max_request_bytes < 1024 ||
      options.max_request_bytes >= options.memory_bytes ||
      options.max_request_bytes > 0xffffffffLL) {
    return absl::InvalidArgumentError(
        "max_request_bytes: must be from 1 KiB to below memory_bytes and 4 "
        "GiB");
  }
  if (options.worker_path.empty()) {
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
      return absl::FailedPreconditionError(
          "document inspection: cannot read /proc/self/exe");
    }
    std::string dir(self, n);
    dir = dir.substr(0, dir.rfind('/'));
    options.worker_path = absl::StrCat(dir, "/utpost-inspect");
  }
  if (access(options.worker_path.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("document inspection: ", options.worker_path,
                     " is not an executable file"));
  }
  auto impl = std::make_unique<SandboxedInspector::Impl>(std::move(options));
  if (absl::Status s = impl->CheckSandbox(); !s.ok()) return s;
  std::vector<Worker> workers;
  for (int i = 0; i < impl->options.workers; ++i) {
    absl::StatusOr<Worker> w = impl->Spawn();
    if (!w.ok()) {
      for (Worker& started : workers) {
        Ending ending;
        kill(started.pid, SIGKILL);
        SandboxedInspector::Impl::End(started, &ending, Clock::now());
      }
      return w.status();
    }
    workers.push_back(*w);
  }
  SandboxedInspector::Impl* raw = impl.get();
  for (Worker& w : workers) {
    raw->slots.emplace_back([raw, w] { raw->SlotLoop(w); });
  }
  return std::unique_ptr<SandboxedInspector>(
      new SandboxedInspector(std::move(impl)));
}

}  // namespace utpost::inspect
