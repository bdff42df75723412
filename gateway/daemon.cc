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
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/adapter_registry.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/http/maskinporten_token_source.h"
#include "adapters/instrumented_channel.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "gateway/api/letter_service.h"
#include "gateway/api/ops_service.h"
#include "gateway/api/receipt_log_service.h"
#include "gateway/config/certificates.h"
#include "gateway/dispatch/dispatcher.h"
#include "gateway/dispatch/event_poller.h"
#include "gateway/dispatch/feed_positions.h"
#include "gateway/dispatch/outbox_relay.h"
#include "gateway/dispatch/provider_stats.h"
#include "gateway/dispatch/timer_scanner.h"
#include "gateway/dispatch/worker_pool.h"
#include "gateway/inspect/sandboxed_inspector.h"
#include "gateway/observability/gateway_metrics.h"
#include "gateway/observability/health.h"
#include "gateway/observability/metrics_http.h"
#include "gateway/observability/receipt_metrics.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "gateway/store/make_store.h"
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

// The channels this gateway delivers through, by routing name (see
// gateway/dispatch/routing.h), each with the name of the adapter serving
// it: those whose adapters' options are set (adapters/adapter_registry.h).
absl::StatusOr<std::map<std::string, std::string>> ConfiguredChannels(
    const config::v1::Config& c) {
  adapters::AdapterRegistry known;
  adapters::RegisterBuiltinAdapters(&known);
  return known.ChannelsOf(c.providers());
}

absl::StatusOr<queue::Topology> TopologyOf(const config::v1::Config& c) {
  ASSIGN_OR_RETURN(auto channels, ConfiguredChannels(c));
  std::vector<std::string> names;
  for (const auto& [name, adapter] : channels) names.push_back(name);
  queue::Topology t;
  t.prefix = c.broker().prefix();
  t.stages = dispatch::Dispatcher::StagesFor(names);
  t.retry_delays_seconds.assign(c.retry().delays_seconds().begin(),
                                c.retry().delays_seconds().end());
  return t;
}

queue::BrokerOptions BrokerOptionsOf(const config::v1::Config& c,
                                     const std::string& name) {
  queue::BrokerOptions o;
  o.host = c.broker().host();
  o.port = c.broker().port();
  o.nodes.assign(c.broker().nodes().begin(), c.broker().nodes().end());
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

// The worker role's outside world: registries and channels, made by name
// through the adapter registry.
struct OutsideWorld {
  std::unique_ptr<adapters::HttpClient> http;
  // Maskinporten tokens; null when providers.maskinporten is not set.
  std::unique_ptr<adapters::TokenSource> tokens;
  std::unique_ptr<adapters::Registry> registry;
  // The business registry; null: organisations go to print.
  std::unique_ptr<adapters::OrganisationRegistry> organisations;
  // Where the channels are in their providers' event feeds (the store).
  std::unique_ptr<adapters::FeedPositions> feed_positions;
  // By routing name; exactly ConfiguredChannels().
  std::map<std::string, std::unique_ptr<adapters::Channel>> channels;

  std::map<std::string, adapters::Channel*> ChannelMap() const {
    std::map<std::string, adapters::Channel*> out;
    for (const auto& [name, c] : channels) out[name] = c.get();
    return out;
  }
};

absl::StatusOr<OutsideWorld> BuildOutsideWorld(const config::v1::Config& c,
                                               store::Store* store) {
  const config::v1::Providers& p = c.providers();
  adapters::AdapterRegistry known;
  adapters::RegisterBuiltinAdapters(&known);
  OutsideWorld w;
  w.feed_positions = std::make_unique<dispatch::StoreFeedPositions>(store);
  adapters::CurlHttpClientOptions http_options;
  http_options.ca_file = p.ca_file();
  http_options.timeout_ms = int64_t{p.timeout_seconds()} * 1000;
  auto http = adapters::NewCurlHttpClient(http_options);
  if (!http.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.ca_file: ", http.status().message()));
  }
  w.http = std::move(*http);

  if (!p.maskinporten().token_url().empty()) {
    adapters::MaskinportenOptions token;
    token.token_url = p.maskinporten().token_url();
    token.audience = p.maskinporten().audience();
    token.client_id = p.maskinporten().client_id();
    token.key_file = p.maskinporten().key_file();
    token.cert_chain_file = p.maskinporten().cert_chain_file();
    auto tokens = adapters::NewMaskinportenTokenSource(token, w.http.get());
    if (!tokens.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("providers.maskinporten.", tokens.status().message()));
    }
    w.tokens = std::move(*tokens);
  }

  adapters::AdapterContext context;
  context.http = w.http.get();
  context.tokens = w.tokens.get();
  context.feed_positions = w.feed_positions.get();
  auto registry = known.MakeRegistry("krr", p, context);
  if (!registry.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.", registry.status().message()));
  }
  w.registry = std::move(*registry);
  context.persons = w.registry.get();
  auto organisations = known.MakeOrganisationRegistry("brreg", p, context);
  if (!organisations.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("providers.", organisations.status().message()));
  }
  w.organisations = std::move(*organisations);

  ASSIGN_OR_RETURN(auto channels, ConfiguredChannels(c));
  for (const auto& [name, adapter] : channels) {
    auto channel = known.MakeChannel(adapter, p, context);
    if (!channel.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "providers.", adapter, ": ", channel.status().message()));
    }
    w.channels[name] = std::move(*channel);
  }
  return w;
}

