// The plain options the daemon's parts take, derived from the validated
// configuration (config_loader.h has filled in the defaults). Pure
// functions; the only ones that read files say so.
#ifndef UTPOST_GATEWAY_SETTINGS_H_
#define UTPOST_GATEWAY_SETTINGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/api/caller.h"
#include "gateway/inspect/sandboxed_inspector.h"
#include "gateway/receipts/jws_receipt_signer.h"
#include "queue/amqp_broker.h"
#include "queue/queue.h"
#include "utpost/config/v1/config.pb.h"

namespace utpost::gateway {

// The contents of `path`; INVALID_ARGUMENT naming `setting` if unreadable.
absl::StatusOr<std::string> ReadSettingFile(const std::string& path,
                                            const std::string& setting);

// The channels this gateway delivers through, by routing name (see
// gateway/dispatch/routing.h), each with the name of the adapter serving
// it: those whose adapters' options are set (adapters/adapter_registry.h).
absl::StatusOr<std::map<std::string, std::string>> ConfiguredChannels(
    const config::v1::Config& c);

// Exchanges, queues and retry delays for the configured channels.
absl::StatusOr<queue::Topology> TopologyOf(const config::v1::Config& c);

// The broker connection settings, the connection named `name` (shown in
// the broker's management view).
queue::BrokerOptions BrokerOptionsOf(const config::v1::Config& c,
                                     const std::string& name);

// Which tenants and operators may call.
api::AccessPolicy AccessOf(const config::v1::Config& c);

// The configured receipt-signing keys: `receipts.key_file` (from the start)
// and `receipts.keys` (each from its `not_before`). The loader has checked
// the times.
std::vector<receipts::JwsSignerOptions> SignerKeysOf(
    const config::v1::Config& c);

// The document policy and the inspection sandbox from `documents`.
inspect::SandboxOptions SandboxOptionsOf(const config::v1::Config& config);

}  // namespace utpost::gateway

#endif  // UTPOST_GATEWAY_SETTINGS_H_
