// utpostd: the Utpost gateway daemon.
#include <csignal>
#include <iostream>

#include "CLI/CLI.hpp"
#include "gateway/config/config_loader.h"
#include "gateway/daemon.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"utpostd: Utpost outbound digital post gateway"};
  std::string config_path;
  std::string role;
  app.add_option("-c,--config", config_path, "configuration file (YAML)")
      ->required();
  app.add_option("--role", role, "api, worker or all (overrides the config)")
      ->check(CLI::IsMember({"api", "worker", "all"}));
  CLI11_PARSE(app, argc, argv);

  auto config = utpost::config::LoadConfigFile(config_path);
  if (!config.ok()) {
    std::cerr << "utpostd: " << config.status().message() << "\n";
    return 2;
  }
  if (!role.empty()) config->set_role(role);
  spdlog::set_level(spdlog::level::from_str(config->log_level()));

  // Signals are taken by sigwait below, not by whichever thread they hit.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto status = utpost::RunDaemon(*config, [&signals] {
    int sig = 0;
    sigwait(&signals, &sig);
  });
  if (!status.ok()) {
    std::cerr << "utpostd: " << status.message() << "\n";
    return 2;
  }
  return 0;
}
