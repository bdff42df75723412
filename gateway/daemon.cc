#include "gateway/daemon.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/adapter_registry.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/instrumented_channel.h"
#include "common/status_macros.h"
#include "gateway/api/letter_service.h"
#include "gateway/api/ops_service.h"
#include "gateway/dispatch/dispatcher.h"
#include "gateway/dispatch/outbox_relay.h"
#include "gateway/dispatch/worker_pool.h"
#include "gateway/observability/certificates.h"
#include "gateway/observability/gateway_metrics.h"
#include "gateway/observability/health.h"
#include "gateway/observability/metrics_http.h"
#include "gateway/observability/receipt_metrics.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/sqlite_store.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
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

absl::StatusOr<OutsideWorld> BuildOutsideWorld(
    const config::v1::Providers& p, adapters::ChannelObserver* observer) {
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
  w.digital =
      std::make_unique<adapters::InstrumentedChannel>(std::move(*d), observer);

  adapters::AdapterSettings print;
  print.base_url = p.print().url();
  print.http = w.http.get();
  auto pr = known.MakeChannel("print", print);
  if (!pr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.print: ", pr.status().message()));
  }
  w.print =
      std::make_unique<adapters::InstrumentedChannel>(std::move(*pr), observer);
  return w;
}

// Sets the expiry gauge of each configured certificate file. A file that
// cannot be read was reported by whoever uses it; it gets no series.
void SetCertificateExpiry(const config::v1::Config& c,
                          observability::GatewayMetrics* metrics) {
  const std::pair<const char*, std::string> files[] = {
      {"server", c.server().cert_file()},
      {"client_ca", c.server().client_ca_file()},
      {"receipts", c.receipts().cert_chain_file()},
      {"providers_ca", c.providers().ca_file()}};
  for (const auto& [name, path] : files) {
    if (path.empty()) continue;
    auto expiry = observability::EarliestExpiry(path);
    if (!expiry.ok()) {
      spdlog::warn("certificate {}: {}", name, expiry.status().ToString());
      continue;
    }
    metrics->certificate_expiry->WithLabels({name})->Set(
        static_cast<double>(*expiry));
  }
}

// Ends the process if a graceful shutdown takes longer than allowed.
// Whatever was in hand is safe: unacked deliveries return to their queues
// when the connections close, unpublished work stays in the outbox.
class ShutdownWatchdog {
 public:
  explicit ShutdownWatchdog(int seconds)
      : thread_([this, seconds] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, std::chrono::seconds(seconds),
                            [this] { return done_; })) {
            spdlog::warn(
                "shutdown took longer than {} s; exiting with unfinished "
                "work left queued",
                seconds);
            spdlog::default_logger()->flush();
            _exit(0);
          }
        }) {}
  ~ShutdownWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

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

  const auto& obs = config.observability();
  observability::GatewayMetrics metrics;
  observability::ProviderMetrics provider_metrics(&metrics);
  SetCertificateExpiry(config, &metrics);

  // First, so that probes see a live process while the rest starts.
  std::unique_ptr<observability::HealthServer> health;
  if (!obs.health_listen().empty()) {
    ASSIGN_OR_RETURN(health,
                     observability::HealthServer::Start(obs.health_listen()));
    std::cout << "utpostd health on " << obs.health_listen() << std::endl;
    spdlog::info("health: grpc.health.v1 on {} (plain text)",
                 obs.health_listen());
  }

  // Built before the services so that a bad provider setting stops start-up.
  OutsideWorld outside;
  if (worker_role) {
    auto built = BuildOutsideWorld(config.providers(), &provider_metrics);
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
    ops = std::make_unique<api::OpsServiceImpl>(
        store->get(), queue::NewAmqpAdmin(BrokerOptionsOf(config, "ops")),
        topology, AccessOf(config));

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

    // Lets grpcurl-style tools list and describe the services.
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        observability::NewGrpcMetricsInterceptorFactory(&metrics));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
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
  if (worker_role) {
    dispatch::DispatcherOptions d;
    d.topology = topology;
    d.retry_delays_seconds = topology.retry_delays_seconds;
    d.max_attempts = config.retry().max_attempts();
    d.on_retry = [&metrics](const std::string& stage) {
      metrics.retries->WithLabels({stage})->Increment();
    };
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
    workers = std::make_unique<dispatch::WorkerPool>(
        [broker] { return queue::NewAmqpConsumer(broker); }, dispatcher.get(),
        groups);
    spdlog::info("worker: {} consumers on {} queues", groups.size(),
                 topology.stages.size());
  }

  std::unique_ptr<observability::ReceiptMetrics> receipt_metrics;
  std::unique_ptr<observability::MetricsHttpServer> metrics_http;
  if (!obs.metrics_listen().empty()) {
    receipt_metrics =
        std::make_unique<observability::ReceiptMetrics>(store->get(), &metrics);
    auto* rm = receipt_metrics.get();
    ASSIGN_OR_RETURN(metrics_http, observability::MetricsHttpServer::Start(
                                       obs.metrics_listen(), &metrics.registry,
                                       [rm] { rm->PollOnce(); }));
    std::cout << "utpostd metrics on " << obs.metrics_listen() << std::endl;
    spdlog::info("metrics: http://{}/metrics", obs.metrics_listen());
  }
  std::unique_ptr<observability::Probe> probe;
  if (health || metrics_http) {
    observability::ProbeOptions probe_options;
    probe_options.topology = topology;
    // A broker that hangs is as good as down, and readiness should say so
    // within seconds.
    auto probe_broker = BrokerOptionsOf(config, "probe");
    probe_broker.connect_timeout = std::chrono::seconds(2);
    probe_broker.rpc_timeout = std::chrono::seconds(3);
    probe = std::make_unique<observability::Probe>(
        store->get(), queue::NewAmqpAdmin(probe_broker), health.get(), &metrics,
        probe_options);
  }

  wait_for_stop();
  spdlog::info("shutting down");
  ShutdownWatchdog watchdog(obs.shutdown_grace_seconds());
  // Load balancers and Kubernetes stop sending first.
  if (probe) probe->BeginShutdown();
  if (health) health->BeginDrain();
  if (server) {
    // No new RPCs; those in flight get a few seconds (watch streams end).
    server->Shutdown(
        std::chrono::system_clock::now() +
        std::chrono::seconds(std::min(5, obs.shutdown_grace_seconds() / 2)));
  }
  // No new deliveries; those in hand finish and are acked once their
  // outcome is stored. Prefetched ones return to the queue when the
  // consumers' connections close.
  workers.reset();
  dispatcher.reset();
  // Publish what the last deliveries and submissions wrote, while the
  // broker answers; what is left stays in the outbox for the next start.
  const auto flush_until =
      std::chrono::steady_clock::now() +
      std::chrono::seconds(std::max(1, obs.shutdown_grace_seconds() / 2));
  while (std::chrono::steady_clock::now() < flush_until) {
    auto lag = (*store)->GetOutboxLag();
    if (!lag.ok() || lag->pending == 0) break;
    if (probe && !probe->broker_up()) break;
    relay->Wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  relay.reset();
  watchers = nullptr;
  server.reset();
  ops.reset();
  letters.reset();
  probe.reset();
  metrics_http.reset();
  receipt_metrics.reset();
  if (health) health->Shutdown();
  spdlog::info("shut down");
  return absl::OkStatus();
}

}  // namespace utpost
