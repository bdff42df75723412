// utpost-sim: HTTPS simulators of the contact registry, a Digipost-style
// mailbox, a DPI provider (e-Boks) and a print provider, for the demo and the
// tests. DEVELOPMENT ONLY.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "sim/organisations.h"
#include "sim/persons.h"
#include "sim/simulator.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"utpost-sim: simulated registry, Digipost and print provider"};
  std::string listen = "127.0.0.1:8443";
  std::string cert = "certs-dev/server.pem";
  std::string key = "certs-dev/server.key";
  std::string persons_file = "sim/data/persons.yaml";
  std::string sender_cert = "certs-dev/sender.pem";
  std::string sender_id;
  utpost::sim::SimulatorOptions defaults;
  std::string dpi_ca = defaults.dpi_ca_file;
  std::string dpi_mailbox_cert = defaults.dpi_mailbox_cert_file;
  std::string dpi_mailbox_key = defaults.dpi_mailbox_key_file;
  std::string dpi_receipt_cert = defaults.dpi_receipt_cert_file;
  std::string dpi_receipt_key = defaults.dpi_receipt_key_file;
  std::string digipost_cert = defaults.digipost_cert_file;
  std::string digipost_key = defaults.digipost_key_file;
  std::string log_level = "info";
  int threads = utpost::sim::SimulatorOptions().threads;
  int64_t print_posted_after_ms =
      utpost::sim::SimulatorOptions().print_posted_after_ms;
  std::string organisations_file = "sim/data/organisations.yaml";
  std::string token_ca = "certs-dev/ca.pem";
  std::string token_issuer = utpost::sim::SimulatorOptions().token_issuer;
  int token_lifetime_seconds = 120;
  bool require_tokens = false;
  app.add_option("--listen", listen, "host:port to listen on (port 0: any)")
      ->capture_default_str();
  app.add_option("--cert", cert, "server certificate chain (PEM)")
      ->capture_default_str();
  app.add_option("--key", key, "server private key (PEM)")
      ->capture_default_str();
  app.add_option("--persons", persons_file, "persons of the registry (YAML)")
      ->capture_default_str();
  app.add_option("--sender-cert", sender_cert,
                 "certificate that verifies Digipost request signatures")
      ->capture_default_str();
  app.add_option("--digipost-sender-id", sender_id,
                 "required X-Digipost-UserId (empty: any)");
  app.add_option("--digipost-cert", digipost_cert,
                 "certificate Digipost's entry point publishes and signs its "
                 "responses with")
      ->check(CLI::ExistingFile);
  app.add_option("--digipost-key", digipost_key, "its private key (RSA)")
      ->check(CLI::ExistingFile);
  app.add_option("--dpi-ca", dpi_ca,
                 "CA of the business certificates DPI senders sign with")
      ->capture_default_str();
  app.add_option("--dpi-mailbox-cert", dpi_mailbox_cert,
                 "e-Boks mailbox encryption certificate (the registry's "
                 "\"sertifikat\")")
      ->capture_default_str();
  app.add_option("--dpi-mailbox-key", dpi_mailbox_key,
                 "its private key, which opens DPI document packages")
      ->capture_default_str();
  app.add_option("--dpi-receipt-cert", dpi_receipt_cert,
                 "certificate of the DPI provider's receipt signatures")
      ->capture_default_str();
  app.add_option("--dpi-receipt-key", dpi_receipt_key, "its private key (RSA)")
      ->capture_default_str();
  app.add_option("--organisations", organisations_file,
                 "organisations of the business registry and Altinn (YAML)")
      ->capture_default_str();
  app.add_option("--token-ca", token_ca,
                 "CA that token grants' x5c must chain to (empty: no token "
                 "endpoint)")
      ->capture_default_str();
  app.add_option("--token-issuer", token_issuer,
                 "issuer identifier that token grants' aud must equal")
      ->capture_default_str();
  app.add_option("--token-lifetime-seconds", token_lifetime_seconds,
                 "lifetime of issued access tokens")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_flag("--require-tokens", require_tokens,
               "the contact registry answers only requests with a token");
  app.add_option("--threads", threads,
                 "requests (and keep-alive connections) served at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--print-posted-after-ms", print_posted_after_ms,
                 "delay from a print letter's acceptance to its POSTED event")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Logs go to stderr: stdout carries only the "listening on" line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("utpost-sim"));
  spdlog::set_level(spdlog::level::from_str(log_level));

  utpost::sim::SimulatorOptions options;
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &options.port) ||
      options.port < 0 || options.port > 65535) {
    std::cerr << "--listen: expected host:port, got \"" << listen << "\"\n";
    return 2;
  }
  options.host = listen.substr(0, colon);
  options.cert_file = cert;
  options.key_file = key;
  options.sender_cert_file = sender_cert;
  options.digipost_sender_id = sender_id;
  options.digipost_cert_file = digipost_cert;
  options.digipost_key_file = digipost_key;
  options.threads = threads;
  options.print_posted_after_ms = print_posted_after_ms;
  options.dpi_ca_file = dpi_ca;
  options.dpi_mailbox_cert_file = dpi_mailbox_cert;
  options.dpi_mailbox_key_file = dpi_mailbox_key;
  options.dpi_receipt_cert_file = dpi_receipt_cert;
  options.dpi_receipt_key_file = dpi_receipt_key;
  options.token_ca_file = token_ca;
  options.token_issuer = token_issuer;
  options.token_lifetime_ms = int64_t{token_lifetime_seconds} * 1000;
  options.require_tokens = require_tokens;
  absl::StatusOr<std::vector<utpost::sim::SimOrganisation>> organisations =
      utpost::sim::LoadOrganisations(organisations_file);
  if (!organisations.ok()) {
    std::cerr << "--organisations: " << organisations.status().message()
              << "\n";
    return 2;
  }
  options.organisations = *std::move(organisations);
  absl::StatusOr<std::vector<utpost::sim::SimPerson>> persons =
      utpost::sim::LoadPersons(persons_file);
  if (!persons.ok()) {
    std::cerr << "--persons: " << persons.status().message() << "\n";
    return 2;
  }
  options.persons = *std::move(persons);

  // Blocked before any thread starts, so every thread inherits the mask and
  // the signals wait for sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<utpost::sim::Simulator>> simulator =
      utpost::sim::StartSimulator(std::move(options));
  if (!simulator.ok()) {
    std::cerr << simulator.status().message() << "\n";
    return 1;
  }
  // Scripts read this line to learn the port when it was 0.
  std::cout << "listening on " << listen.substr(0, colon) << ":"
            << (*simulator)->port() << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("signal {}: stopping", signal_number);
  (*simulator)->Stop();
  return 0;
}
