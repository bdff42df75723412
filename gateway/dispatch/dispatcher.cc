#include "gateway/dispatch/dispatcher.h"

#include <algorithm>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging/logging.h"
#include "common/mask.h"
#include "common/status_macros.h"
#include "gateway/dispatch/backoff.h"
#include "gateway/store/lifecycle.h"
#include "spdlog/spdlog.h"
#include "utpost/internal/v1/work_item.pb.h"

namespace utpost::dispatch {
namespace {

using v1::Letter;
using Mode = v1::DeliveryPolicy;
using Kind = adapters::ProviderEvent::Kind;

// Stages are named in one place: gateway/store/lifecycle.h.
constexpr auto& kRoute = store::lifecycle::kRouteStage;
constexpr auto& kDeliverPrefix = store::lifecycle::kDeliverStagePrefix;
using store::lifecycle::DeliverStage;
using store::lifecycle::EntryStates;

Mode::Mode PolicyOf(const store::LetterRecord& l) {
  auto m = l.spec.delivery_policy().mode();
  return m == v1::DeliveryPolicy::MODE_UNSPECIFIED
             ? v1::DeliveryPolicy::DIGITAL_THEN_PRINT
             : m;
}

int64_t DurationMillis(const google::protobuf::Duration& d) {
  return d.seconds() * 1000 + d.nanos() / 1000000;
}

int64_t TimestampMillis(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

adapters::PostalAddress ToAddress(const v1::PostalAddress& a) {
  adapters::PostalAddress out;
  out.name = a.name();
  out.lines.assign(a.address_lines().begin(), a.address_lines().end());
  out.postal_code = a.postal_code();
  out.city = a.city();
  out.country_code = a.country_code();
  return out;
}

// A transition that was already made by an earlier delivery of the same
// work item is not an error.
bool AlreadyDone(const absl::Status& s) {
  return absl::IsFailedPrecondition(s);
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kDelivered:
      return "DELIVERED";
    case Kind::kRead:
      return "READ";
    case Kind::kNotificationFailed:
      return "NOTIFICATION_FAILED";
    case Kind::kPrintReceived:
      return "PRINT_RECEIVED";
    case Kind::kPosted:
      return "POSTED";
    case Kind::kReturned:
      return "RETURNED";
    case Kind::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

// The kind a kept event was stored under (KindName); false for a name no
// kind has.
bool KindOfName(const std::string& name, Kind* kind) {
  for (Kind k :
       {Kind::kDelivered, Kind::kRead, Kind::kNotificationFailed,
        Kind::kPrintReceived, Kind::kPosted, Kind::kReturned, Kind::kFailed}) {
    if (name == KindName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

}  // namespace

Dispatcher::Dispatcher(store::Store* store, adapters::Registry* registry,
                       adapters::OrganisationRegistry* organisations,
                       std::map<std::string, adapters::Channel*> channels,
                       DispatcherOptions options,
                       std::function<void()> on_change)
    : store_(store),
      registry_(registry),
      organisations_(organisations),
      channels_(std::move(channels)),
      options_(std::move(options)),
      on_change_(std::move(on_change)) {}

Dispatcher::Dispatcher(store::Store* store, adapters::Registry* registry,
                       adapters::Channel* digital, adapters::Channel* print,
                       DispatcherOptions options,
                       std::function<void()> on_change)
    : Dispatcher(store, registry, nullptr,
                 {{kDigitalChannel, digital}, {kPrintChannel, print}},
                 std::move(options), std::move(on_change)) {}

std::vector<std::string> Dispatcher::StagesFor(
    const std::vector<std::string>& channel_names) {
  std::vector<std::string> stages = {kRoute};
  for (const auto& name : channel_names) stages.push_back(DeliverStage(name));
  return stages;
}

store::OutboxMessage Dispatcher::WorkFor(const std::string& letter_id,
                                         bool bulk, const std::string& stage,
                                         int attempt) const {
  // The trace of the item being handled (see Handle) goes on.
  const logging::Context* c = logging::CurrentContext();
  return store::lifecycle::WorkItem(options_.topology.WorkExchange(), letter_id,
                                    stage, attempt,
                                    c != nullptr ? c->trace_id : "", bulk);
}

absl::Status Dispatcher::Apply(const std::string& letter_id,
                               const store::Transition& t) {
  auto r = store_->ApplyTransition(letter_id, t);
  if (!r.ok()) return r.status();
  spdlog::info("letter {} -> {}{}{}", letter_id, Letter::State_Name(t.to),
               t.channel.empty() ? "" : " via ", t.channel);
  for (const auto& step : t.then) {
    spdlog::info("letter {} -> {}", letter_id, Letter::State_Name(step.to));
  }
  if (on_change_) on_change_();
  return absl::OkStatus();
}

Dispatcher::Prefetched Dispatcher::Prefetch(
    const std::vector<queue::Delivery>& batch) {
  Prefetched out;
  std::set<std::string> numbers;
  for (const queue::Delivery& d : batch) {
    internal::v1::WorkItem item;
    if (!item.ParseFromString(d.body) || item.stage() != kRoute) continue;
    auto letter = store_->GetLetter(item.letter_id(), "");
    if (letter.ok() && NeedsPersonLookup(*letter)) {
      numbers.insert(letter->spec.recipient().person());
    }
  }
  // One alone is looked up as usual.
  if (numbers.size() < 2) return out;
  std::vector<std::string> asked(numbers.begin(), numbers.end());
  auto contacts = registry_->LookupPersons(asked);
  if (!contacts.ok()) {
    spdlog::warn("registry: look-up of {} persons together failed: {}",
                 asked.size(), contacts.status().ToString());
    return out;
  }
  // One answer a number, in order (as for a single look-up); otherwise
  // matched by number.
  for (const std::string& n : asked) out.persons[n];
  if (contacts->size() == asked.size()) {
    for (size_t i = 0; i < asked.size(); ++i) {
      out.persons[asked[i]].push_back(std::move((*contacts)[i]));
    }
  } else {
    for (adapters::PersonContact& c : *contacts) {
      auto it = out.persons.find(c.person_number);
      if (it != out.persons.end()) it->second.push_back(std::move(c));
    }
  }
  spdlog::debug("registry: {} persons looked up together", asked.size());
  return out;
}

bool Dispatcher::NeedsPersonLookup(const store::LetterRecord& letter) const {
  if (letter.state != Letter::RECEIVED && letter.state != Letter::QUEUED) {
    return false;
  }
  if (letter.spec.has_not_before() &&
      TimestampMillis(letter.spec.not_before()) > options_.clock->NowMillis()) {
    return false;  // Held; looked up when due.
  }
  return PolicyOf(letter) != Mode::PRINT_ONLY &&
         !letter.spec.recipient().has_organisation() &&
         !letter.spec.recipient().person().empty();
}

queue::Disposition Dispatcher::Handle(const queue::Delivery& delivery,
                                      const Prefetched* prefetched) {
  internal::v1::WorkItem item;
  if (!item.ParseFromString(delivery.body) || item.letter_id().empty()) {
    // Not ours to retry: a malformed item would only come back.
    spdlog::error("dropping malformed work item from {}", delivery.queue);
    return queue::Disposition::kAck;
  }
  logging::ScopedContext log_context(
      {item.letter_id(), "", item.stage(), item.attempt(), item.trace_id()});
  auto letter = store_->GetLetter(item.letter_id(), "");
  if (absl::IsNotFound(letter.status())) {
    spdlog::error("work item for unknown letter {}", item.letter_id());
    return queue::Disposition::kAck;
  }
  if (!letter.ok()) {
    spdlog::warn("store unavailable, requeueing letter {}: {}",
                 item.letter_id(), letter.status().ToString());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return queue::Disposition::kRequeue;
  }
  logging::ScopedContext letter_context({item.letter_id(), letter->tenant,
                                         item.stage(), item.attempt(),
                                         item.trace_id()});
  absl::Status s;
  const std::string& stage = item.stage();
  if (stage == kRoute) {
    s = Route(*letter, item.attempt(), prefetched);
  } else if (stage.rfind(kDeliverPrefix, 0) == 0 &&
             channels_.count(stage.substr(sizeof(kDeliverPrefix) - 1)) > 0) {
    s = Deliver(*letter, stage.substr(sizeof(kDeliverPrefix) - 1),
                item.attempt());
  } else {
    spdlog::error("dropping work item with unknown stage {}", stage);
    return queue::Disposition::kAck;
  }
  if (s.ok() || AlreadyDone(s)) return queue::Disposition::kAck;
  // Only the store can fail here (provider errors are outcomes): try again.
  spdlog::warn("letter {}: outcome not stored, requeueing: {}",
               item.letter_id(), s.ToString());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return queue::Disposition::kRequeue;
}

absl::Status Dispatcher::Route(const store::LetterRecord& letter, int attempt,
                               const Prefetched* prefetched) {
  if (letter.state != Letter::RECEIVED && letter.state != Letter::QUEUED) {
    return absl::OkStatus();  // Routed before, or cancelled.
  }
  if (letter.state == Letter::RECEIVED) {
    // The broker delivered the item before the relay recorded its confirm;
    // it was queued all the same, and every timeline says so.
    store::Transition queued;
    queued.from = {Letter::RECEIVED};
    queued.to = Letter::QUEUED;
    auto s = store_->ApplyTransition(letter.id, queued);
    if (!s.ok() && !absl::IsFailedPrecondition(s.status())) return s.status();
  }
  // Scheduled delivery: held in QUEUED (still cancellable) under a timer
  // that brings the routing item back when due.
  if (letter.spec.has_not_before()) {
    const int64_t due = TimestampMillis(letter.spec.not_before());
    if (due > options_.clock->NowMillis()) {
      absl::Status s =
          store_->SetTimer({letter.id, kNotBeforeTimer, due}, {Letter::QUEUED});
      if (s.ok()) {
        spdlog::info("letter {} held until {}", letter.id, FormatRfc3339(due));
      }
      return s;
    }
  }
  const auto& recipient = letter.spec.recipient();
  RoutingInput in;
  in.mode = PolicyOf(letter);
  in.organisation = recipient.has_organisation();
  in.has_postal_address = recipient.has_postal_address();
  std::vector<adapters::PersonContact> persons;
  adapters::OrganisationContact org;
  const std::vector<adapters::PersonContact>* known = nullptr;
  if (prefetched != nullptr) {
    auto it = prefetched->persons.find(recipient.person());
    if (it != prefetched->persons.end()) known = &it->second;
  }
  if (in.mode != Mode::PRINT_ONLY && !in.organisation && known != nullptr) {
    persons = *known;
    if (!persons.empty()) in.person = &persons.front();
  } else if (in.mode != Mode::PRINT_ONLY && !in.organisation) {
    auto contacts = registry_->LookupPersons({recipient.person()});
    if (!contacts.ok()) {
      return RetryOrPark(
          letter, kRoute, attempt,
          absl::Status(
              contacts.status().code(),
              absl::StrCat("registry: ", contacts.status().message())));
    }
    persons = std::move(*contacts);
    if (!persons.empty()) in.person = &persons.front();
  } else if (in.organisation && organisations_ != nullptr &&
             (in.mode != Mode::PRINT_ONLY || !in.has_postal_address)) {
    auto found = organisations_->LookupOrganisation(recipient.organisation());
    if (!found.ok()) {
      return RetryOrPark(letter, kRoute, attempt,
                         absl::Status(found.status().code(),
                                      absl::StrCat("business registry: ",
                                                   found.status().message())));
    }
    org = std::move(*found);
    in.org = &org;
  }
  RoutingDecision d = DecideRoute(in, options_.routing);

  store::Transition t;
  t.from = {Letter::QUEUED};
  if (d.failed()) {
    t.to = Letter::FAILED;
    t.reason = MaskPersonNumbersIn(d.reason);
    return Apply(letter.id, t);
  }
  if (channels_.count(d.channel) == 0) {
    // Set-up, not the letter: wait (retries) and then park for an operator.
    return RetryOrPark(letter, kRoute, attempt,
                       absl::FailedPreconditionError(absl::StrCat(
                           "channel \"", d.channel, "\" is needed (", d.reason,
                           ") but not configured on this gateway")));
  }
  t.to = Letter::ROUTED;
  t.channel = d.channel;
  t.reason = d.reason;
  t.outbox.push_back(
      WorkFor(letter.id, letter.bulk, DeliverStage(d.channel), 0));
  return Apply(letter.id, t);
}

bool Dispatcher::CanPrint(const store::LetterRecord& letter) const {
  const auto& recipient = letter.spec.recipient();
  return channels_.count(kPrintChannel) > 0 &&
         PolicyOf(letter) == Mode::DIGITAL_THEN_PRINT &&
         (recipient.has_postal_address() ||
          (recipient.has_organisation() && organisations_ != nullptr));
}

store::Transition Dispatcher::FallbackOrFail(const store::LetterRecord& letter,
                                             std::vector<store::State> from,
                                             const std::string& why) const {
  store::Transition t;
  t.from = std::move(from);
  if (CanPrint(letter)) {
    t.to = Letter::ROUTED;
    t.channel = kPrintChannel;
    t.reason = absl::StrCat(why, "; falling back to print");
    t.outbox.push_back(
        WorkFor(letter.id, letter.bulk, DeliverStage(kPrintChannel), 0));
  } else {
    t.to = Letter::FAILED;
    t.reason = why;
  }
  t.clear_timers = {kPrintIfUnreadTimer};
  return t;
}

absl::Status Dispatcher::Deliver(const store::LetterRecord& letter,
                                 const std::string& channel_name, int attempt) {
  const std::string stage = DeliverStage(channel_name);
  const bool print = channel_name == kPrintChannel;
  if (letter.state != Letter::ROUTED || letter.channel != channel_name) {
    // Done before, cancelled, or re-routed. An item handed out again after
    // its hand-off was recorded (the worker died before acknowledging it)
    // finishes that hand-off's work: the events kept meanwhile.
    const store::State sent = print ? Letter::SENT_PRINT : Letter::SENT_DIGITAL;
    if (letter.state == sent && letter.channel == channel_name) {
      return ApplyKeptEvents(letter.id, channel_name);
    }
    return absl::OkStatus();
  }
  adapters::Channel* channel = channels_.at(channel_name);
  const auto& recipient = letter.spec.recipient();

  adapters::OutgoingLetter out;
  out.message_id = letter.id;
  out.tenant = letter.tenant;
  out.person_number = recipient.person();
  out.organisation_number = recipient.organisation();
  out.title = letter.spec.title();
  out.recipient_address = ToAddress(recipient.postal_address());
  if (print && !recipient.has_postal_address() &&
      recipient.has_organisation() && organisations_ != nullptr) {
    auto org = organisations_->LookupOrganisation(recipient.organisation());
    if (!org.ok()) {
      return RetryOrPark(letter, stage, attempt,
                         absl::Status(org.status().code(),
                                      absl::StrCat("business registry: ",
                                                   org.status().message())));
    }
    out.recipient_address = org->postal_address;
    if (out.recipient_address.name.empty()) {
      out.recipient_address.name = org->name;
    }
  }
  if (auto it = options_.return_addresses.find(letter.tenant);
      it != options_.return_addresses.end()) {
    out.return_address = it->second;
  }
  const auto& po = letter.spec.print_options();
  out.color = po.color() == v1::PrintOptions::COLORS;
  out.duplex = po.duplex();
  out.a_post = po.post_type() == v1::PrintOptions::A;
  out.shred_if_undeliverable = po.return_handling() == v1::PrintOptions::SHRED;

  auto documents = store_->GetDocuments(letter.id);
  if (!documents.ok()) return documents.status();
  for (auto& d : *documents) {
    out.documents.push_back(
        {d.file_name, d.media_type, std::move(d.content), d.sha256_hex});
  }

  // From here the provider may get the letter, so the tenant can no longer
  // cancel it; the mark is cleared with the outcome.
  if (auto s = store_->ClaimHandOff(letter.id, channel_name); !s.ok()) {
    return s;  // FAILED_PRECONDITION: cancelled or done meanwhile.
  }
  auto sent = channel->Send(out);
  if (!sent.ok()) {
    // Only a refusal of this letter is final (see adapters/channel.h);
    // transient errors and the gateway's own set-up errors (credentials,
    // addresses) are retried and then parked for an operator, never
    // turned into paper or a failure for every letter.
    if (!adapters::IsLetterRefusal(sent.status())) {
      return RetryOrPark(letter, stage, attempt, sent.status());
    }
    std::string reason = MaskPersonNumbersIn(
        absl::StrCat(channel_name, " refused: ", sent.status().message()));
    if (print) {
      store::Transition t;
      t.from = {Letter::ROUTED};
      t.to = Letter::FAILED;
      t.reason = reason;
      return Apply(letter.id, t);
    }
    return Apply(letter.id, FallbackOrFail(letter, {Letter::ROUTED}, reason));
  }
  const bool duplicate =
      sent->outcome == adapters::SendResult::Outcome::kDuplicate;
  if (duplicate) {
    spdlog::info("letter {}: provider already had it; counted as sent",
                 letter.id);
  }
  store::Transition t;
  t.from = {Letter::ROUTED};
  t.to = print ? Letter::SENT_PRINT : Letter::SENT_DIGITAL;
  t.reason = sent->provider_reference;
  // The hand-over receipt (and a DELIVERED in the same answer) names who
  // took the letter.
  t.provider = sent->provider.empty() ? channel_name : sent->provider;
  // A mailbox provider answers a repeated message id only for a message it
  // accepted before, into the mailbox: the earlier attempt's outcome.
  if (!print && (sent->delivered || duplicate)) {
    t.then.push_back({Letter::DELIVERED, "in the recipient's mailbox"});
  }
  const auto& after = letter.spec.delivery_policy().print_if_unread_after();
  if (!print && PolicyOf(letter) == Mode::DIGITAL_THEN_PRINT &&
      DurationMillis(after) > 0) {
    t.set_timers.push_back(
        {letter.id, kPrintIfUnreadTimer,
         options_.clock->NowMillis() + DurationMillis(after)});
  }
  RETURN_IF_ERROR(Apply(letter.id, t));
  // The provider may report on the letter (another worker polling its
  // receipts) before this hand-off is recorded; such an event was kept
  // without moving the letter, and counts now.
  return ApplyKeptEvents(letter.id, channel_name);
}

absl::Status Dispatcher::RetryOrPark(const store::LetterRecord& letter,
                                     const std::string& stage, int attempt,
                                     const absl::Status& error) {
  const std::string reason = MaskPersonNumbersIn(std::string(error.message()));
  const int next = attempt + 1;
  if (next < options_.max_attempts && !options_.retry_delays_seconds.empty()) {
    int delay = DelayBefore(options_.retry_delays_seconds, next);
    store::OutboxMessage retry = WorkFor(letter.id, letter.bulk, stage, next);
    retry.exchange = options_.topology.RetryExchange(delay);
    spdlog::warn("letter {} {} attempt {} failed, retry in {} s: {}", letter.id,
                 stage, next, delay, reason);
    RETURN_IF_ERROR(store_->ScheduleRetry(letter.id, EntryStates(stage), next,
                                          reason, retry));
    if (options_.on_retry) options_.on_retry(stage);
    if (on_change_) on_change_();
    return absl::OkStatus();
  }
  store::Transition t;
  t.from = EntryStates(stage);
  t.to = Letter::PARKED;
  t.reason = absl::StrCat(stage, " failed ", next, " times; last: ", reason);
  store::OutboxMessage parked = WorkFor(letter.id, letter.bulk, stage, next);
  parked.routing_key = "parked";
  t.outbox.push_back(parked);
  return Apply(letter.id, t);
}

// ---- Provider events, timers, lost work ----

absl::Status Dispatcher::ApplyEvent(const std::string& channel,
                                    const adapters::ProviderEvent& e,
                                    bool* fresh) {
  store::ProviderEventRecord rec;
  rec.provider = e.provider.empty() ? channel : e.provider;
  rec.event_id = e.event_id;
  rec.letter_id = e.message_id;
  rec.channel = channel;
  rec.kind = KindName(e.kind);
  rec.time_ms = e.time_ms;
  rec.reason = MaskPersonNumbersIn(e.reason);
  rec.evidence = e.evidence;

  std::vector<store::Transition> candidates;
  auto letter = store_->GetLetter(e.message_id, "");
  if (!letter.ok() && !absl::IsNotFound(letter.status())) {
    return letter.status();
  }
  // Only events from the channel the letter is with move it: a mailbox
  // provider's late news never moves a letter gone to print.
  if (letter.ok() && letter->channel == channel) {
    candidates = EventCandidates(*letter, rec, e.kind);
  } else if (letter.ok()) {
    spdlog::info("letter {}: {} event from {} kept; the letter is with {}",
                 e.message_id, rec.kind, channel, letter->channel);
  } else {
    spdlog::warn("{} event {} for unknown letter {} kept", channel, e.event_id,
                 e.message_id);
  }
  ASSIGN_OR_RETURN(store::ProviderEventOutcome outcome,
                   store_->ApplyProviderEvent(rec, candidates));
  if (fresh != nullptr) *fresh = !outcome.duplicate;
  if (outcome.moved) {
    spdlog::info("letter {}: {} from {} applied", e.message_id, rec.kind,
                 rec.provider);
    if (on_change_) on_change_();
  }
  return absl::OkStatus();
}

std::vector<store::Transition> Dispatcher::EventCandidates(
    const store::LetterRecord& letter, const store::ProviderEventRecord& rec,
    Kind kind) const {
  std::vector<store::Transition> candidates;
  const std::string from_provider =
      absl::StrCat(" (", rec.provider, " event ", rec.event_id, ")");
  auto make = [&](std::vector<store::State> from, store::State to,
                  std::string reason) {
    store::Transition t;
    t.from = std::move(from);
    t.to = to;
    t.reason = std::move(reason);
    t.provider = rec.provider;
    t.provider_receipt = rec.evidence;
    return t;
  };
  const bool print = rec.channel == kPrintChannel;
  switch (kind) {
    case Kind::kDelivered:
      candidates.push_back(make({Letter::SENT_DIGITAL}, Letter::DELIVERED,
                                "in the recipient's mailbox" + from_provider));
      break;
    case Kind::kRead: {
      store::Transition via =
          make({Letter::SENT_DIGITAL}, Letter::DELIVERED,
               "in the recipient's mailbox" + from_provider);
      via.then.push_back({Letter::READ, "read" + from_provider});
      via.clear_timers = {kPrintIfUnreadTimer};
      candidates.push_back(via);
      store::Transition read =
          make({Letter::DELIVERED}, Letter::READ, "read" + from_provider);
      read.clear_timers = {kPrintIfUnreadTimer};
      candidates.push_back(read);
      break;
    }
    case Kind::kPosted:
      candidates.push_back(make({Letter::SENT_PRINT}, Letter::PRINTED,
                                "posted" + from_provider));
      break;
    case Kind::kFailed: {
      const std::string why = MaskPersonNumbersIn(absl::StrCat(
          rec.channel, " gave up: ",
          rec.reason.empty() ? "no reason" : rec.reason, from_provider));
      if (print) {
        candidates.push_back(make({Letter::SENT_PRINT}, Letter::FAILED, why));
      } else {
        store::Transition t = FallbackOrFail(
            letter, {Letter::SENT_DIGITAL, Letter::DELIVERED}, why);
        t.provider = rec.provider;
        t.provider_receipt = rec.evidence;
        candidates.push_back(t);
      }
      break;
    }
    case Kind::kNotificationFailed:
    case Kind::kPrintReceived:
    case Kind::kReturned:
      // Evidence only: the letter is where it was (a returned letter
      // stays PRINTED; the return is in its provider events).
      break;
  }
  return candidates;
}

absl::Status Dispatcher::ApplyKeptEvents(const std::string& letter_id,
                                         const std::string& channel_name) {
  // Read after the hand-off committed: an event kept without effect while
  // the letter was still ROUTED was committed before (both lock the letter
  // row), so it is seen here; one kept later moved the letter itself.
  ASSIGN_OR_RETURN(std::vector<store::ProviderEventRecord> kept,
                   store_->GetProviderEvents(letter_id));
  for (const store::ProviderEventRecord& rec : kept) {
    Kind kind;
    if (rec.applied || rec.channel != channel_name ||
        !KindOfName(rec.kind, &kind)) {
      continue;
    }
    ASSIGN_OR_RETURN(store::LetterRecord letter,
                     store_->GetLetter(letter_id, ""));
    if (letter.channel != channel_name) return absl::OkStatus();
    for (const store::Transition& t : EventCandidates(letter, rec, kind)) {
      if (std::find(t.from.begin(), t.from.end(), letter.state) ==
          t.from.end()) {
        continue;
      }
      absl::Status s = Apply(letter_id, t);
      if (s.ok()) {
        spdlog::info(
            "letter {}: {} from {}, received before the hand-off "
            "was recorded, applied",
            letter_id, rec.kind, rec.provider);
      } else if (!AlreadyDone(s)) {
        return s;
      }
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::FireTimer(const store::TimerRecord& timer) {
  auto letter = store_->GetLetter(timer.letter_id, "");
  if (!letter.ok()) return letter.status();
  absl::StatusOr<bool> claimed = false;
  if (timer.kind == kNotBeforeTimer) {
    claimed =
        store_->FireTimer(timer, {Letter::QUEUED}, std::nullopt,
                          {WorkFor(timer.letter_id, letter->bulk, kRoute, 0)});
  } else if (timer.kind == kPrintIfUnreadTimer) {
    const std::vector<store::State> unread = {Letter::SENT_DIGITAL,
                                              Letter::DELIVERED};
    std::optional<store::Transition> t;
    if (CanPrint(*letter)) {
      t = FallbackOrFail(*letter, unread, "not read in time");
    }
    // Without a way to print, the letter stays in the mailbox.
    claimed = store_->FireTimer(timer, unread, t, {});
  } else {
    spdlog::error("letter {}: unknown timer {} dropped", timer.letter_id,
                  timer.kind);
    claimed = store_->FireTimer(timer, {}, std::nullopt, {});
  }
  if (!claimed.ok()) return claimed.status();
  if (*claimed) {
    spdlog::info("letter {}: timer {} fired", timer.letter_id, timer.kind);
    if (on_change_) on_change_();
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::RequeueStuck(const store::StuckLetter& letter) {
  store::OutboxMessage work =
      letter.state == Letter::QUEUED
          ? WorkFor(letter.id, letter.bulk, kRoute, letter.attempt)
          : WorkFor(letter.id, letter.bulk, DeliverStage(letter.channel),
                    letter.attempt);
  ASSIGN_OR_RETURN(bool written, store_->RequeueStuck(letter, work));
  if (written) {
    spdlog::warn("letter {} stuck in {}: work item published again", letter.id,
                 Letter::State_Name(letter.state));
    if (on_change_) on_change_();
  }
  return absl::OkStatus();
}

}  // namespace utpost::dispatch
