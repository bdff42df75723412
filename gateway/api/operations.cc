#include "gateway/api/operations.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "gateway/api/letter_ids.h"
#include "gateway/api/letter_service.h"
#include "gateway/api/letter_view.h"
#include "gateway/store/lifecycle.h"
#include "spdlog/spdlog.h"
#include "utpost/internal/v1/work_item.pb.h"

namespace utpost::api {
namespace {

using v1::Letter;

constexpr auto& kDeliverPrefix = store::lifecycle::kDeliverStagePrefix;
constexpr int kMaxPageSize = 1000;
// Parked copies looked at by one prune (one broker round trip and one store
// read each); what is beyond is looked at by the next re-drive.
constexpr int64_t kMaxParkedCopiesLooked = 10000;

// States a letter may rest in for good. DELIVERED counts: it is in the
// mailbox, and whether it is ever read is the recipient's business.
using store::lifecycle::IsFinal;

int64_t ToMillis(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

bool IsOrganisationNumber(const std::string& s) {
  return s.size() == 9 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
           return std::isdigit(c) != 0;
         });
}

v1::Status::GroupCount* GroupFor(
    std::map<std::string, v1::Status::GroupCount>& groups,
    const std::string& key) {
  v1::Status::GroupCount& g = groups[key];
  g.set_key(key);
  return &g;
}

void AddState(v1::Status::GroupCount* g, Letter::State state, int64_t n) {
  for (auto& sc : *g->mutable_states()) {
    if (sc.state() == state) {
      sc.set_count(sc.count() + n);
      g->set_total(g->total() + n);
      return;
    }
  }
  auto* sc = g->add_states();
  sc->set_state(state);
  sc->set_count(n);
  g->set_total(g->total() + n);
}

}  // namespace

std::map<std::string, store::ProviderStatsRecord> SumProviderStats(
    const std::vector<store::ProviderStatsRecord>& rows) {
  std::map<std::string, store::ProviderStatsRecord> out;
  for (const auto& r : rows) {
    store::ProviderStatsRecord& sum = out[r.channel];
    if (sum.channel.empty()) {
      sum.channel = r.channel;
      sum.window_start_ms = r.window_start_ms;
    }
    sum.window_start_ms = std::min(sum.window_start_ms, r.window_start_ms);
    sum.window_end_ms = std::max(sum.window_end_ms, r.window_end_ms);
    sum.sends += r.sends;
    sum.errors += r.errors;
    sum.latency_sum_us += r.latency_sum_us;
    sum.latency_max_us = std::max(sum.latency_max_us, r.latency_max_us);
    // Rows come oldest first: the last error seen wins.
    if (!r.last_error.empty()) sum.last_error = r.last_error;
  }
  return out;
}

Operations::Operations(store::Store* store, std::unique_ptr<queue::Admin> admin,
                       OperationsOptions options)
    : store_(store),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : RealClock()),
      admin_(std::move(admin)) {
  for (const auto& stage : options_.topology.stages) {
    if (absl::StartsWith(stage, kDeliverPrefix)) {
      channels_.push_back(stage.substr(sizeof(kDeliverPrefix) - 1));
    }
  }
}

absl::Status Operations::CheckChannel(const std::string& channel,
                                      const std::string& field) const {
  if (std::find(channels_.begin(), channels_.end(), channel) !=
      channels_.end()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": unknown channel \"", channel,
                   "\"; known: ", absl::StrJoin(channels_, ", ")));
}

