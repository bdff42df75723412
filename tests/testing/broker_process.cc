#include "tests/testing/broker_process.h"

#include <netinet/in.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace utpost::testing {
namespace {

constexpr char kScript[] = "scripts/rabbitmq.sh";
// rabbitmq.sh puts epmd on port + 10000 and distribution on port + 20000.
constexpr int kHighestUsablePort = 65535 - 20000;

// Binds 127.0.0.1:`port` (0: any) and returns the port bound, or -1.
int BindLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int bound = -1;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  close(fd);
  return bound;
}

bool Usable(int port) {
  return port > 0 && port <= kHighestUsablePort &&
         BindLoopback(port + 10000) > 0 && BindLoopback(port + 20000) > 0;
}

absl::StatusOr<int> PickPort() {
  // The kernel's choice first; its ephemeral range may lie partly above
  // what the script can use, so fall back to random picks below it.
  for (int attempt = 0; attempt < 20; ++attempt) {
    int port = BindLoopback(0);
    if (Usable(port)) return port;
  }
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(20000, kHighestUsablePort);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = pick(rng);
    if (BindLoopback(port) == port && Usable(port)) return port;
  }
  return absl::UnavailableError("broker: no free port");
}

std::string FindScript() {
  if (access(kScript, X_OK) == 0) return kScript;
#ifdef UTPOST_SOURCE_DIR
  return absl::StrCat(UTPOST_SOURCE_DIR, "/", kScript);
#else
  return kScript;
#endif
}

}  // namespace

absl::StatusOr<std::unique_ptr<BrokerProcess>> BrokerProcess::Start() {
  absl::StatusOr<int> port = PickPort();
  if (!port.ok()) return port.status();
  const char* tmp = getenv("TMPDIR");
  std::string pattern = absl::StrCat(
      tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/utpost-broker-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("broker: mkdtemp: ", std::strerror(errno)));
  }
  std::unique_ptr<BrokerProcess> broker(
      new BrokerProcess(FindScript(), pattern, *port));
  absl::Status status = broker->StartNode();
  if (!status.ok()) return status;
  return broker;
}

BrokerProcess::~BrokerProcess() {
  // A node that failed to start may still have an epmd or half a node.
  running_ = true;
  Stop().IgnoreError();
  if (getenv("UTPOST_KEEP_BROKER_DIR") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

absl::Status BrokerProcess::Stop() {
  if (!running_) return absl::OkStatus();
  absl::Status status = RunScript({"stop", dir_});
  if (status.ok()) running_ = false;
  return status;
}

absl::Status BrokerProcess::Restart() {
  absl::Status status = Stop();
  if (!status.ok()) return status;
  return StartNode();
}

absl::Status BrokerProcess::StartNode() {
  // Marked first so that a half-started node is still stopped.
  running_ = true;
  return RunScript({"start", dir_, std::to_string(port_)});
}

absl::Status BrokerProcess::RunScript(const std::vector<std::string>& args) {
  std::vector<std::string> argv_storage = {"/bin/bash", script_};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // posix_spawn, not fork: the test may have client threads running.
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("broker: cannot run ", script_, ": ", std::strerror(rc)));
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("broker: waitpid: ", std::strerror(errno)));
    }
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "broker: ", script_, " ", args.empty() ? "" : args[0], " failed (",
        WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1, "); see ", dir_));
  }
  return absl::OkStatus();
}

}  // namespace utpost::testing
