#include "sim/faults.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace utpost::sim {
namespace {

using nlohmann::json;

constexpr int64_t kMaxDelayMs = 10 * 60 * 1000;

bool ValidEndpointName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-' &&
        c != '_') {
      return false;
    }
  }
  return true;
}

}  // namespace

FaultModel::FaultModel() : random_(std::random_device{}()) {}

absl::Status FaultModel::SetFromJson(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError("body: expected a JSON object");
  }
  std::string endpoint;
  if (auto it = j.find("endpoint"); it != j.end() && it->is_string()) {
    endpoint = it->get<std::string>();
  }
  if (!ValidEndpointName(endpoint)) {
    return absl::InvalidArgumentError(
        "endpoint: a name such as \"digipost\", \"print\", \"registry\"");
  }
  FaultSpec spec;
  absl::Status bad = absl::OkStatus();
  auto integer = [&](const char* key, int64_t fallback, int64_t lo,
                     int64_t hi) -> int64_t {
    auto it = j.find(key);
    if (it == j.end()) return fallback;
    if (!it->is_number_integer() || it->get<int64_t>() < lo ||
        it->get<int64_t>() > hi) {
      if (bad.ok()) {
        bad = absl::InvalidArgumentError(
            absl::StrCat(key, ": an integer from ", lo, " to ", hi));
      }
      return fallback;
    }
    return it->get<int64_t>();
  };
  auto boolean = [&](const char* key) {
    auto it = j.find(key);
    if (it == j.end()) return false;
    if (!it->is_boolean()) {
      if (bad.ok())
        bad = absl::InvalidArgumentError(absl::StrCat(key, ": true or false"));
      return false;
    }
    return it->get<bool>();
  };
  auto text = [&](const char* key) -> std::string {
    auto it = j.find(key);
    if (it == j.end()) return "";
    if (!it->is_string()) {
      if (bad.ok())
        bad = absl::InvalidArgumentError(absl::StrCat(key, ": a string"));
      return "";
    }
    return it->get<std::string>();
  };
  spec.status = static_cast<int>(integer("status", 503, 0, 599));
  if (spec.status != 0 && spec.status < 100 && bad.ok()) {
    bad = absl::InvalidArgumentError("status: 0 or 100-599");
  }
  spec.count = static_cast<int>(integer("count", 1, -1, 1000000));
  spec.delay_ms = integer("delay_ms", 0, 0, kMaxDelayMs);
  spec.every_nth = static_cast<int>(integer("every_nth", 0, 0, 1000000));
  spec.timeout_ms = integer("timeout_ms", 0, 0, kMaxDelayMs);
  spec.late_ms = integer("late_ms", 0, 0, int64_t{24} * 3600 * 1000);
  if (auto it = j.find("error_rate"); it != j.end()) {
    if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 1) {
      if (bad.ok()) bad = absl::InvalidArgumentError("error_rate: 0 to 1");
    } else {
      spec.error_rate = it->get<double>();
    }
  }
  spec.drop = boolean("drop");
  spec.duplicate_events = boolean("duplicate");
  spec.out_of_order = boolean("out_of_order");
  spec.error_code = text("error_code");
  spec.error_type = text("error_type");
  spec.match = text("match");
  if (boolean("timeout") && spec.timeout_ms == 0) spec.timeout_ms = 120000;
  // A disturbed feed alone fails no request and lasts until cleared.
  if (spec.duplicate_events || spec.late_ms > 0 || spec.out_of_order) {
    if (!j.contains("status")) spec.status = 0;
    if (!j.contains("count")) spec.count = -1;
  }
  if (!bad.ok()) return bad;
  if (spec.count == 0) {
    absl::MutexLock lock(&mu_);
    faults_.erase(endpoint);
    return absl::OkStatus();
  }
  Set(endpoint, spec);
  return absl::OkStatus();
}

void FaultModel::Set(const std::string& endpoint, const FaultSpec& spec) {
  absl::MutexLock lock(&mu_);
  faults_[endpoint] = State{spec, 0};
}

void FaultModel::Clear() {
  absl::MutexLock lock(&mu_);
  faults_.clear();
}

FaultDecision FaultModel::OnRequest(const std::string& endpoint,
                                    std::string_view subject) {
  FaultDecision d;
  absl::MutexLock lock(&mu_);
  auto it = faults_.find(endpoint);
  if (it == faults_.end()) return d;
  State& state = it->second;
  const FaultSpec& spec = state.spec;
  if (!spec.match.empty() &&
      subject.find(spec.match) == std::string_view::npos) {
    return d;  // Not a request this fault is about.
  }
  ++state.seen;
  // Feed-only faults leave the requests alone.
  const bool acts_on_requests =
      spec.status != 0 || spec.delay_ms > 0 || spec.timeout_ms > 0 || spec.drop;
  if (!acts_on_requests) return d;
  bool hit = true;
  if (spec.every_nth > 0) {
    hit = state.seen % spec.every_nth == 0;
  } else if (spec.error_rate > 0) {
    hit =
        std::uniform_real_distribution<double>(0, 1)(random_) < spec.error_rate;
  }
  d.delay_ms = spec.delay_ms;
  if (hit) {
    if (spec.drop) {
      d.action = FaultDecision::Action::kDrop;
    } else if (spec.timeout_ms > 0) {
      d.action = FaultDecision::Action::kTimeout;
      d.timeout_ms = spec.timeout_ms;
    } else if (spec.status != 0) {
      d.action = FaultDecision::Action::kFail;
      d.status = spec.status;
      d.error_code = spec.error_code;
      d.error_type = spec.error_type;
    }
  }
  if (d.action != FaultDecision::Action::kNone) ++injected_[endpoint];
  // A probabilistic or every-k-th fault counts what it injected; a plain
  // one every request it touched.
  if ((hit || (spec.every_nth == 0 && spec.error_rate == 0)) &&
      spec.count > 0 && --state.spec.count == 0) {
    faults_.erase(it);
  }
  return d;
}

absl::flat_hash_map<std::string, int64_t> FaultModel::Injected() {
  absl::MutexLock lock(&mu_);
  return injected_;
}

void FaultModel::Reset() {
  absl::MutexLock lock(&mu_);
  faults_.clear();
  injected_.clear();
}

EventFaults FaultModel::EventsOf(const std::string& endpoint) {
  absl::MutexLock lock(&mu_);
  auto it = faults_.find(endpoint);
  if (it == faults_.end()) return {};
  const FaultSpec& spec = it->second.spec;
  return {spec.duplicate_events, spec.late_ms, spec.out_of_order};
}

}  // namespace utpost::sim