// The configured receipt-signing keys: `receipts.key_file` (from the start)
// and `receipts.keys` (each from its `not_before`). The loader has checked
// the times.
std::vector<receipts::JwsSignerOptions> SignerKeysOf(
    const config::v1::Config& c) {
  std::vector<receipts::JwsSignerOptions> keys;
  if (!c.receipts().key_file().empty()) {
    keys.push_back(
        {c.receipts().key_file(), c.receipts().cert_chain_file(), 0});
  }
  for (const auto& k : c.receipts().keys()) {
    int64_t from_ms = 0;
    absl::Time t;
    std::string err;
    if (!k.not_before().empty() &&
        absl::ParseTime(absl::RFC3339_full, k.not_before(), &t, &err)) {
      from_ms = absl::ToUnixMillis(t);
    }
    keys.push_back({k.key_file(), k.cert_chain_file(), from_ms});
  }
  return keys;
}

// Runs `fn` every `period` on its own thread until destroyed.
class PeriodicTask {
 public:
  PeriodicTask(absl::Duration period, std::function<void()> fn)
      : thread_([this, period, fn = std::move(fn)] {
          absl::MutexLock lock(&mu_);
          while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), period)) {
            mu_.Unlock();
            fn();
            mu_.Lock();
          }
        }) {}
  ~PeriodicTask() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

 private:
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Sets the expiry gauge of each configured certificate file. A file that
// cannot be read was reported by whoever uses it; it gets no series.
void SetCertificateExpiry(const config::v1::Config& c,
                          observability::GatewayMetrics* metrics) {
  for (const config::CertificateFile& file :
       config::ConfiguredCertificateFiles(c)) {
    auto expiry = config::EarliestExpiry(file.path);
    if (!expiry.ok()) {
      spdlog::warn("certificate {}: {}", file.setting,
                   expiry.status().ToString());
      continue;
    }
    metrics->certificate_expiry->WithLabels({file.setting})
        ->Set(static_cast<double>(expiry->not_after_ms / 1000));
  }
}

