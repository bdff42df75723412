#include "gateway/config/config_loader.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"
#include "gateway/dispatch/backoff.h"

namespace utpost::config {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

absl::Status Invalid(const std::string& setting, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(setting, ": ", why));
}

absl::Status CheckTenantLimits(const v1::TenantLimits& l,
                               const std::string& at) {
  // Written so that NaN is refused too.
  if (!(l.letters_per_second() >= 0 && l.letters_per_second() <= 100000)) {
    return Invalid(at + ".letters_per_second", "must be 0..100000");
  }
  if (l.burst() < 0 || l.burst() > 1000000) {
    return Invalid(at + ".burst", "must be 0..1000000");
  }
  if (l.letters_per_day() < 0 || l.letters_per_day() > 1000000000) {
    return Invalid(at + ".letters_per_day", "must be 0..1000000000");
  }
  return absl::OkStatus();
}

bool IsDigits(const std::string& s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "host:port" or "[v6 address]:port", as the broker client reads it
// (queue::ParseBrokerNode).
bool IsHostPort(const std::string& s) {
  std::string host;
  std::string port;
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() ||
        s[close + 1] != ':') {
      return false;
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string::npos) return false;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos) return false;
  }
  if (host.empty()) return false;
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                    c == '_' || c == ':';
    if (!ok) return false;
  }
  if (port.empty() || port.size() > 5) return false;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return value >= 1 && value <= 65535;
}

