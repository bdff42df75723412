#include "gateway/daemon.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/adapter_registry.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/instrumented_channel.h"
#include "common/status_macros.h"
#include "gateway/api/letter_service.h"
#include "gateway/api/ops_service.h"
#include "gateway/config/certificates.h"
#include "gateway/dispatch/dispatcher.h"
#include "gateway/dispatch/outbox_relay.h"
#include "gateway/dispatch/provider_stats.h"
#include "gateway/dispatch/worker_pool.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/sqlite_store.h"
#include "grpcpp/grpcpp.h"
#include "queue/amqp_broker.h"
#include "spdlog/spdlog.h"

namespace utpost {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     const std::string& setting) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(setting, ": cannot read ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

queue::Topology TopologyOf(const config::v1::Config& c) {
  queue::Topology t;
  t.prefix = c.broker().prefix();
  t.retry_delays_seconds.assign(c.retry().delays_seconds().begin(),
                                c.retry().delays_seconds().end());
  return t;
}

queue::BrokerOptions BrokerOptionsOf(const config::v1::Config& c,
                                     const std::string& name) {
  queue::BrokerOptions o;
  o.host = c.broker().host();
  o.port = c.broker().port();
  o.user = c.broker().user();
  o.password = c.broker().password();
  o.vhost = c.broker().vhost();
  o.prefetch = c.broker().prefetch();
  o.connection_name = name;
  return o;
}

api::AccessPolicy AccessOf(const config::v1::Config& c) {
  api::AccessPolicy p;
  for (const auto& t : c.tenants()) p.tenants.insert(t.organisation_number());
  for (const auto& o : c.operators()) p.operator_common_names.insert(o);
  return p;
}

// The worker role's outside world: registry and channels, made by name
// through the adapter registry.
struct OutsideWorld {
  std::unique_ptr<adapters::HttpClient> http;
  std::unique_ptr<adapters::Registry> registry;
  std::unique_ptr<adapters::Channel> digital;
  std::unique_ptr<adapters::Channel> print;
};

absl::StatusOr<OutsideWorld> BuildOutsideWorld(const config::v1::Providers& p) {
  adapters::AdapterRegistry known;
  adapters::RegisterBuiltinAdapters(&known);
  OutsideWorld w;
  adapters::CurlHttpClientOptions http_options;
  http_options.ca_file = p.ca_file();
  http_options.timeout_ms = int64_t{p.timeout_seconds()} * 1000;
  auto http = adapters::NewCurlHttpClient(http_options);
  if (!http.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.ca_file: ", http.status().message()));
  }
  w.http = std::move(*http);

  adapters::AdapterSettings registry;
  registry.base_url = p.registry_url();
  registry.http = w.http.get();
  auto r = known.MakeRegistry("krr", registry);
  if (!r.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.registry_url: ", r.status().message()));
  }
  w.registry = std::move(*r);

  adapters::AdapterSettings digipost;
  digipost.base_url = p.digipost().url();
  digipost.sender_id = p.digipost().sender_id();
  digipost.signing_key_file = p.digipost().signing_key_file();
  digipost.http = w.http.get();
  auto d = known.MakeChannel("digipost", digipost);
  if (!d.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.digipost: ", d.status().message()));
  }
  w.digital = std::move(*d);

  adapters::AdapterSettings print;
  print.base_url = p.print().url();
  print.http = w.http.get();
  auto pr = known.MakeChannel("print", print);
  if (!pr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.print: ", pr.status().message()));
  }
  w.print = std::move(*pr);
  return w;
}

}  // namespace

