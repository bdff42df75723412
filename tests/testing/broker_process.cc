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
// The AMQP port is picked from this range so that all three stay below
// Linux's ephemeral range (32768 up), whose ports other sockets may take
// at any moment, between the check here and the node's start included.
constexpr int kLowestPort = 5700;
constexpr int kHighestPort = 12700;
static_assert(kHighestPort + 20000 < 32768);
// Starts tried, each on a port of its own: a port found free may still be
// taken before the node binds it.
constexpr int kStartAttempts = 2;

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

bool Free(int port) { return BindLoopback(port) == port; }

absl::StatusOr<int> PickPort(std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(kLowestPort, kHighestPort);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = pick(rng);
    if (Free(port) && Free(port + 10000) && Free(port + 20000)) return port;
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
  std::mt19937 rng(std::random_device{}());
  const char* tmp = getenv("TMPDIR");
  absl::Status status;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    absl::StatusOr<int> port = PickPort(rng);
    if (!port.ok()) return port.status();
    std::string pattern = absl::StrCat(
        tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/utpost-broker-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("broker: mkdtemp: ", std::strerror(errno)));
    }
    std::unique_ptr<BrokerProcess> broker(
        new BrokerProcess(FindScript(), pattern, *port));
    status = broker->StartNode();
    if (status.ok()) return broker;
    // Destroying it stops what started of the node and removes its
    // directory.
  }
  return status;
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
