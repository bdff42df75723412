#include "gateway/settings.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "adapters/adapter_registry.h"
#include "common/status_macros.h"
#include "gateway/dispatch/dispatcher.h"

namespace utpost::gateway {

absl::StatusOr<std::string> ReadSettingFile(const std::string& path,
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

inspect::SandboxOptions SandboxOptionsOf(const config::v1::Config& config) {
  const config::v1::Documents& d = config.documents();
  inspect::SandboxOptions o;
  o.worker_path = d.inspector_path();
  o.workers = d.inspector_workers();
  o.max_queued = d.inspector_queue();
  o.deadline = std::chrono::seconds(d.inspection_timeout_seconds());
  o.memory_bytes = d.inspector_memory_bytes();
  o.cpu_seconds = d.inspector_cpu_seconds();
  o.letters_per_worker = d.inspector_letters_per_worker();
  // The whole letter and its file names in one request frame, sent along
  // or uploaded ahead.
  o.max_request_bytes = std::max(config.limits().max_letter_bytes(),
                                 config.limits().max_upload_bytes()) +
                        (int64_t{1} << 20);
  o.limits.max_pages = d.max_pages();
  o.limits.max_page_tree_depth = d.max_page_tree_depth();
  o.limits.max_decoded_bytes = d.max_decoded_bytes();
  return o;
}

}  // namespace utpost::gateway
