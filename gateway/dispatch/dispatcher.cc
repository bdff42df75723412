#include "gateway/dispatch/dispatcher.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"
#include "common/mask.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"
#include "utpost/internal/v1/work_item.pb.h"

namespace utpost::dispatch {
namespace {

using v1::Letter;
using Mode = v1::DeliveryPolicy;

constexpr char kRoute[] = "route";
constexpr char kDeliverDigital[] = "deliver.digital";
constexpr char kDeliverPrint[] = "deliver.print";

Mode::Mode PolicyOf(const store::LetterRecord& l) {
  auto m = l.spec.delivery_policy().mode();
  return m == v1::DeliveryPolicy::MODE_UNSPECIFIED
             ? v1::DeliveryPolicy::DIGITAL_THEN_PRINT
             : m;
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

// The state a stage acts in (Route records QUEUED first if the relay has
// not yet), rather than the state read at the start of a delivery.
std::vector<Letter::State> EntryStates(const std::string& stage) {
  if (stage == kRoute) return {Letter::QUEUED};
  return {Letter::ROUTED};
}

// A transition that was already made by an earlier delivery of the same
// work item is not an error.
bool AlreadyDone(const absl::Status& s) {
  return absl::IsFailedPrecondition(s);
}

}  // namespace

Dispatcher::Dispatcher(store::Store* store, adapters::Registry* registry,
                       adapters::Channel* digital, adapters::Channel* print,
                       DispatcherOptions options,
                       std::function<void()> on_change)
    : store_(store),
      registry_(registry),
      digital_(digital),
      print_(print),
      options_(std::move(options)),
      on_change_(std::move(on_change)) {}

store::OutboxMessage Dispatcher::WorkFor(const std::string& letter_id,
                                         const std::string& stage,
                                         int attempt) const {
  internal::v1::WorkItem item;
  item.set_letter_id(letter_id);
  item.set_stage(stage);
  item.set_attempt(attempt);
  // The trace of the item being handled (see Handle) goes on.
  if (const logging::Context* c = logging::CurrentContext()) {
    item.set_trace_id(c->trace_id);
  }
  store::OutboxMessage m;
  m.exchange = options_.topology.WorkExchange();
  m.routing_key = stage;
  m.body = item.SerializeAsString();
  m.letter_id = letter_id;
  return m;
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

queue::Disposition Dispatcher::Handle(const queue::Delivery& delivery) {
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
  if (item.stage() == kRoute) {
    s = Route(*letter, item.attempt());
  } else if (item.stage() == kDeliverDigital || item.stage() == kDeliverPrint) {
    s = Deliver(*letter, item.stage(), item.attempt());
  } else {
    spdlog::error("dropping work item with unknown stage {}", item.stage());
    return queue::Disposition::kAck;
  }
  if (s.ok() || AlreadyDone(s)) return queue::Disposition::kAck;
  // Only the store can fail here (provider errors are outcomes): try again.
  spdlog::warn("letter {}: outcome not stored, requeueing: {}",
               item.letter_id(), s.ToString());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return queue::Disposition::kRequeue;
}

absl::Status Dispatcher::Route(const store::LetterRecord& letter, int attempt) {
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
  const auto mode = PolicyOf(letter);
  const auto& recipient = letter.spec.recipient();
  std::string channel;
  std::string why;
  if (mode == v1::DeliveryPolicy::PRINT_ONLY) {
    channel = "print";
    why = "policy PRINT_ONLY";
  } else if (recipient.has_organisation()) {
    // No organisation inbox channel yet: organisations get print.
    channel = "print";
    why = "no digital channel for organisations";
  } else {
    auto contacts = registry_->LookupPersons({recipient.person()});
    if (!contacts.ok()) {
      return RetryOrPark(
          letter, kRoute, attempt,
          absl::Status(
              contacts.status().code(),
              absl::StrCat("registry: ", contacts.status().message())));
    }
    const adapters::PersonContact* c =
        contacts->empty() ? nullptr : &contacts->front();
    using S = adapters::PersonContact::Status;
    if (c == nullptr || c->status != S::kActive) {
      why = "not registered in the contact registry";
    } else if (c->reserved) {
      why = "reserved against digital post";
    } else if (c->mailbox_address.empty()) {
      why = "no digital mailbox";
    } else if (std::find(options_.digital_providers.begin(),
                         options_.digital_providers.end(),
                         c->mailbox_provider) ==
               options_.digital_providers.end()) {
      why = absl::StrCat("mailbox provider ", c->mailbox_provider,
                         " not reachable");
    } else {
      channel = "digital";
      why = "digital mailbox";
    }
    if (channel.empty()) channel = "print";
  }

  store::Transition t;
  t.from = {Letter::QUEUED};
  if (channel == "print" && mode == v1::DeliveryPolicy::DIGITAL_ONLY) {
    t.to = Letter::FAILED;
    t.reason = absl::StrCat("DIGITAL_ONLY, but ", why);
    return Apply(letter.id, t);
  }
  if (channel == "print" && !recipient.has_postal_address()) {
    t.to = Letter::FAILED;
    t.reason = absl::StrCat(why, ", and print needs recipient.postal_address");
    return Apply(letter.id, t);
  }
  t.to = Letter::ROUTED;
  t.channel = channel;
  t.reason = why;
  t.outbox.push_back(WorkFor(
      letter.id, channel == "digital" ? kDeliverDigital : kDeliverPrint, 0));
  return Apply(letter.id, t);
}

absl::Status Dispatcher::Deliver(const store::LetterRecord& letter,
                                 const std::string& stage, int attempt) {
  const bool digital = stage == kDeliverDigital;
  if (letter.state != Letter::ROUTED ||
      letter.channel != (digital ? "digital" : "print")) {
    return absl::OkStatus();  // Done before, cancelled, or re-routed.
  }
  auto documents = store_->GetDocuments(letter.id);
  if (!documents.ok()) return documents.status();

  adapters::OutgoingLetter out;
  out.message_id = letter.id;
  out.tenant = letter.tenant;
  const auto& recipient = letter.spec.recipient();
  out.person_number = recipient.person();
  out.organisation_number = recipient.organisation();
  out.title = letter.spec.title();
  for (auto& d : *documents) {
    out.documents.push_back(
        {d.file_name, d.media_type, std::move(d.content), d.sha256_hex});
  }
  out.recipient_address = ToAddress(recipient.postal_address());
  if (auto it = options_.return_addresses.find(letter.tenant);
      it != options_.return_addresses.end()) {
    out.return_address = it->second;
  }
  const auto& po = letter.spec.print_options();
  out.color = po.color() == v1::PrintOptions::COLORS;
  out.duplex = po.duplex();
  out.a_post = po.post_type() == v1::PrintOptions::A;
  out.shred_if_undeliverable = po.return_handling() == v1::PrintOptions::SHRED;

  adapters::Channel* channel = digital ? digital_ : print_;
  // From here the provider may get the letter, so the tenant can no longer
  // cancel it; the mark is cleared with the outcome.
  if (auto s = store_->ClaimHandOff(letter.id, channel->name()); !s.ok()) {
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
        absl::StrCat(channel->name(), " refused: ", sent.status().message()));
    store::Transition t;
    t.from = {Letter::ROUTED};
    if (digital && PolicyOf(letter) == v1::DeliveryPolicy::DIGITAL_THEN_PRINT &&
        recipient.has_postal_address()) {
      t.to = Letter::ROUTED;
      t.channel = "print";
      t.reason = absl::StrCat(reason, "; falling back to print");
      t.outbox.push_back(WorkFor(letter.id, kDeliverPrint, 0));
    } else {
      t.to = Letter::FAILED;
      t.reason = reason;
    }
    return Apply(letter.id, t);
  }
  const bool duplicate =
      sent->outcome == adapters::SendResult::Outcome::kDuplicate;
  if (duplicate) {
    spdlog::info("letter {}: provider already had it; counted as sent",
                 letter.id);
  }
  store::Transition t;
  t.from = {Letter::ROUTED};
  t.to = digital ? Letter::SENT_DIGITAL : Letter::SENT_PRINT;
  t.reason = sent->provider_reference;
  // A mailbox provider answers a repeated message id only for a message it
  // accepted before, into the mailbox: the earlier attempt's outcome.
  if (digital && (sent->delivered || duplicate)) {
    t.then.push_back({Letter::DELIVERED, "in the recipient's mailbox"});
  }
  return Apply(letter.id, t);
}

absl::Status Dispatcher::RetryOrPark(const store::LetterRecord& letter,
                                     const std::string& stage, int attempt,
                                     const absl::Status& error) {
  const std::string reason = MaskPersonNumbersIn(std::string(error.message()));
  const int next = attempt + 1;
  if (next < options_.max_attempts && !options_.retry_delays_seconds.empty()) {
    const auto& delays = options_.retry_delays_seconds;
    int delay = delays[std::min<size_t>(attempt, delays.size() - 1)];
    store::OutboxMessage retry = WorkFor(letter.id, stage, next);
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
  store::OutboxMessage parked = WorkFor(letter.id, stage, next);
  parked.routing_key = "parked";
  t.outbox.push_back(parked);
  return Apply(letter.id, t);
}

}  // namespace utpost::dispatch