absl::Status RunDaemon(const config::v1::Config& config,
                       const std::function<void()>& wait_for_stop) {
  const bool api_role = config.role() != "worker";
  const bool worker_role = config.role() != "api";
  const queue::Topology topology = TopologyOf(config);

  receipts::JwsSignerOptions signer_options;
  signer_options.key_file = config.receipts().key_file();
  signer_options.cert_chain_file = config.receipts().cert_chain_file();
  auto signer = receipts::NewJwsReceiptSigner(signer_options);
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipts: ", signer.status().message()));
  }

  store::SqliteStoreOptions store_options;
  store_options.path = config.store().sqlite_path();
  store_options.signer = signer->get();
  auto store = store::OpenSqliteStore(store_options);
  if (!store.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("store.sqlite_path: ", store.status().message()));
  }

  // Built before the services so that a bad provider setting stops start-up.
  OutsideWorld outside;
  if (worker_role) {
    auto built = BuildOutsideWorld(config.providers());
    if (!built.ok()) return built.status();
    outside = std::move(*built);
  }

  // Threads started before the service exists (the relay) see it only once
  // it is complete, and no longer while it is being destroyed.
  std::unique_ptr<api::LetterServiceImpl> letters;
  std::atomic<api::LetterServiceImpl*> watchers{nullptr};
  std::function<void()> notify_watchers = [&watchers] {
    if (auto* l = watchers.load()) l->NotifyChange();
  };

  dispatch::OutboxRelayOptions relay_options;
  relay_options.topology = topology;
  relay_options.on_sent = notify_watchers;
  auto relay = std::make_unique<dispatch::OutboxRelay>(
      store->get(), queue::NewAmqpPublisher(BrokerOptionsOf(config, "relay")),
      queue::NewAmqpAdmin(BrokerOptionsOf(config, "relay-admin")),
      relay_options);
  dispatch::OutboxRelay* relay_ptr = relay.get();

  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<api::OpsServiceImpl> ops;
  if (api_role) {
    api::LetterServiceOptions o;
    o.access = AccessOf(config);
    o.limits.max_documents = config.limits().max_documents();
    o.limits.max_document_bytes = config.limits().max_document_bytes();
    o.limits.max_letter_bytes = config.limits().max_letter_bytes();
    o.topology = topology;
    o.on_commit = [relay_ptr] { relay_ptr->Wake(); };
    letters = std::make_unique<api::LetterServiceImpl>(store->get(), o);
    watchers = letters.get();
    api::OperationsOptions ops_options;
    ops_options.topology = topology;
    ops_options.certificates = config::ConfiguredCertificateFiles(config);
    ops_options.on_change = [relay_ptr, notify_watchers] {
      relay_ptr->Wake();
      notify_watchers();
    };
    ops = std::make_unique<api::OpsServiceImpl>(
        store->get(), queue::NewAmqpAdmin(BrokerOptionsOf(config, "ops")),
        std::move(ops_options), AccessOf(config));

    ASSIGN_OR_RETURN(std::string cert,
                     ReadFile(config.server().cert_file(), "server.cert_file"));
    ASSIGN_OR_RETURN(std::string key,
                     ReadFile(config.server().key_file(), "server.key_file"));
    ASSIGN_OR_RETURN(std::string ca, ReadFile(config.server().client_ca_file(),
                                              "server.client_ca_file"));
    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_root_certs = ca;
    tls.pem_key_cert_pairs.push_back({key, cert});

    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(config.server().listen(),
                             grpc::SslServerCredentials(tls), &port);
    builder.SetMaxReceiveMessageSize(
        static_cast<int>(config.limits().max_letter_bytes() + (1 << 20)));
    builder.RegisterService(letters.get());
    builder.RegisterService(ops.get());
    server = builder.BuildAndStart();
    if (!server || port == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "server.listen: cannot listen on ", config.server().listen()));
    }
    const std::string host =
        config.server().listen().substr(0, config.server().listen().rfind(':'));
    // Tests and scripts read this line to find a port chosen by the system.
    std::cout << "utpostd listening on " << host << ":" << port << std::endl;
    spdlog::info("api: listening on {}:{} (mTLS)", host, port);
  }

  std::unique_ptr<dispatch::Dispatcher> dispatcher;
  std::unique_ptr<dispatch::WorkerPool> workers;
  // Provider figures: every send is timed; the sums go to the store every
  // few seconds, where any api process reads them.
  dispatch::ProviderStats provider_stats;
  std::unique_ptr<dispatch::ProviderStatsRecorder> stats_recorder;
  if (worker_role) {
    outside.digital = std::make_unique<adapters::InstrumentedChannel>(
        std::move(outside.digital),
        std::vector<adapters::ChannelObserver*>{&provider_stats});
    outside.print = std::make_unique<adapters::InstrumentedChannel>(
        std::move(outside.print),
        std::vector<adapters::ChannelObserver*>{&provider_stats});
    stats_recorder = std::make_unique<dispatch::ProviderStatsRecorder>(
        store->get(), &provider_stats, dispatch::ThisProcessId(),
        absl::Seconds(5));
    dispatch::DispatcherOptions d;
    d.topology = topology;
    d.retry_delays_seconds = topology.retry_delays_seconds;
    d.max_attempts = config.retry().max_attempts();
    for (const auto& t : config.tenants()) {
      adapters::PostalAddress a;
      a.name = t.return_address().name();
      a.lines.assign(t.return_address().address_lines().begin(),
                     t.return_address().address_lines().end());
      a.postal_code = t.return_address().postal_code();
      a.city = t.return_address().city();
      d.return_addresses[t.organisation_number()] = a;
    }
    dispatcher = std::make_unique<dispatch::Dispatcher>(
        store->get(), outside.registry.get(), outside.digital.get(),
        outside.print.get(), d, [relay_ptr, notify_watchers] {
          relay_ptr->Wake();
          notify_watchers();
        });
    std::vector<std::vector<std::string>> groups;
    for (const auto& stage : topology.stages) {
      for (int i = 0; i < config.workers_per_queue(); ++i) {
        groups.push_back({topology.StageQueue(stage)});
      }
    }
    auto broker = BrokerOptionsOf(config, "worker");
    // rabbitmq-c answers heartbeats only inside its own calls, so the
    // broker must not give up on a consumer during the longest provider
    // call its handler can make.
    broker.heartbeat_seconds =
        std::max(10, config.providers().timeout_seconds() + 15);
    // Paused channels are in the store, so every worker process sees an
    // operator's pause; their delivery queues are not consumed meanwhile.
    store::Store* const shared_store = store->get();
    auto paused_queues = [shared_store,
                          topology]() -> absl::StatusOr<std::set<std::string>> {
      ASSIGN_OR_RETURN(auto paused, shared_store->PausedChannels());
      std::set<std::string> queues;
      for (const auto& p : paused) {
        queues.insert(topology.StageQueue("deliver." + p.channel));
      }
      return queues;
    };
    workers = std::make_unique<dispatch::WorkerPool>(
        [broker] { return queue::NewAmqpConsumer(broker); }, dispatcher.get(),
        groups, paused_queues);
    spdlog::info("worker: {} consumers on {} queues", groups.size(),
                 topology.stages.size());
  }

  wait_for_stop();
  spdlog::info("shutting down");
  if (server) {
    server->Shutdown(std::chrono::system_clock::now() +
                     std::chrono::seconds(5));
  }
  workers.reset();  // Finishes the deliveries in hand; the rest stay queued.
  dispatcher.reset();
  stats_recorder.reset();
  // Stops after its current round; what it has not published stays in the
  // outbox for the next start.
  relay.reset();
  watchers = nullptr;
  server.reset();
  ops.reset();
  letters.reset();
  return absl::OkStatus();
}

}  // namespace utpost