// providers.print beyond its URL (#3).
absl::Status ApplyPrintDefaults(v1::Config& c, const std::string& base_dir) {
  auto* print = c.mutable_providers()->mutable_print();
  if (print->max_sheets() == 0) print->set_max_sheets(14);
  if (print->max_sheets() < 1 || print->max_sheets() > 1000)
    return Invalid("providers.print.max_sheets", "must be 1..1000");
  if (print->cover_page_font().empty()) {
    print->set_cover_page_font(
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
  }
  print->set_cover_page_font(Resolve(base_dir, print->cover_page_font()));
  if (print->cover_page() && c.role() != "api" &&
      !std::ifstream(print->cover_page_font())) {
    return Invalid("providers.print.cover_page_font",
                   "cannot read " + print->cover_page_font());
  }
  if (print->batch_max_letters() == 0) print->set_batch_max_letters(100);
  if (print->batch_max_letters() < 1 || print->batch_max_letters() > 10000)
    return Invalid("providers.print.batch_max_letters", "must be 1..10000");
  if (print->batch_max_wait_ms() == 0) print->set_batch_max_wait_ms(20);
  if (print->batch_max_wait_ms() < 1 || print->batch_max_wait_ms() > 60000)
    return Invalid("providers.print.batch_max_wait_ms", "must be 1..60000");
  if (print->batch_max_jobs_in_flight() == 0)
    print->set_batch_max_jobs_in_flight(4);
  if (print->batch_max_jobs_in_flight() < 1 ||
      print->batch_max_jobs_in_flight() > 256)
    return Invalid("providers.print.batch_max_jobs_in_flight",
                   "must be 1..256");
  if (print->batch_max_bytes() == 0)
    print->set_batch_max_bytes(int64_t{32} << 20);
  if (print->batch_max_bytes() < 1)
    return Invalid("providers.print.batch_max_bytes", "must be > 0");
  return absl::OkStatus();
}

absl::Status ApplyDefaultsAndValidate(v1::Config& c,
                                      const std::string& base_dir) {
  if (c.role().empty()) c.set_role("all");
  if (c.role() != "all" && c.role() != "api" && c.role() != "worker") {
    return Invalid("role", "must be api, worker or all");
  }
  if (c.log_level().empty()) c.set_log_level("info");
  static const char* const kLevels[] = {"trace", "debug",    "info", "warn",
                                        "error", "critical", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level()) ==
      std::end(kLevels)) {
    return Invalid("log_level", "must be trace, debug, info, warn or error");
  }
  if (c.workers_per_queue() == 0) c.set_workers_per_queue(4);
  if (c.workers_per_queue() < 1 || c.workers_per_queue() > 64) {
    return Invalid("workers_per_queue", "must be 1..64");
  }

  auto* server = c.mutable_server();
  if (server->listen().empty()) server->set_listen("127.0.0.1:7443");
  if (c.role() != "worker") {
    if (server->cert_file().empty())
      return Invalid("server.cert_file", "required");
    if (server->key_file().empty())
      return Invalid("server.key_file", "required");
    if (server->client_ca_file().empty())
      return Invalid("server.client_ca_file", "required");
  }
  server->set_cert_file(Resolve(base_dir, server->cert_file()));
  server->set_key_file(Resolve(base_dir, server->key_file()));
  server->set_client_ca_file(Resolve(base_dir, server->client_ca_file()));

  auto* store = c.mutable_store();
  if (store->engine().empty()) store->set_engine("sqlite");
  if (store->engine() != "sqlite" && store->engine() != "postgres")
    return Invalid("store.engine", "must be sqlite or postgres");
  if (store->sqlite_path().empty()) store->set_sqlite_path("utpost.db");
  store->set_sqlite_path(Resolve(base_dir, store->sqlite_path()));
  auto* postgres = store->mutable_postgres();
  if (store->engine() == "postgres" && postgres->conninfo().empty())
    return Invalid("store.postgres.conninfo", "required for engine postgres");
  if (postgres->pool_size() == 0) postgres->set_pool_size(8);
  if (postgres->pool_size() < 1 || postgres->pool_size() > 256)
    return Invalid("store.postgres.pool_size", "must be 1..256");
  if (!postgres->password_file().empty())
    postgres->set_password_file(Resolve(base_dir, postgres->password_file()));

  auto* broker = c.mutable_broker();
  if (broker->host().empty()) broker->set_host("127.0.0.1");
  if (broker->port() == 0) broker->set_port(5672);
  if (broker->port() < 1 || broker->port() > 65535)
    return Invalid("broker.port", "must be 1..65535");
  for (int i = 0; i < broker->nodes_size(); ++i) {
    if (!IsHostPort(broker->nodes(i))) {
      return Invalid(absl::StrCat("broker.nodes[", i, "]"),
                     "must be host:port (an IPv6 address in brackets), "
                     "port 1..65535");
    }
  }
  if (const char* user = std::getenv("UTPOST_BROKER_USER"); user && *user) {
    broker->set_user(user);
  }
  if (broker->user().empty()) broker->set_user("guest");
  if (broker->password().empty()) broker->set_password("guest");
  if (const char* pw = std::getenv("UTPOST_BROKER_PASSWORD"); pw && *pw) {
    broker->set_password(pw);
  }
  if (broker->vhost().empty()) broker->set_vhost("/");
  if (broker->prefetch() == 0) broker->set_prefetch(64);
  if (broker->prefetch() < 1 || broker->prefetch() > 65535) {
    return Invalid("broker.prefetch", "must be 1..65535");
  }
  if (broker->prefix().empty()) broker->set_prefix("utpost");

  auto* limits = c.mutable_limits();
  if (limits->max_documents() == 0) limits->set_max_documents(10);
  if (limits->max_document_bytes() == 0)
    limits->set_max_document_bytes(10 << 20);
  if (limits->max_letter_bytes() == 0) limits->set_max_letter_bytes(30 << 20);
  if (limits->max_documents() < 1 || limits->max_documents() > 1000)
    return Invalid("limits.max_documents", "must be 1..1000");
  constexpr int64_t kMaxMessage = int64_t{1} << 30;  // gRPC's int limit.
  if (limits->max_document_bytes() < 1 ||
      limits->max_document_bytes() > kMaxMessage)
    return Invalid("limits.max_document_bytes", "must be 1..1073741824");
  if (limits->max_letter_bytes() < 1 ||
      limits->max_letter_bytes() > kMaxMessage)
    return Invalid("limits.max_letter_bytes", "must be 1..1073741824");
  if (limits->max_upload_bytes() == 0) limits->set_max_upload_bytes(100 << 20);
  if (limits->upload_idle_seconds() == 0) limits->set_upload_idle_seconds(60);
  if (limits->upload_idle_seconds() < 1 || limits->upload_idle_seconds() > 3600)
    return Invalid("limits.upload_idle_seconds", "must be 1..3600");
  if (limits->max_upload_bytes() < 1 ||
      limits->max_upload_bytes() > kMaxMessage)
    return Invalid("limits.max_upload_bytes", "must be 1..1073741824");

  RETURN_IF_ERROR(CheckTenantLimits(c.tenant_limits(), "tenant_limits"));
  for (int i = 0; i < c.tenants_size(); ++i) {
    const auto& t = c.tenants(i);
    const std::string at = absl::StrCat("tenants[", i, "]");
    RETURN_IF_ERROR(CheckTenantLimits(t.limits(), at + ".limits"));
    if (!IsDigits(t.organisation_number(), 9)) {
      return Invalid(at + ".organisation_number", "must be 9 digits");
    }
    // Print needs it; better to stop here than to fail letters later.
    if (t.return_address().name().empty() ||
        t.return_address().address_lines_size() == 0 ||
        t.return_address().postal_code().empty()) {
      return Invalid(at + ".return_address",
                     "name, address_lines and postal_code are required");
    }
  }

  auto* receipts = c.mutable_receipts();
  if (receipts->key_file().empty() && receipts->keys_size() == 0)
    return Invalid("receipts.key_file", "required");
  if (!receipts->key_file().empty() && receipts->cert_chain_file().empty())
    return Invalid("receipts.cert_chain_file", "required");
  receipts->set_key_file(Resolve(base_dir, receipts->key_file()));
  receipts->set_cert_chain_file(Resolve(base_dir, receipts->cert_chain_file()));
  for (int i = 0; i < receipts->keys_size(); ++i) {
    auto* k = receipts->mutable_keys(i);
    const std::string at = absl::StrCat("receipts.keys[", i, "]");
    if (k->key_file().empty()) return Invalid(at + ".key_file", "required");
    if (k->cert_chain_file().empty())
      return Invalid(at + ".cert_chain_file", "required");
    absl::Time t;
    std::string err;
    if (!k->not_before().empty() &&
        !absl::ParseTime(absl::RFC3339_full, k->not_before(), &t, &err)) {
      return Invalid(at + ".not_before", "not an RFC 3339 time: " + err);
    }
    k->set_key_file(Resolve(base_dir, k->key_file()));
    k->set_cert_chain_file(Resolve(base_dir, k->cert_chain_file()));
  }
  auto* log = c.mutable_receipt_log();
  if (log->tree_head_interval_seconds() == 0)
    log->set_tree_head_interval_seconds(300);
  if (log->tree_head_interval_seconds() < 1)
    return Invalid("receipt_log.tree_head_interval_seconds", "must be >= 1");
  auto* retention = c.mutable_retention();
  if (retention->documents_days() < 0)
    return Invalid("retention.documents_days", "must be >= 0");
  if (retention->sweep_interval_seconds() == 0)
    retention->set_sweep_interval_seconds(3600);
  if (retention->sweep_interval_seconds() < 1)
    return Invalid("retention.sweep_interval_seconds", "must be >= 1");

  auto* documents = c.mutable_documents();
  auto default_to = [](auto value, auto fallback) {
    return value == 0 ? fallback : value;
  };
  documents->set_max_pages(default_to(documents->max_pages(), 1000));
  if (documents->max_pages() < 1 || documents->max_pages() > 100000)
    return Invalid("documents.max_pages", "must be 1..100000");
  documents->set_max_page_tree_depth(
      default_to(documents->max_page_tree_depth(), 32));
  if (documents->max_page_tree_depth() < 1 ||
      documents->max_page_tree_depth() > 1000)
    return Invalid("documents.max_page_tree_depth", "must be 1..1000");
  documents->set_max_decoded_bytes(
      default_to(documents->max_decoded_bytes(), int64_t{256} << 20));
  if (documents->max_decoded_bytes() < (int64_t{1} << 20))
    return Invalid("documents.max_decoded_bytes", "must be >= 1048576");
  documents->set_inspector_workers(
      default_to(documents->inspector_workers(), 2));
  if (documents->inspector_workers() < 1 || documents->inspector_workers() > 64)
    return Invalid("documents.inspector_workers", "must be 1..64");
  documents->set_inspector_queue(default_to(documents->inspector_queue(), 32));
  if (documents->inspector_queue() < 0 || documents->inspector_queue() > 10000)
    return Invalid("documents.inspector_queue", "must be 0..10000");
  documents->set_inspection_timeout_seconds(
      default_to(documents->inspection_timeout_seconds(), 10));
  if (documents->inspection_timeout_seconds() < 1 ||
      documents->inspection_timeout_seconds() > 300)
    return Invalid("documents.inspection_timeout_seconds", "must be 1..300");
  documents->set_inspector_memory_bytes(
      default_to(documents->inspector_memory_bytes(), int64_t{512} << 20));
  if (documents->inspector_memory_bytes() <
      std::max(limits->max_letter_bytes(), limits->max_upload_bytes()) +
          (int64_t{64} << 20))
    return Invalid("documents.inspector_memory_bytes",
                   "must be at least limits.max_letter_bytes and "
                   "limits.max_upload_bytes + 64 MiB");
  documents->set_inspector_cpu_seconds(
      default_to(documents->inspector_cpu_seconds(), 5));
  if (documents->inspector_cpu_seconds() < 1 ||
      documents->inspector_cpu_seconds() > 300)
    return Invalid("documents.inspector_cpu_seconds", "must be 1..300");
  documents->set_inspector_letters_per_worker(
      default_to(documents->inspector_letters_per_worker(), 64));
  if (documents->inspector_letters_per_worker() < 1 ||
      documents->inspector_letters_per_worker() > 10000)
    return Invalid("documents.inspector_letters_per_worker",
                   "must be 1..10000");
  if (!documents->inspector_path().empty()) {
    documents->set_inspector_path(
        Resolve(base_dir, documents->inspector_path()));
  }

  auto* providers = c.mutable_providers();
  providers->set_ca_file(Resolve(base_dir, providers->ca_file()));
  if (providers->timeout_seconds() == 0) providers->set_timeout_seconds(30);
  if (c.role() != "api") {
    if (providers->registry_url().empty())
      return Invalid("providers.registry_url", "required");
    if (providers->digipost().url().empty())
      return Invalid("providers.digipost.url", "required");
    if (providers->digipost().sender_id().empty())
      return Invalid("providers.digipost.sender_id", "required");
    if (providers->digipost().signing_key_file().empty())
      return Invalid("providers.digipost.signing_key_file", "required");
    if (providers->print().url().empty())
      return Invalid("providers.print.url", "required");
  }
  providers->mutable_digipost()->set_signing_key_file(
      Resolve(base_dir, providers->digipost().signing_key_file()));
  // DPI (#3): optional; with a url, its keys and the provider's trust.
  if (providers->has_dpi() && !providers->dpi().url().empty()) {
    auto* dpi = providers->mutable_dpi();
    if (dpi->signing_key_file().empty())
      return Invalid("providers.dpi.signing_key_file", "required with url");
    if (dpi->certificate_file().empty())
      return Invalid("providers.dpi.certificate_file", "required with url");
    if (dpi->provider_certificate_file().empty() &&
        dpi->provider_ca_file().empty()) {
      return Invalid("providers.dpi.provider_certificate_file",
                     "this or provider_ca_file is required with url");
    }
    dpi->set_signing_key_file(Resolve(base_dir, dpi->signing_key_file()));
    dpi->set_certificate_file(Resolve(base_dir, dpi->certificate_file()));
    if (!dpi->provider_certificate_file().empty()) {
      dpi->set_provider_certificate_file(
          Resolve(base_dir, dpi->provider_certificate_file()));
    }
    if (!dpi->provider_ca_file().empty()) {
      dpi->set_provider_ca_file(Resolve(base_dir, dpi->provider_ca_file()));
    }
    if (!dpi->certificate_root_file().empty()) {
      dpi->set_certificate_root_file(
          Resolve(base_dir, dpi->certificate_root_file()));
    }
    if (!dpi->print_certificate_file().empty()) {
      dpi->set_print_certificate_file(
          Resolve(base_dir, dpi->print_certificate_file()));
    }
  }
  // Channels and registries (#3).
  if (auto* m = providers->mutable_maskinporten(); !m->token_url().empty()) {
    if (m->audience().empty())
      return Invalid("providers.maskinporten.audience", "required");
    if (m->client_id().empty())
      return Invalid("providers.maskinporten.client_id", "required");
    if (m->key_file().empty())
      return Invalid("providers.maskinporten.key_file", "required");
    if (m->cert_chain_file().empty())
      return Invalid("providers.maskinporten.cert_chain_file", "required");
    m->set_key_file(Resolve(base_dir, m->key_file()));
    m->set_cert_chain_file(Resolve(base_dir, m->cert_chain_file()));
  }
  if (!providers->has_registry_cache_seconds())
    providers->set_registry_cache_seconds(3600);
  if (providers->registry_cache_seconds() < 0)
    return Invalid("providers.registry_cache_seconds", "must be >= 0");
  if (auto* b = providers->mutable_business_registry(); !b->url().empty()) {
    if (!b->has_cache_seconds()) b->set_cache_seconds(3600);
    if (!b->altinn_platform_access_token_file().empty()) {
      b->set_altinn_platform_access_token_file(
          Resolve(base_dir, b->altinn_platform_access_token_file()));
    }
    if (b->cache_seconds() < 0)
      return Invalid("providers.business_registry.cache_seconds",
                     "must be >= 0");
  }
  if (auto* a = providers->mutable_altinn(); !a->url().empty()) {
    if (a->resource_id().empty())
      return Invalid("providers.altinn.resource_id", "required");
    if (providers->maskinporten().token_url().empty())
      return Invalid("providers.maskinporten.token_url",
                     "required for providers.altinn");
    if (a->language().empty()) a->set_language("nb");
    if (a->language() != "nb" && a->language() != "nn" && a->language() != "en")
      return Invalid("providers.altinn.language", "must be nb, nn or en");
  }

  auto* retry = c.mutable_retry();
  if (retry->initial_delay_seconds() == 0) retry->set_initial_delay_seconds(20);
  if (retry->multiplier() == 0) retry->set_multiplier(3);
  if (retry->max_delay_seconds() == 0) retry->set_max_delay_seconds(3600);
  if (retry->initial_delay_seconds() < 0)
    return Invalid("retry.initial_delay_seconds", "must be > 0");
  if (retry->multiplier() < 1)
    return Invalid("retry.multiplier", "must be >= 1");
  if (retry->max_delay_seconds() < retry->initial_delay_seconds())
    return Invalid("retry.max_delay_seconds",
                   "must be >= retry.initial_delay_seconds");
  if (retry->delays_seconds_size() == 0) {
    dispatch::BackoffOptions b;
    b.initial_delay_seconds = retry->initial_delay_seconds();
    b.multiplier = retry->multiplier();
    b.max_delay_seconds = retry->max_delay_seconds();
    for (int d : dispatch::BackoffDelays(b)) retry->add_delays_seconds(d);
  }
  for (int i = 0; i < retry->delays_seconds_size(); ++i) {
    if (retry->delays_seconds(i) <= 0) {
      return Invalid(absl::StrCat("retry.delays_seconds[", i, "]"),
                     "must be > 0");
    }
  }
  if (retry->max_attempts() == 0) retry->set_max_attempts(6);
  if (retry->max_attempts() < 1)
    return Invalid("retry.max_attempts", "must be > 0");
  RETURN_IF_ERROR(ApplyPrintDefaults(c, base_dir));

  auto* dispatch = c.mutable_dispatch();
  if (dispatch->digipost_providers_size() == 0)
    dispatch->add_digipost_providers("984661185");
  if (dispatch->dpi_providers_size() == 0)
    dispatch->add_dpi_providers("922020175");
  if (dispatch->event_poll_interval_seconds() == 0)
    dispatch->set_event_poll_interval_seconds(10);
  if (dispatch->event_poll_interval_seconds() < 0)
    return Invalid("dispatch.event_poll_interval_seconds", "must be > 0");
  if (dispatch->timer_scan_interval_ms() == 0)
    dispatch->set_timer_scan_interval_ms(1000);
  if (dispatch->timer_scan_interval_ms() < 0)
    return Invalid("dispatch.timer_scan_interval_ms", "must be > 0");
  if (dispatch->stuck_after_seconds() == 0) {
    int longest = 0;
    for (int d : retry->delays_seconds()) longest = std::max(longest, d);
    dispatch->set_stuck_after_seconds(std::max(600, 3 * longest));
  }
  if (dispatch->stuck_after_seconds() < -1)
    return Invalid("dispatch.stuck_after_seconds", "must be -1 or more");

  // Operations (#5).
  auto* obs = c.mutable_observability();
  if (obs->log_format().empty()) obs->set_log_format("json");
  if (obs->log_format() != "json" && obs->log_format() != "text") {
    return Invalid("observability.log_format", "must be json or text");
  }
  for (const auto& [setting, listen] :
       {std::pair<std::string, std::string>{"observability.metrics_listen",
                                            obs->metrics_listen()},
        {"observability.health_listen", obs->health_listen()}}) {
    if (!listen.empty() && listen.rfind(':') == std::string::npos) {
      return Invalid(setting, "must be host:port");
    }
  }
  if (obs->shutdown_grace_seconds() == 0) obs->set_shutdown_grace_seconds(20);
  if (obs->shutdown_grace_seconds() < 1 ||
      obs->shutdown_grace_seconds() > 600) {
    return Invalid("observability.shutdown_grace_seconds", "must be 1..600");
  }
  if (obs->server_read_timeout_ms() == 0) obs->set_server_read_timeout_ms(2000);
  if (obs->server_read_timeout_ms() < 100 ||
      obs->server_read_timeout_ms() > 600000) {
    return Invalid("observability.server_read_timeout_ms",
                   "must be 100..600000");
  }
  if (obs->server_write_timeout_ms() == 0) {
    obs->set_server_write_timeout_ms(2000);
  }
  if (obs->server_write_timeout_ms() < 100 ||
      obs->server_write_timeout_ms() > 600000) {
    return Invalid("observability.server_write_timeout_ms",
                   "must be 100..600000");
  }
  if (obs->metrics_max_connections() == 0) obs->set_metrics_max_connections(64);
  if (obs->metrics_max_connections() < 1 ||
      obs->metrics_max_connections() > 10000) {
    return Invalid("observability.metrics_max_connections", "must be 1..10000");
  }
  if (obs->health_max_concurrent_streams() == 0) {
    obs->set_health_max_concurrent_streams(16);
  }
  if (obs->health_max_concurrent_streams() < 1 ||
      obs->health_max_concurrent_streams() > 1000) {
    return Invalid("observability.health_max_concurrent_streams",
                   "must be 1..1000");
  }
  if (obs->health_max_connection_idle_seconds() == 0) {
    obs->set_health_max_connection_idle_seconds(60);
  }
  if (obs->health_max_connection_idle_seconds() < 1 ||
      obs->health_max_connection_idle_seconds() > 86400) {
    return Invalid("observability.health_max_connection_idle_seconds",
                   "must be 1..86400");
  }

  // Statistics and cost (#14). The bound keeps a run's sum far from
  // overflow (1000 letters x 1000 sheets x the largest price).
  if (c.has_pricing()) {
    auto* pricing = c.mutable_pricing();
    if (pricing->currency().empty()) pricing->set_currency("NOK");
    const std::string& currency = pricing->currency();
    if (currency.size() != 3 ||
        !std::all_of(currency.begin(), currency.end(),
                     [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
      return Invalid("pricing.currency",
                     "must be an ISO 4217 code (three capital letters)");
    }
    constexpr int64_t kMaxPrice = int64_t{1} << 40;
    for (const auto& [setting, price] :
         {std::pair<const char*, int64_t>{"pricing.digital_per_letter",
                                          pricing->digital_per_letter()},
          {"pricing.dpi_per_letter", pricing->dpi_per_letter()},
          {"pricing.altinn_per_letter", pricing->altinn_per_letter()},
          {"pricing.print_per_letter", pricing->print_per_letter()},
          {"pricing.print_per_sheet", pricing->print_per_sheet()},
          {"pricing.postage_b", pricing->postage_b()},
          {"pricing.postage_a", pricing->postage_a()}}) {
      if (price < 0) return Invalid(setting, "must be >= 0");
      if (price > kMaxPrice) {
        return Invalid(setting, "must be at most 2^40 (minor units)");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Config> ParseConfig(const std::string& yaml,
                                       const std::string& base_dir) {
  v1::Config config;
  RETURN_IF_ERROR(YamlToProto(yaml, "config", &config));
  RETURN_IF_ERROR(ApplyDefaultsAndValidate(config, base_dir));
  return config;
}

absl::StatusOr<v1::Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read configuration file ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string dir;
  if (auto slash = path.rfind('/'); slash != std::string::npos) {
    dir = path.substr(0, slash);
  } else {
    dir = ".";
  }
  return ParseConfig(ss.str(), dir);
}

}  // namespace utpost::config