absl::StatusOr<v1::Status> Operations::GetStatus() {
  v1::Status out;
  const int64_t now = clock_->NowMillis();
  ASSIGN_OR_RETURN(std::vector<store::LetterGroupCount> groups,
                   store_->CountLetterGroups());
  std::map<Letter::State, std::pair<int64_t, int64_t>> by_state;  // n, oldest
  std::map<std::string, v1::Status::GroupCount> tenants, channels;
  for (const auto& g : groups) {
    auto [it, fresh] = by_state.try_emplace(
        g.state, std::make_pair(int64_t{0}, g.oldest_update_time_ms));
    it->second.first += g.count;
    it->second.second = std::min(it->second.second, g.oldest_update_time_ms);
    AddState(GroupFor(tenants, g.tenant), g.state, g.count);
    AddState(GroupFor(channels, g.channel), g.state, g.count);
  }
  for (const auto& [state, n_oldest] : by_state) {
    auto* sc = out.add_letters();
    sc->set_state(state);
    sc->set_count(n_oldest.first);
    if (state == Letter::PARKED) out.set_parked(n_oldest.first);
    if (IsFinal(state)) continue;
    auto* w = out.add_waiting();
    w->set_state(state);
    w->set_count(n_oldest.first);
    w->set_oldest_age_seconds(std::max<int64_t>(0, now - n_oldest.second) /
                              1000.0);
    SetTimestamp(n_oldest.second, w->mutable_oldest_update_time());
  }
  for (auto& [key, g] : tenants) {
    if (auto it = options_.tenant_names.find(key);
        it != options_.tenant_names.end()) {
      g.set_name(it->second);
    }
    *out.add_tenants() = std::move(g);
  }
  for (auto& [key, g] : channels) *out.add_channels() = std::move(g);

  ASSIGN_OR_RETURN(store::OutboxLag lag, store_->GetOutboxLag());
  out.set_outbox_pending(lag.pending);
  if (lag.pending > 0) {
    out.set_outbox_oldest_pending_seconds(
        std::max<int64_t>(0, now - lag.oldest_pending_ms) / 1000.0);
  }

  {
    std::lock_guard<std::mutex> lock(admin_mu_);
    if (admin_ == nullptr) {
      out.set_broker_error("no broker connection configured");
    } else {
      auto stats = admin_->Stats(options_.topology);
      if (stats.ok()) {
        for (const auto& q : *stats) {
          auto* d = out.add_queues();
          d->set_queue(q.queue);
          d->set_messages(q.messages);
          d->set_consumers(q.consumers);
        }
      } else {
        out.set_broker_error(std::string(stats.status().message()));
      }
    }
  }

  const int64_t window_ms = absl::ToInt64Milliseconds(options_.provider_window);
  ASSIGN_OR_RETURN(std::vector<store::ProviderStatsRecord> rows,
                   store_->ProviderStatsSince(now - window_ms));
  auto sums = SumProviderStats(rows);
  std::set<std::string> provider_channels(channels_.begin(), channels_.end());
  for (const auto& [channel, r] : sums) provider_channels.insert(channel);
  for (const auto& channel : provider_channels) {
    auto* p = out.add_providers();
    p->set_channel(channel);
    p->set_window_seconds(window_ms / 1000);
    auto it = sums.find(channel);
    if (it == sums.end()) continue;
    const auto& r = it->second;
    p->set_sends(r.sends);
    p->set_errors(r.errors);
    if (r.sends > 0) {
      p->set_error_rate(static_cast<double>(r.errors) / r.sends);
      p->set_mean_latency_ms(r.latency_sum_us / 1000.0 / r.sends);
    }
    p->set_max_latency_ms(r.latency_max_us / 1000.0);
    p->set_last_error(r.last_error);
  }

  ASSIGN_OR_RETURN(std::vector<store::PausedChannelRecord> paused,
                   store_->PausedChannels());
  for (const auto& p : paused) {
    auto* pc = out.add_paused_channels();
    pc->set_channel(p.channel);
    pc->set_paused_by(p.paused_by);
    SetTimestamp(p.since_ms, pc->mutable_since());
  }

  for (const auto& file : options_.certificates) {
    auto* c = out.add_certificates();
    c->set_setting(file.setting);
    c->set_file(file.path);
    auto expiry = config::EarliestExpiry(file.path);
    if (!expiry.ok()) {
      c->set_error(std::string(expiry.status().message()));
      continue;
    }
    c->set_subject(expiry->subject);
    SetTimestamp(expiry->not_after_ms, c->mutable_not_after());
    const double days = (expiry->not_after_ms - now) / 86400000.0;
    c->set_days_left(days);
    c->set_expiring(expiry->not_after_ms - now <
                    absl::ToInt64Milliseconds(options_.expiry_warning));
  }
  return out;
}