// Ends the process if a graceful shutdown takes longer than allowed.
// Whatever was in hand is safe: unacked deliveries return to their queues
// when the connections close, unpublished work stays in the outbox.
// The document policy and the inspection sandbox from `documents` (the
// loader filled in the defaults).
inspect::SandboxOptions SandboxOptionsOf(const config::v1::Config& config) {
  const config::v1::Documents& d = config.documents();
  inspect::SandboxOptions o;
  o.worker_path = d.inspector_path();
  o.workers = d.inspector_workers();
  o.max_queued = d.inspector_queue();
  o.deadline = std::chrono::seconds(d.inspection_timeout_seconds());
  o.memory_bytes = d.inspector_memory_bytes();
  o.cpu_seconds = d.inspector_cpu_seconds();
  // The whole letter and its file names in one request frame.
  o.max_request_bytes = config.limits().max_letter_bytes() + (int64_t{1} << 20);
  o.limits.max_pages = d.max_pages();
  o.limits.max_page_tree_depth = d.max_page_tree_depth();
  o.limits.max_decoded_bytes = d.max_decoded_bytes();
  return o;
}

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
  ASSIGN_OR_RETURN(const queue::Topology topology, TopologyOf(config));

  auto signer = receipts::NewRotatingReceiptSigner(SignerKeysOf(config));
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipts: ", signer.status().message()));
  }

  auto store = store::MakeStore(config.store(), signer->get());
  if (!store.ok()) {
    return absl::InvalidArgumentError(store.status().message());
  }

  const auto& obs = config.observability();
  observability::GatewayMetrics metrics;
  observability::ProviderMetrics provider_metrics(&metrics);
  SetCertificateExpiry(config, &metrics);

  // First, so that probes see a live process while the rest starts.
  std::unique_ptr<observability::HealthServer> health;
  if (!obs.health_listen().empty()) {
    observability::HealthServerLimits limits;
    limits.handshake_timeout_ms = obs.server_read_timeout_ms();
    limits.max_connection_idle_ms =
        int64_t{obs.health_max_connection_idle_seconds()} * 1000;
    limits.max_concurrent_streams = obs.health_max_concurrent_streams();
    ASSIGN_OR_RETURN(health, observability::HealthServer::Start(
                                 obs.health_listen(), limits));
    std::cout << "utpostd health on " << obs.health_listen() << std::endl;
    spdlog::info("health: grpc.health.v1 on {} (plain text)",
                 obs.health_listen());
  }

  // Built before the services so that a bad provider setting stops start-up.
  OutsideWorld outside;
  if (worker_role) {
    auto built = BuildOutsideWorld(config, store->get());
    if (!built.ok()) return built.status();
    outside = std::move(*built);
  }

  // Threads started before the service exists (the relay) see it only once
  // it is complete, and no longer while it is being destroyed.
  std::unique_ptr<api::LetterServiceImpl> letters;
  // Opens tenants' documents in utpost-inspect workers; outlives letters.
  std::unique_ptr<inspect::SandboxedInspector> inspector;
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

  // Receipt log: a signed tree head whenever the interval passes and the log
  // grew. Any process may issue one; the store returns the newest head when
  // another process got there first.
  store::Store* store_ptr = store->get();
  auto tree_heads = std::make_unique<PeriodicTask>(
      absl::Seconds(config.receipt_log().tree_head_interval_seconds()),
      [store_ptr] {
        auto head = store_ptr->IssueTreeHead();
        if (!head.ok()) {
          spdlog::warn("receipt log: no tree head: {}",
                       head.status().ToString());
        }
      });
  // Retention: the worker role purges documents of finished letters.
  std::unique_ptr<PeriodicTask> retention;
  if (worker_role && config.retention().documents_days() > 0) {
    const int64_t keep_ms =
        int64_t{config.retention().documents_days()} * 24 * 3600 * 1000;
    retention = std::make_unique<PeriodicTask>(
        absl::Seconds(config.retention().sweep_interval_seconds()),
        [store_ptr, keep_ms] {
          while (true) {
            auto n = store_ptr->PurgeDocuments(
                RealClock()->NowMillis() - keep_ms, 500);
            if (!n.ok()) {
              spdlog::warn("retention: {}", n.status().ToString());
              return;
            }
            if (*n > 0) spdlog::info("retention: purged {} letters", *n);
            if (*n < 500) return;
          }
        });
  }

  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<api::OpsServiceImpl> ops;
  std::unique_ptr<api::ReceiptLogServiceImpl> receipt_log;
  if (api_role) {
    ASSIGN_OR_RETURN(inspector,
                     inspect::NewSandboxedInspector(SandboxOptionsOf(config)));
    api::LetterServiceOptions o;
    o.inspector = inspector.get();
    o.access = AccessOf(config);
    o.limits.max_documents = config.limits().max_documents();
    o.limits.max_document_bytes = config.limits().max_document_bytes();
    o.limits.max_letter_bytes = config.limits().max_letter_bytes();
    o.limits.max_print_sheets = config.providers().print().max_sheets();
    o.limits.print_cover_page = config.providers().print().cover_page();
    o.topology = topology;
    o.on_commit = [relay_ptr] { relay_ptr->Wake(); };
    o.signer = signer->get();
    for (const auto& t : config.tenants()) {
      o.tenant_names[t.organisation_number()] = t.name();
    }
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
    receipt_log = std::make_unique<api::ReceiptLogServiceImpl>(
        store->get(), signer->get(), AccessOf(config));
    builder.RegisterService(receipt_log.get());
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
  std::unique_ptr<dispatch::EventPoller> poller;
  std::unique_ptr<dispatch::TimerScanner> timers;
  // Provider figures: every send is timed; the sums go to the store every
  // few seconds, where any api process reads them.
  dispatch::ProviderStats provider_stats;
  std::unique_ptr<dispatch::ProviderStatsRecorder> stats_recorder;
  if (worker_role) {
    for (auto& [name, channel] : outside.channels) {
      channel = std::make_unique<adapters::InstrumentedChannel>(
          std::move(channel), std::vector<adapters::ChannelObserver*>{
                                  &provider_stats, &provider_metrics});
    }
    stats_recorder = std::make_unique<dispatch::ProviderStatsRecorder>(
        store->get(), &provider_stats, dispatch::ThisProcessId(),
        absl::Seconds(5));
    dispatch::DispatcherOptions d;
    d.topology = topology;
    const auto& flow = config.dispatch();
    d.routing.digipost_providers.assign(flow.digipost_providers().begin(),
                                        flow.digipost_providers().end());
    d.routing.dpi_providers.assign(flow.dpi_providers().begin(),
                                   flow.dpi_providers().end());
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
        store->get(), outside.registry.get(), outside.organisations.get(),
        outside.ChannelMap(), d, [relay_ptr, notify_watchers] {
          relay_ptr->Wake();
          notify_watchers();
        });
    dispatch::EventPollerOptions events;
    events.interval_ms = int64_t{flow.event_poll_interval_seconds()} * 1000;
    poller = std::make_unique<dispatch::EventPoller>(dispatcher.get(), events);
    dispatch::TimerScannerOptions scan;
    scan.interval_ms = flow.timer_scan_interval_ms();
    scan.stuck_after_ms = flow.stuck_after_seconds() < 0
                              ? 0
                              : int64_t{flow.stuck_after_seconds()} * 1000;
    timers = std::make_unique<dispatch::TimerScanner>(store->get(),
                                                      dispatcher.get(), scan);
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
    // Letters to route that arrive together are looked up in the registry
    // together: as many as the broker hands a consumer at once.
    std::map<std::string, int> batches = {
        {topology.StageQueue("route"), broker.prefetch}};
    workers = std::make_unique<dispatch::WorkerPool>(
        [broker] { return queue::NewAmqpConsumer(broker); }, dispatcher.get(),
        groups, paused_queues, /*check_interval_ms=*/1000, batches);
    spdlog::info("worker: {} consumers on {} queues", groups.size(),
                 topology.stages.size());
    std::cout << "utpostd worker: " << groups.size() << " consumers"
              << std::endl;
  }

  std::unique_ptr<observability::ReceiptMetrics> receipt_metrics;
  std::unique_ptr<observability::MetricsHttpServer> metrics_http;
  if (!obs.metrics_listen().empty()) {
    receipt_metrics =
        std::make_unique<observability::ReceiptMetrics>(store->get(), &metrics);
    auto* rm = receipt_metrics.get();
    observability::HttpServerLimits limits;
    limits.read_timeout_ms = obs.server_read_timeout_ms();
    limits.write_timeout_ms = obs.server_write_timeout_ms();
    limits.max_connections = obs.metrics_max_connections();
    ASSIGN_OR_RETURN(metrics_http, observability::MetricsHttpServer::Start(
                                       obs.metrics_listen(), &metrics.registry,
                                       [rm] { rm->PollOnce(); }, limits));
    std::cout << "utpostd metrics on " << obs.metrics_listen() << std::endl;
    spdlog::info("metrics: http://{}/metrics", obs.metrics_listen());
  }
  std::unique_ptr<observability::Probe> probe;
  if (health || metrics_http) {
    observability::ProbeOptions probe_options;
    probe_options.topology = topology;
    probe_options.tree_head_interval_seconds =
        config.receipt_log().tree_head_interval_seconds();
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
  retention.reset();
  tree_heads.reset();
  // No new deliveries; those in hand finish and are acked once their
  // outcome is stored. Prefetched ones return to the queue when the
  // consumers' connections close.
  workers.reset();
  poller.reset();
  timers.reset();
  dispatcher.reset();
  stats_recorder.reset();
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
  receipt_log.reset();
  letters.reset();
  // Letters still being inspected finish within their deadline.
  if (inspector) inspector->Stop();
  inspector.reset();
  probe.reset();
  metrics_http.reset();
  receipt_metrics.reset();
  if (health) health->Shutdown();
  spdlog::info("shut down");
  return absl::OkStatus();
}

}  // namespace utpost
