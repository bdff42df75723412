#include "tests/testing/postgres_server.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace utpost::testing {
namespace {

namespace fs = std::filesystem;

// Ports are picked below Linux's ephemeral range (32768 up), whose ports
// client sockets may take at any moment.
constexpr int kLowestPort = 20000;
constexpr int kHighestPort = 32000;
constexpr int kStartAttempts = 3;
constexpr auto kReadyTimeout = std::chrono::seconds(60);
constexpr auto kFastStopTimeout = std::chrono::seconds(30);
constexpr auto kImmediateStopTimeout = std::chrono::seconds(10);

bool Free(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

absl::StatusOr<int> PickPort(std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(kLowestPort, kHighestPort);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = pick(rng);
    if (Free(port)) return port;
  }
  return absl::UnavailableError("postgres: no free port");
}

std::string Env(const char* name) {
  const char* v = getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

bool Executable(const std::string& path) {
  return access(path.c_str(), X_OK) == 0;
}

absl::StatusOr<std::string> FindBindir() {
  std::string env = Env("UTPOST_PG_BINDIR");
  if (!env.empty()) {
    if (Executable(env + "/initdb")) return env;
    return absl::FailedPreconditionError(
        absl::StrCat("postgres: UTPOST_PG_BINDIR=", env, " has no initdb"));
  }
  // Debian keeps the server binaries per major version, off PATH.
  int best = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || !absl::ascii_isdigit(name[0])) continue;
    int major = std::atoi(name.c_str());
    if (major > best && Executable(entry.path().string() + "/bin/initdb")) {
      best = major;
    }
  }
  if (best >= 0) return absl::StrCat("/usr/lib/postgresql/", best, "/bin");
  for (const char* dir : {"/usr/bin", "/usr/local/bin"}) {
    if (Executable(std::string(dir) + "/initdb")) return std::string(dir);
  }
  return absl::FailedPreconditionError(
      "postgres: no initdb found (install Debian's postgresql package with "
      "scripts/install-deps.sh, or set UTPOST_PG_BINDIR)");
}

struct RunAs {
  bool needed = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

absl::StatusOr<RunAs> FindRunAs() {
  RunAs r;
  if (geteuid() != 0) return r;
  r.needed = true;
  r.name = Env("UTPOST_PG_USER");
  if (r.name.empty()) r.name = "postgres";
  passwd* pw = getpwnam(r.name.c_str());
  if (pw == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "postgres: running as root, and there is no user \"", r.name,
        "\" to run the server as (initdb refuses root): install Debian's "
        "postgresql package, or set UTPOST_PG_USER to an unprivileged user"));
  }
  if (pw->pw_uid == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("postgres: UTPOST_PG_USER \"", r.name, "\" is root"));
  }
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  return r;
}

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out.push_back(kHex[v >> 4]);
    out.push_back(kHex[v & 0xf]);
  }
  return out;
}

// Starts `argv` (as `run_as` when needed) with stdout and stderr appended to
// `log`, stdin from /dev/null and a small fixed environment.
absl::StatusOr<pid_t> Spawn(const RunAs& run_as, std::vector<std::string> args,
                            const std::string& log) {
  if (run_as.needed) {
    // setpriv execs the program: the pid returned is the server's own.
    args.insert(args.begin(),
                {"/usr/bin/setpriv", absl::StrCat("--reuid=", run_as.uid),
                 absl::StrCat("--regid=", run_as.gid), "--clear-groups", "--"});
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = {"PATH=/usr/bin:/bin", "LC_ALL=C",
                                          "TZ=UTC"};
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // posix_spawn, not fork: the test may have client threads running.
  pid_t pid = 0;
  int rc =
      posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("postgres: cannot run ", args[0],
                                            ": ", std::strerror(rc)));
  }
  return pid;
}

// Waits for `pid`; returns its wait status, or -1 when `timeout` passed.
int WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int wstatus = 0;
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) return wstatus;
    if (r < 0 && errno != EINTR) return 0;  // Not our child any more.
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

absl::Status RunToEnd(const RunAs& run_as, std::vector<std::string> args,
                      const std::string& log) {
  std::string what = args[0];
  absl::StatusOr<pid_t> pid = Spawn(run_as, std::move(args), log);
  if (!pid.ok()) return pid.status();
  int wstatus = WaitFor(*pid, std::chrono::minutes(5));
  if (wstatus == -1) {
    kill(*pid, SIGKILL);
    WaitFor(*pid, std::chrono::seconds(5));
    return absl::DeadlineExceededError(
        absl::StrCat("postgres: ", what, " did not finish"));
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::UnavailableError(
        absl::StrCat("postgres: ", what, " failed (status ", wstatus, ")"));
  }
  return absl::OkStatus();
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  absl::StatusOr<std::string> bindir = FindBindir();
  if (!bindir.ok()) return bindir.status();
  absl::StatusOr<RunAs> run_as = FindRunAs();
  if (!run_as.ok()) return run_as.status();
  std::mt19937 rng(std::random_device{}());
  std::string tmp = Env("TMPDIR");
  if (tmp.empty()) tmp = "/tmp";
  absl::Status status;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    absl::StatusOr<int> port = PickPort(rng);
    if (!port.ok()) return port.status();
    std::string pattern = absl::StrCat(tmp, "/utpost-pg-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("postgres: mkdtemp: ", std::strerror(errno)));
    }
    if (run_as->needed &&
        chown(pattern.c_str(), run_as->uid, run_as->gid) != 0) {
      std::string err = std::strerror(errno);
      rmdir(pattern.c_str());
      return absl::InternalError(
          absl::StrCat("postgres: chown ", pattern, ": ", err));
    }
    std::unique_ptr<PostgresServer> server(
        new PostgresServer(*bindir, pattern, "utpost", RandomHex(16), *port));
    status = server->InitCluster();
    if (status.ok()) status = server->StartServer();
    if (status.ok()) status = server->CreateDatabase("utpost");
    if (status.ok()) return server;
    status = absl::Status(
        status.code(),
        absl::StrCat(status.message(), "; server log:\n", server->LogTail()));
    // Destroying it stops what started and removes its folder.
  }
  return status;
}