absl::StatusOr<v1::OpsListLettersResponse> Operations::ListLetters(
    const v1::OpsListLettersRequest& r) {
  if (r.page_size() < 0 || r.page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError("page_size: must be between 0 and 1000");
  }
  if (!Letter::State_IsValid(r.state())) {
    return absl::InvalidArgumentError("state: unknown state");
  }
  if (!r.tenant().empty() && !IsOrganisationNumber(r.tenant())) {
    return absl::InvalidArgumentError(
        "tenant: expected a 9-digit organisation number");
  }
  if (!r.channel().empty())
    RETURN_IF_ERROR(CheckChannel(r.channel(), "channel"));
  if (!r.id_prefix().empty() && !IsLetterIdPrefix(r.id_prefix())) {
    return absl::InvalidArgumentError(
        "id_prefix: expected up to 36 lowercase hex digits and dashes");
  }
  store::OpsListFilter f;
  f.tenant = r.tenant();
  f.id_prefix = r.id_prefix();
  f.state = r.state();
  f.channel = r.channel();
  f.client_reference = r.client_reference();
  f.reason_contains = r.reason_contains();
  if (r.has_created_before()) {
    f.created_before_ms = ToMillis(r.created_before());
    if (f.created_before_ms <= 0) {
      return absl::InvalidArgumentError(
          "created_before: must be after the Unix epoch");
    }
  }
  if (r.has_created_after()) {
    f.created_after_ms = ToMillis(r.created_after());
    if (f.created_after_ms <= 0) {
      return absl::InvalidArgumentError(
          "created_after: must be after the Unix epoch");
    }
  }
  if (f.created_before_ms > 0 && f.created_after_ms > 0 &&
      f.created_after_ms >= f.created_before_ms) {
    return absl::InvalidArgumentError(
        "created_after: must be earlier than created_before");
  }
  f.page_size = r.page_size() == 0 ? 100 : r.page_size();
  f.page_token = r.page_token();
  auto page = store_->ListLettersForOps(f);
  if (absl::IsInvalidArgument(page.status())) {
    return absl::InvalidArgumentError("page_token: not a token of this list");
  }
  RETURN_IF_ERROR(page.status());
  v1::OpsListLettersResponse out;
  for (const auto& l : page->letters) {
    auto* ol = out.add_letters();
    *ol->mutable_letter() = ToApiLetter(l);
    ol->set_tenant(l.tenant);
  }
  out.set_next_page_token(page->next_page_token);
  return out;
}

absl::StatusOr<v1::OpsLetter> Operations::FullLetter(const std::string& id) {
  ASSIGN_OR_RETURN(store::LetterRecord letter, store_->GetLetter(id, ""));
  ASSIGN_OR_RETURN(std::vector<store::ReceiptRecord> receipts,
                   store_->GetReceipts(id, ""));
  ASSIGN_OR_RETURN(std::vector<store::FailedAttemptRecord> attempts,
                   store_->GetFailedAttempts(id));
  v1::OpsLetter out;
  *out.mutable_letter() = ToApiLetter(letter, receipts);
  out.set_tenant(letter.tenant);
  for (const auto& a : attempts) {
    auto* f = out.add_failed_attempts();
    f->set_stage(a.stage);
    f->set_attempt(a.attempt);
    SetTimestamp(a.time_ms, f->mutable_time());
    f->set_error(a.error);
    f->set_parked(a.parked);
  }
  return out;
}

