#include "gateway/api_role.h"

#include <chrono>
#include <iostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gateway/api/letter_service.h"
#include "gateway/api/ops_service.h"
#include "gateway/api/preflight_service.h"
#include "gateway/api/pricing.h"
#include "gateway/api/receipt_log_service.h"
#include "gateway/api/stats_service.h"
#include "gateway/config/certificates.h"
#include "gateway/inspect/sandboxed_inspector.h"
#include "gateway/settings.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "queue/amqp_broker.h"
#include "spdlog/spdlog.h"

namespace utpost::gateway {

ApiRole::ApiRole(LetterWatchers* watchers) : watchers_(watchers) {}

absl::StatusOr<std::unique_ptr<ApiRole>> ApiRole::Start(
    const config::v1::Config& config, ApiRoleDeps deps) {
  std::unique_ptr<ApiRole> role(new ApiRole(deps.watchers));
  ASSIGN_OR_RETURN(role->inspector_,
                   inspect::NewSandboxedInspector(SandboxOptionsOf(config)));
  api::LetterServiceOptions o;
  o.inspector = role->inspector_.get();
  o.access = AccessOf(config);
  o.limits.max_documents = config.limits().max_documents();
  o.limits.max_document_bytes = config.limits().max_document_bytes();
  o.limits.max_letter_bytes = config.limits().max_letter_bytes();
  o.limits.max_upload_bytes = config.limits().max_upload_bytes();
  o.upload_idle_ms = int64_t{config.limits().upload_idle_seconds()} * 1000;
  o.limits.max_print_sheets = config.providers().print().max_sheets();
  o.limits.print_cover_page = config.providers().print().cover_page();
  o.topology = deps.topology;
  o.on_commit = deps.wake_relay;
  o.signer = deps.signer;
  auto limit_of = [](const config::v1::TenantLimits& l) {
    api::TenantLimit out;
    out.letters_per_second = l.letters_per_second();
    out.burst = l.burst();
    out.letters_per_day = l.letters_per_day();
    return out;
  };
  o.other_tenants_limit = limit_of(config.tenant_limits());
  for (const auto& t : config.tenants()) {
    o.tenant_names[t.organisation_number()] = t.name();
    if (t.has_limits()) {
      o.tenant_limits[t.organisation_number()] = limit_of(t.limits());
    }
  }
  if (deps.outside != nullptr) {
    api::PreflightOptions p;
    p.limits = o.limits;
    const auto& flow = config.dispatch();
    p.routing.digipost_providers.assign(flow.digipost_providers().begin(),
                                        flow.digipost_providers().end());
    p.routing.dpi_providers.assign(flow.dpi_providers().begin(),
                                   flow.dpi_providers().end());
    for (const auto& [name, channel] : deps.outside->channels) {
      p.configured_channels.insert(name);
    }
    store::Store* const paused_from = deps.store;
    p.paused_channels =
        [paused_from]() -> absl::StatusOr<std::set<std::string>> {
      ASSIGN_OR_RETURN(auto paused, paused_from->PausedChannels());
      std::set<std::string> names;
      for (const auto& c : paused) names.insert(c.channel);
      return names;
    };
    p.prices = api::UnitPricesOf(config);
    p.inspector = role->inspector_.get();
    p.uploads = deps.store;
    p.parallel_inspections = config.documents().inspector_workers();
    role->preflight_ = std::make_unique<api::PreflightService>(
        deps.outside->registry.get(), deps.outside->organisations.get(),
        std::move(p));
    o.preflight = role->preflight_.get();
  }
  role->letters_ = std::make_unique<api::LetterServiceImpl>(deps.store, o);
  deps.watchers->Attach(role->letters_.get());
  api::OperationsOptions ops_options;
  ops_options.topology = deps.topology;
  ops_options.certificates = config::ConfiguredCertificateFiles(config);
  ops_options.tenant_names = o.tenant_names;
  ops_options.on_change = [wake_relay = deps.wake_relay,
                           watchers = deps.watchers] {
    wake_relay();
    watchers->Notify();
  };
  role->ops_ = std::make_unique<api::OpsServiceImpl>(
      deps.store, queue::NewAmqpAdmin(BrokerOptionsOf(config, "ops")),
      std::move(ops_options), AccessOf(config));
  role->receipt_log_ = std::make_unique<api::ReceiptLogServiceImpl>(
      deps.store, deps.signer, AccessOf(config));
  api::StatsServiceOptions stats_options;
  stats_options.access = AccessOf(config);
  stats_options.prices = api::UnitPricesOf(config);
  stats_options.tenant_names = o.tenant_names;
  role->stats_ = std::make_unique<api::StatsServiceImpl>(
      deps.store, std::move(stats_options));

  ASSIGN_OR_RETURN(
      std::string cert,
      ReadSettingFile(config.server().cert_file(), "server.cert_file"));
  ASSIGN_OR_RETURN(std::string key, ReadSettingFile(config.server().key_file(),
                                                    "server.key_file"));
  ASSIGN_OR_RETURN(std::string ca,
                   ReadSettingFile(config.server().client_ca_file(),
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
      observability::NewGrpcMetricsInterceptorFactory(deps.metrics));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  int port = 0;
  builder.AddListeningPort(config.server().listen(),
                           grpc::SslServerCredentials(tls), &port);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(config.limits().max_letter_bytes() + (1 << 20)));
  builder.RegisterService(role->letters_.get());
  builder.RegisterService(role->ops_.get());
  builder.RegisterService(role->receipt_log_.get());
  builder.RegisterService(role->stats_.get());
  role->server_ = builder.BuildAndStart();
  if (!role->server_ || port == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server.listen: cannot listen on ", config.server().listen()));
  }
  const std::string host =
      config.server().listen().substr(0, config.server().listen().rfind(':'));
  // Tests and scripts read this line to find a port chosen by the system.
  std::cout << "utpostd listening on " << host << ":" << port << std::endl;
  spdlog::info("api: listening on {}:{} (mTLS)", host, port);
  return role;
}

void ApiRole::StopAccepting(absl::Duration grace) {
  if (stopped_accepting_) return;
  stopped_accepting_ = true;
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(grace));
  }
}

ApiRole::~ApiRole() {
  StopAccepting(absl::ZeroDuration());
  // Nothing reaches the letter service through the watchers from here on.
  watchers_->Detach();
}

}  // namespace utpost::gateway
