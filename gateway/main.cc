// utpostd: the Utpost gateway daemon.
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "common/logging/logging.h"
#include "common/version.h"
#include "gateway/config/config_loader.h"
#include "gateway/gateway.h"
#include "spdlog/spdlog.h"

namespace {

// Blocks until SIGINT or SIGTERM (which `signals` holds blocked). SIGHUP
// takes log_level from the file again; nothing else changes.
void WaitForStopSignal(const sigset_t* signals, const std::string& path) {
  while (true) {
    int sig = 0;
    sigwait(signals, &sig);
    if (sig != SIGHUP) return;
    auto reread = utpost::config::LoadConfigFile(path);
    if (!reread.ok()) {
      spdlog::warn("SIGHUP: configuration not re-read: {}",
                   std::string(reread.status().message()));
      continue;
    }
    if (auto s = utpost::logging::SetLevel(reread->log_level()); !s.ok()) {
      spdlog::warn("SIGHUP: {}", std::string(s.message()));
      continue;
    }
    spdlog::warn("SIGHUP: log level now {}", reread->log_level());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"utpostd: Utpost outbound digital post gateway"};
  std::string config_path;
  std::string role;
  bool check_config = false;
  app.set_version_flag("--version", utpost::VersionLine("utpostd"));
  app.add_option("-c,--config", config_path, "configuration file (YAML)")
      ->required();
  app.add_option("--role", role, "api, worker or all (overrides the config)")
      ->check(CLI::IsMember({"api", "worker", "all"}));
  app.add_flag("--check-config", check_config,
               "load and validate the configuration, then exit (0: valid, "
               "2: not, with the setting named)");
  CLI11_PARSE(app, argc, argv);

  auto config = utpost::config::LoadConfigFile(config_path);
  if (!config.ok()) {
    std::cerr << "utpostd: " << config.status().message() << "\n";
    return 2;
  }
  if (!role.empty()) config->set_role(role);
  if (check_config) {
    std::cout << "utpostd: " << config_path << ": configuration valid (role "
              << (config->role().empty() ? "all" : config->role()) << ")\n";
    return 0;
  }
  auto format =
      utpost::logging::ParseFormat(config->observability().log_format());
  if (!format.ok()) {
    std::cerr << "utpostd: " << format.status().message() << "\n";
    return 2;
  }
  if (auto s = utpost::logging::Install(*format, config->log_level());
      !s.ok()) {
    std::cerr << "utpostd: " << s.message() << "\n";
    return 2;
  }

  // Signals are taken by sigwait below, not by whichever thread they hit.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto gateway = utpost::gateway::Gateway::Start(*config);
  if (!gateway.ok()) {
    std::cerr << "utpostd: " << gateway.status().message() << "\n";
    return 2;
  }
  // Every role, the metrics and the health probe are serving: scripts and
  // tests wait for this line, not for the api's "listening on".
  std::cout << "utpostd ready (role "
            << (config->role().empty() ? "all" : config->role()) << ")"
            << std::endl;
  std::thread signal_thread([&signals, &config_path, g = gateway->get()] {
    WaitForStopSignal(&signals, config_path);
    g->Shutdown();
  });
  (*gateway)->Wait();
  signal_thread.join();
  gateway->reset();  // The graceful shutdown.
  spdlog::info("shut down");
  return 0;
}