absl::StatusOr<v1::OpsLetter> Operations::GetLetter(const std::string& name) {
  ASSIGN_OR_RETURN(std::string id, LetterIdFromName(name, "name"));
  return FullLetter(id);
}

absl::Status Operations::RedriveOne(const store::LetterRecord& letter,
                                    const std::string& operator_cn) {
  // A letter parks in the stage it was in: routing until it has a channel,
  // then delivery at that channel.
  const bool routing = letter.channel.empty();
  const std::string stage =
      store::lifecycle::StageOf(letter.state, letter.channel);
  store::OutboxMessage work = store::lifecycle::WorkItem(
      options_.topology.WorkExchange(), letter.id, stage, 0, "", letter.bulk);

  store::Transition t;
  t.from = {Letter::PARKED};
  t.to = routing ? Letter::QUEUED : Letter::ROUTED;
  t.reason = absl::StrCat("redriven by operator ", operator_cn);
  t.outbox.push_back(std::move(work));
  auto done = store_->ApplyTransition(letter.id, t);
  if (!done.ok()) return done.status();
  spdlog::info("letter {} redriven to {} by operator {}", letter.id, stage,
               operator_cn);
  return absl::OkStatus();
}

absl::StatusOr<v1::RedriveLettersResponse> Operations::Redrive(
    const v1::RedriveLettersRequest& request, const std::string& operator_cn) {
  v1::RedriveLettersResponse out;
  using Target = v1::RedriveLettersRequest::TargetCase;
  if (request.target_case() == Target::kName) {
    ASSIGN_OR_RETURN(std::string id, LetterIdFromName(request.name(), "name"));
    ASSIGN_OR_RETURN(store::LetterRecord letter, store_->GetLetter(id, ""));
    if (letter.state != Letter::PARKED) {
      return absl::FailedPreconditionError(
          absl::StrCat("letter ", id, " is ", Letter::State_Name(letter.state),
                       "; only PARKED letters can be redriven"));
    }
    absl::Status s = RedriveOne(letter, operator_cn);
    if (absl::IsFailedPrecondition(s)) {
      return absl::FailedPreconditionError(
          absl::StrCat("letter ", id, " is no longer PARKED"));
    }
    RETURN_IF_ERROR(s);
    out.add_letter_ids(id);
    out.set_redriven(1);
    if (options_.on_change) options_.on_change();
    PruneParkedCopies();
    return out;
  }

  store::OpsListFilter f;
  f.state = Letter::PARKED;
  f.page_size = kMaxPageSize;
  if (request.target_case() == Target::kFilter) {
    const v1::RedriveFilter& rf = request.filter();
    if (rf.tenant().empty() && rf.channel().empty() &&
        rf.reason_contains().empty()) {
      return absl::InvalidArgumentError(
          "filter: set at least one of tenant, channel, reason_contains "
          "(or use all)");
    }
    if (!rf.tenant().empty() && !IsOrganisationNumber(rf.tenant())) {
      return absl::InvalidArgumentError(
          "filter.tenant: expected a 9-digit organisation number");
    }
    if (!rf.channel().empty()) {
      RETURN_IF_ERROR(CheckChannel(rf.channel(), "filter.channel"));
    }
    f.tenant = rf.tenant();
    f.channel = rf.channel();
    f.reason_contains = rf.reason_contains();
  } else if (request.target_case() == Target::kAll) {
    if (!request.all()) {
      return absl::InvalidArgumentError("all: must be true when given");
    }
  } else {
    return absl::InvalidArgumentError(
        "target: give one of name, filter or all");
  }

  // Collected first: redriven letters leave PARKED, which would shift pages.
  std::vector<store::LetterRecord> parked;
  while (true) {
    ASSIGN_OR_RETURN(store::LetterPage page, store_->ListLettersForOps(f));
    for (auto& l : page.letters) parked.push_back(std::move(l));
    if (page.next_page_token.empty()) break;
    f.page_token = page.next_page_token;
  }
  for (const auto& letter : parked) {
    absl::Status s = RedriveOne(letter, operator_cn);
    // Moved on meanwhile (another operator): not ours to count.
    if (absl::IsFailedPrecondition(s)) continue;
    if (!s.ok()) {
      if (out.redriven() > 0 && options_.on_change) options_.on_change();
      return absl::Status(s.code(),
                          absl::StrCat(s.message(), " (after ", out.redriven(),
                                       " letters were redriven)"));
    }
    out.add_letter_ids(letter.id);
    out.set_redriven(out.redriven() + 1);
  }
  if (out.redriven() > 0) {
    if (options_.on_change) options_.on_change();
    PruneParkedCopies();
  }
  return out;
}

