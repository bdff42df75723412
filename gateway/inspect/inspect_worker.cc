#include "gateway/inspect/inspect_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "gateway/inspect/document_inspector.h"
#include "gateway/inspect/inspect_exit.h"
#include "gateway/inspect/inspect_protocol.h"

namespace utpost::inspect {
namespace {

struct Flags {
  int64_t memory_bytes = int64_t{512} << 20;
  int64_t cpu_seconds = 5;
  int64_t max_request_bytes = int64_t{96} << 20;
  bool check_sandbox = false;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--check-sandbox") {
      flags->check_sandbox = true;
      continue;
    }
    auto value = [&](absl::string_view name, int64_t* out) {
      if (!absl::ConsumePrefix(&arg, name)) return false;
      return absl::SimpleAtoi(arg, out) && *out > 0;
    };
    if (!value("--memory-bytes=", &flags->memory_bytes) &&
        !value("--cpu-seconds=", &flags->cpu_seconds) &&
        !value("--max-request-bytes=", &flags->max_request_bytes)) {
      return false;
    }
  }
  return true;
}

void OutOfMemory() { _exit(kExitOutOfMemory); }

bool Limit(int resource, rlim_t soft, rlim_t hard) {
  struct rlimit r = {soft, hard};
  return setrlimit(resource, &r) == 0;
}

bool ApplyLimits(const Flags& flags) {
  const rlim_t cpu = static_cast<rlim_t>(flags.cpu_seconds);
  return Limit(RLIMIT_AS, flags.memory_bytes, flags.memory_bytes) &&
         Limit(RLIMIT_CPU, cpu, cpu + 1) && Limit(RLIMIT_FSIZE, 0, 0) &&
         Limit(RLIMIT_NOFILE, 4, 4) && Limit(RLIMIT_CORE, 0, 0) &&
         prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 &&
         prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
}

bool InstallSeccomp() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (ctx == nullptr) return false;
  bool ok = true;
  auto allow = [&](int syscall) {
    ok = ok && seccomp_rule_add(ctx, SCMP_ACT_ALLOW, syscall, 0) == 0;
  };
  // Memory: no executable mappings.
  ok = ok &&
       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                        SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) == 0 &&
       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                        SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) == 0;
  allow(SCMP_SYS(munmap));
  allow(SCMP_SYS(mremap));
  allow(SCMP_SYS(brk));
  allow(SCMP_SYS(madvise));
  // The request on stdin, the answer on stdout; stderr is /dev/null.
  ok = ok &&
       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1,
                        SCMP_A0(SCMP_CMP_EQ, 0)) == 0 &&
       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
                        SCMP_A0(SCMP_CMP_EQ, 1)) == 0 &&
       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
                        SCMP_A0(SCMP_CMP_EQ, 2)) == 0;
  allow(SCMP_SYS(futex));
  allow(SCMP_SYS(clock_gettime));
  allow(SCMP_SYS(gettimeofday));
  allow(SCMP_SYS(rt_sigreturn));
  allow(SCMP_SYS(rt_sigprocmask));
  allow(SCMP_SYS(getpid));
  allow(SCMP_SYS(gettid));
  allow(SCMP_SYS(exit));
  allow(SCMP_SYS(exit_group));
  // abort() signals only this process.
  ok =
      ok && seccomp_rule_add(
                ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(getpid()))) == 0;
  ok = ok && seccomp_load(ctx) == 0;
  seccomp_release(ctx);
  return ok;
}

// A one-page A4 PDF with a little content, built with its xref table.
std::string WarmUpPdf() {
  const std::string content = "BT 72 720 Td ET 0 0 m 10 10 l S";
  const std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] "
      "/Resources << >> /Contents 4 0 R >>",
      absl::StrCat("<< /Length ", content.size(), " >>\nstream\n", content,
                   "\nendstream"),
  };
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    absl::StrAppend(&pdf, i + 1, " 0 obj\n", objects[i], "\nendobj\n");
  }
  const size_t xref = pdf.size();
  absl::StrAppend(&pdf, "xref\n0 ", objects.size() + 1,
                  "\n0000000000 65535 f \n");
  for (size_t offset : offsets) {
    char line[32];
    std::snprintf(line, sizeof(line), "%010zu 00000 n \n", offset);
    pdf += line;
  }
  absl::StrAppend(&pdf, "trailer\n<< /Size ", objects.size() + 1,
                  " /Root 1 0 R >>\nstartxref\n", xref, "\n%%EOF\n");
  return pdf;
}

bool ReadAll(char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = read(0, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteAll(const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(1, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int RunInspectWorker(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return kExitSetupFailed;
  // Nothing of the parent's but the socket (0, 1) and /dev/null (2).
  for (int fd = 3; fd < 1024; ++fd) close(fd);
  std::set_new_handler(OutOfMemory);
  if (!ApplyLimits(flags)) return kExitSetupFailed;
  {
    const std::string pdf = WarmUpPdf();
    InspectionRequest warm;
    warm.documents.push_back({"warm-up.pdf", pdf});
    warm.may_print = true;
    if (!InspectDocuments(warm).ok()) return kExitSetupFailed;
  }
  if (!InstallSeccomp()) return kExitSetupFailed;
  if (flags.check_sandbox) {
    // The filter must kill the process here (SIGSYS).
    syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY);
    return kExitSandboxIneffective;
  }

  // Letters one after another, until the parent closes the socket (or
  // kills this process): the parent sends a worker only letters of one
  // tenant, and a new letter only after the answer to the last.
  while (true) {
    unsigned char header[4];
    ssize_t first;
    do {
      first = read(0, header, 1);
    } while (first < 0 && errno == EINTR);
    if (first == 0) _exit(0);  // Closed between letters: done.
    if (first < 0 || !ReadAll(reinterpret_cast<char*>(header) + 1, 3)) {
      return kExitBadRequest;
    }
    const uint32_t size = FrameLength(header);
    if (size > flags.max_request_bytes) return kExitRequestTooLarge;
    std::string payload(size, '\0');
    if (!ReadAll(payload.data(), payload.size())) return kExitBadRequest;
    absl::StatusOr<DecodedRequest> request = DecodeRequest(payload);
    if (!request.ok()) return kExitBadRequest;
    payload.clear();
    payload.shrink_to_fit();
    std::vector<int> page_counts;
    InspectionRequest inspection = request->AsInspection();
    if (request->count_pages) inspection.page_counts = &page_counts;
    const absl::Status result = InspectDocuments(inspection, request->limits);
    const std::string reply = EncodeReply(result, page_counts);
    const std::string frame =
        FrameHeader(static_cast<uint32_t>(reply.size())) + reply;
    if (!WriteAll(frame.data(), frame.size())) return kExitBadRequest;
  }
}

}  // namespace utpost::inspect