PostgresServer::~PostgresServer() {
  Stop().IgnoreError();
  if (getenv("UTPOST_KEEP_PG_DIR") == nullptr) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

std::string PostgresServer::ConnInfoWithoutPassword(
    std::string_view dbname) const {
  return absl::StrCat("host=127.0.0.1 port=", port_, " dbname=",
                      absl::string_view(dbname.data(), dbname.size()),
                      " user=", user_, " connect_timeout=10");
}

std::string PostgresServer::ConnInfo(std::string_view dbname) const {
  return absl::StrCat(ConnInfoWithoutPassword(dbname), " password=", password_);
}

absl::Status PostgresServer::InitCluster() {
  absl::StatusOr<RunAs> run_as = FindRunAs();
  if (!run_as.ok()) return run_as.status();
  std::string pwfile = dir_ + "/initdb.pw";
  {
    std::ofstream out(pwfile);
    out << password_ << "\n";
    if (!out) return absl::InternalError("postgres: cannot write " + pwfile);
  }
  chmod(pwfile.c_str(), 0600);
  if (run_as->needed) chown(pwfile.c_str(), run_as->uid, run_as->gid);
  absl::Status status =
      RunToEnd(*run_as,
               {bindir_ + "/initdb", "-D", dir_ + "/data", "-U", user_,
                "--pwfile=" + pwfile, "--auth=scram-sha-256", "--encoding=UTF8",
                "--locale=C", "--no-sync", "--no-instructions"},
               dir_ + "/initdb.log");
  unlink(pwfile.c_str());
  return status;
}

absl::Status PostgresServer::StartServer() {
  absl::StatusOr<RunAs> run_as = FindRunAs();
  if (!run_as.ok()) return run_as.status();
  absl::StatusOr<pid_t> pid = Spawn(*run_as,
                                    {bindir_ + "/postgres",
                                     "-D",
                                     dir_ + "/data",
                                     "-c",
                                     "listen_addresses=127.0.0.1",
                                     "-c",
                                     absl::StrCat("port=", port_),
                                     "-c",
                                     "unix_socket_directories=" + dir_,
                                     "-c",
                                     "fsync=on",
                                     "-c",
                                     "synchronous_commit=on",
                                     "-c",
                                     "max_connections=100",
                                     "-c",
                                     "shared_buffers=32MB",
                                     "-c",
                                     "logging_collector=off",
                                     "-c",
                                     "log_min_messages=warning"},
                                    dir_ + "/server.log");
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  std::string probe = ConnInfo("postgres");
  auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  while (true) {
    if (PQping(probe.c_str()) == PQPING_OK) return absl::OkStatus();
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = 0;
      return absl::UnavailableError(absl::StrCat(
          "postgres: the server exited while starting (status ", wstatus, ")"));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          "postgres: the server did not accept connections within 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

absl::Status PostgresServer::Stop(bool immediate) {
  if (pid_ <= 0) return absl::OkStatus();
  // SIGINT: fast shutdown (sessions ended, a checkpoint); SIGQUIT:
  // immediate (as a crash, recovery at the next start); SIGKILL last.
  kill(pid_, immediate ? SIGQUIT : SIGINT);
  int wstatus =
      WaitFor(pid_, immediate ? kImmediateStopTimeout : kFastStopTimeout);
  if (wstatus == -1 && !immediate) {
    kill(pid_, SIGQUIT);
    wstatus = WaitFor(pid_, kImmediateStopTimeout);
  }
  if (wstatus == -1) {
    kill(pid_, SIGKILL);
    WaitFor(pid_, kImmediateStopTimeout);
  }
  pid_ = 0;
  if (immediate) {
    // The postmaster's children go with it, but a SIGKILLed postmaster may
    // leave them briefly; the lock file's pid is gone either way.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::OkStatus();
}

absl::Status PostgresServer::Restart() {
  absl::Status status = Stop();
  if (!status.ok()) return status;
  return StartServer();
}

absl::Status PostgresServer::CreateDatabase(std::string_view name) {
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("postgres: bad database name \"",
                     absl::string_view(name.data(), name.size()), "\""));
  }
  PGconn* conn = PQconnectdb(ConnInfo("postgres").c_str());
  absl::Status status;
  if (PQstatus(conn) != CONNECTION_OK) {
    status = absl::UnavailableError(
        absl::StrCat("postgres: connect: ", PQerrorMessage(conn)));
  } else {
    std::string sql = absl::StrCat("CREATE DATABASE ",
                                   absl::string_view(name.data(), name.size()));
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      status = absl::InternalError(
          absl::StrCat("postgres: ", sql, ": ", PQresultErrorMessage(res)));
    }
    PQclear(res);
  }
  PQfinish(conn);
  return status;
}

std::string PostgresServer::LogTail() const {
  std::string out;
  for (const char* name : {"/initdb.log", "/server.log"}) {
    std::ifstream in(dir_ + name);
    if (!in) continue;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.size() > 2000) text = text.substr(text.size() - 2000);
    absl::StrAppend(&out, name + 1, ":\n", text);
  }
  return out;
}

}  // namespace utpost::testing