void Operations::PruneParkedCopies() {
  std::lock_guard<std::mutex> lock(admin_mu_);
  if (admin_ == nullptr) return;
  const std::string queue = options_.topology.ParkedQueue();
  absl::flat_hash_set<std::string> kept;
  auto pruned = admin_->Prune(
      queue,
      [&](const std::string& body) {
        internal::v1::WorkItem item;
        if (!item.ParseFromString(body) || item.letter_id().empty()) {
          return false;  // Not Utpost's: left for whoever put it there.
        }
        auto letter = store_->GetLetter(item.letter_id(), "");
        if (!letter.ok()) return absl::IsNotFound(letter.status());
        return letter->state != Letter::PARKED ||
               !kept.insert(item.letter_id()).second;
      },
      kMaxParkedCopiesLooked);
  if (!pruned.ok()) {
    spdlog::warn("{}: copies of redriven letters not removed: {}", queue,
                 pruned.status().ToString());
  } else if (*pruned > 0) {
    spdlog::info("{}: removed {} copies of letters no longer parked", queue,
                 *pruned);
  }
}

absl::StatusOr<v1::ChannelState> Operations::SetPaused(
    const std::string& channel, bool paused, const std::string& operator_cn) {
  RETURN_IF_ERROR(CheckChannel(channel, "channel"));
  RETURN_IF_ERROR(store_->SetChannelPaused(channel, paused, operator_cn));
  spdlog::info("channel {} {} by operator {}", channel,
               paused ? "paused" : "resumed", operator_cn);
  ASSIGN_OR_RETURN(std::vector<store::PausedChannelRecord> all,
                   store_->PausedChannels());
  v1::ChannelState out;
  out.set_channel(channel);
  for (const auto& p : all) {
    if (p.channel != channel) continue;
    out.set_paused(true);
    out.set_paused_by(p.paused_by);
    SetTimestamp(p.since_ms, out.mutable_since());
  }
  return out;
}

absl::StatusOr<v1::OpsLetter> Operations::Cancel(
    const std::string& name, const std::string& operator_cn) {
  ASSIGN_OR_RETURN(std::string id, LetterIdFromName(name, "name"));
  ASSIGN_OR_RETURN(store::LetterRecord before, store_->GetLetter(id, ""));
  store::Transition t;
  t.from = {Letter::RECEIVED, Letter::QUEUED, Letter::ROUTED};
  t.to = Letter::CANCELLED;
  t.reason = absl::StrCat("cancelled by operator ", operator_cn);
  t.unless_handing_off = true;
  auto updated = store_->ApplyTransition(id, t);
  if (absl::IsFailedPrecondition(updated.status())) {
    auto now = store_->GetLetter(id, "");
    return absl::FailedPreconditionError(absl::StrCat(
        "letter is ", Letter::State_Name(now.ok() ? now->state : before.state),
        "; only letters not yet handed to a provider can be cancelled"));
  }
  RETURN_IF_ERROR(updated.status());
  spdlog::info("letter {} of tenant {} cancelled by operator {}", id,
               before.tenant, operator_cn);
  if (options_.on_change) options_.on_change();
  return FullLetter(id);
}

}  // namespace utpost::api
