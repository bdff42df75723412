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
constexpr char kClusterScript[] = "scripts/rabbitmq-cluster.sh";
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

std::string FindScript(const char* script = kScript) {
  if (access(script, X_OK) == 0) return script;
#ifdef UTPOST_SOURCE_DIR
  return absl::StrCat(UTPOST_SOURCE_DIR, "/", script);
#else
  return script;
#endif
}

// A cluster's ports: AMQP base .. base + count - 1, epmd base + 10000, and
// distribution each AMQP port + 20000.
absl::StatusOr<int> PickClusterPorts(std::mt19937& rng, int count) {
  std::uniform_int_distribution<int> pick(kLowestPort,
                                          kHighestPort - count + 1);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = pick(rng);
    bool free = Free(base + 10000);
    for (int i = 0; free && i < count; ++i) {
      free = Free(base + i) && Free(base + i + 20000);
    }
    if (free) return base;
  }
  return absl::UnavailableError("broker cluster: no free ports");
}

absl::StatusOr<std::string> MakeTempDir(const char* name) {
  const char* tmp = getenv("TMPDIR");
  std::string pattern = absl::StrCat(
      tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", name, "-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("broker: mkdtemp: ", std::strerror(errno)));
  }
  return pattern;
}

// Runs bash `script` `args`, waits for it, and fails unless it exits 0.
// Its standard output goes into `*output` when given.
absl::Status RunBash(const std::string& script,
                     const std::vector<std::string>& args,
                     const std::string& dir, std::string* output) {
  std::vector<std::string> argv_storage = {"/bin/bash", script};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int pipe_fds[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (output != nullptr) {
    if (pipe(pipe_fds) != 0) {
      posix_spawn_file_actions_destroy(&actions);
      return absl::InternalError(
          absl::StrCat("broker: pipe: ", std::strerror(errno)));
    }
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  }
  // posix_spawn, not fork: the test may have client threads running.
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (output != nullptr) close(pipe_fds[1]);
  if (rc != 0) {
    if (output != nullptr) close(pipe_fds[0]);
    return absl::InternalError(
        absl::StrCat("broker: cannot run ", script, ": ", std::strerror(rc)));
  }
  if (output != nullptr) {
    output->clear();
    char buffer[4096];
    for (;;) {
      const ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
      if (n > 0) {
        output->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    close(pipe_fds[0]);
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
        "broker: ", script, " ", args.empty() ? "" : args[0], " failed (",
        WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1, "); see ", dir));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BrokerProcess>> BrokerProcess::Start() {
  std::mt19937 rng(std::random_device{}());
  absl::Status status;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    absl::StatusOr<int> port = PickPort(rng);
    if (!port.ok()) return port.status();
    absl::StatusOr<std::string> dir = MakeTempDir("utpost-broker");
    if (!dir.ok()) return dir.status();
    std::unique_ptr<BrokerProcess> broker(
        new BrokerProcess(FindScript(), *dir, *port));
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
  return RunBash(script_, args, dir_, nullptr);
}

absl::StatusOr<std::unique_ptr<BrokerCluster>> BrokerCluster::Start(int nodes) {
  if (nodes < 1 || nodes > 9) {
    return absl::InvalidArgumentError("broker cluster: 1..9 nodes");
  }
  std::mt19937 rng(std::random_device{}());
  absl::Status status;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    absl::StatusOr<int> base = PickClusterPorts(rng, nodes);
    if (!base.ok()) return base.status();
    absl::StatusOr<std::string> dir = MakeTempDir("utpost-cluster");
    if (!dir.ok()) return dir.status();
    std::unique_ptr<BrokerCluster> cluster(
        new BrokerCluster(FindScript(kClusterScript), *dir, *base, nodes));
    cluster->started_ = true;  // So that a half-started cluster is stopped.
    status = cluster->RunScript(
        {"start", cluster->dir_, std::to_string(*base), std::to_string(nodes)});
    if (status.ok()) {
      cluster->running_.assign(nodes, true);
      return cluster;
    }
  }
  return status;
}

BrokerCluster::~BrokerCluster() {
  if (started_) RunScript({"stop", dir_}).IgnoreError();
  if (getenv("UTPOST_KEEP_BROKER_DIR") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string BrokerCluster::Node(int i) const {
  return absl::StrCat("127.0.0.1:", port(i));
}

std::vector<std::string> BrokerCluster::Nodes() const {
  std::vector<std::string> nodes;
  for (int i = 0; i < count_; ++i) nodes.push_back(Node(i));
  return nodes;
}

std::string BrokerCluster::NodeName(int i) const {
  return absl::StrCat("utpost-", port(i), "@localhost");
}

absl::Status BrokerCluster::StopNode(int i) {
  if (i < 0 || i >= count_) {
    return absl::InvalidArgumentError(absl::StrCat("broker cluster: node ", i));
  }
  if (!running_[i]) return absl::OkStatus();
  absl::Status status = RunScript({"stop-node", dir_, std::to_string(i + 1)});
  if (status.ok()) running_[i] = false;
  return status;
}

absl::Status BrokerCluster::KillNode(int i) {
  if (i < 0 || i >= count_) {
    return absl::InvalidArgumentError(absl::StrCat("broker cluster: node ", i));
  }
  if (!running_[i]) return absl::OkStatus();
  absl::Status status = RunScript({"kill-node", dir_, std::to_string(i + 1)});
  if (status.ok()) running_[i] = false;
  return status;
}

absl::Status BrokerCluster::StartNode(int i) {
  if (i < 0 || i >= count_) {
    return absl::InvalidArgumentError(absl::StrCat("broker cluster: node ", i));
  }
  running_[i] = true;
  return RunScript({"start-node", dir_, std::to_string(i + 1)});
}

absl::Status BrokerCluster::Ctl(int i, const std::vector<std::string>& args,
                                std::string* output) {
  if (i < 0 || i >= count_) {
    return absl::InvalidArgumentError(absl::StrCat("broker cluster: node ", i));
  }
  std::vector<std::string> all = {"ctl", dir_, std::to_string(i + 1)};
  all.insert(all.end(), args.begin(), args.end());
  return RunScript(all, output);
}

absl::Status BrokerCluster::RunScript(const std::vector<std::string>& args,
                                      std::string* output) {
  return RunBash(script_, args, dir_, output);
}

}  // namespace utpost::testing
