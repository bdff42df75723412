#include "cli/ops_commands.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/arguments.h"
#include "cli/letter_lookup.h"
#include "cli/output.h"
#include "cli/text.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "utpost/v1/letter.grpc.pb.h"
#include "utpost/v1/ops.grpc.pb.h"

namespace utpost::cli {
namespace {

using google::protobuf::util::TimeUtil;
using v1::Letter;

int UsageError(const std::string& message) {
  std::cerr << "utpostctl: " << message << "\n";
  return kUsage;
}

std::string StateName(Letter::State s) { return Letter::State_Name(s); }

// Whole seconds as "45s", "12m05s", "3h20m", "2d4h".
std::string Age(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds",
                  static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm",
                  static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldd%lldh",
                  static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

double SecondsSince(const google::protobuf::Timestamp& t) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return (now - (t.seconds() * 1000 + t.nanos() / 1000000)) / 1000.0;
}

class OpsClient {
 public:
  // Exit code in `*err` when the channel cannot be made.
  static std::unique_ptr<OpsClient> Make(const ConnectionOptions& c, int* err) {
    auto channel = Connect(c);
    if (!channel.ok()) {
      std::cerr << "utpostctl: " << channel.status().message() << "\n";
      *err = kUsage;
      return nullptr;
    }
    return std::unique_ptr<OpsClient>(new OpsClient(c, *channel));
  }

  void Prepare(grpc::ClientContext* ctx) const {
    if (timeout_seconds_ > 0) {
      ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(timeout_seconds_));
    }
  }
  v1::OpsService::Stub& ops() { return *ops_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  v1::LetterService::Stub& letters() { return *letters_; }

 private:
  OpsClient(const ConnectionOptions& c,
            const std::shared_ptr<grpc::Channel>& channel)
      : timeout_seconds_(c.timeout_seconds),
        channel_(channel),
        ops_(v1::OpsService::NewStub(channel)),
        letters_(v1::LetterService::NewStub(channel)) {}

  const int timeout_seconds_;
  const std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::OpsService::Stub> ops_;
  std::unique_ptr<v1::LetterService::Stub> letters_;
};

// One OpsService call: prints the answer as JSON or with `human`.
template <typename Request, typename Response, typename Human>
int Call(const ConnectionOptions& c, const Output& out,
         grpc::Status (v1::OpsService::Stub::*method)(grpc::ClientContext*,
                                                      const Request&,
                                                      Response*),
         const Request& request, Human&& human) {
  int err = 0;
  auto client = OpsClient::Make(c, &err);
  if (!client) return err;
  grpc::ClientContext ctx;
  client->Prepare(&ctx);
  Response response;
  auto s = (client->ops().*method)(&ctx, request, &response);
  if (!s.ok()) return Report(s, c);
  if (out.json) {
    PrintJson(response);
  } else {
    human(response);
  }
  return kOk;
}

using StateCounts = google::protobuf::RepeatedPtrField<v1::Status::StateCount>;

// `states` in lifecycle order (the server's order is not promised).
std::map<Letter::State, int64_t> Ordered(const StateCounts& states) {
  std::map<Letter::State, int64_t> out;
  for (const auto& sc : states) out[sc.state()] += sc.count();
  return out;
}

// Letters per state of each tenant or channel, one row each, under one
// column per state that has letters anywhere, so that a state is in the
// same place on every row.
void PrintGroups(
    const char* title,
    const google::protobuf::RepeatedPtrField<v1::Status::GroupCount>& groups,
    const std::vector<Letter::State>& columns, std::ostream& os) {
  if (groups.empty()) return;
  os << "\n"
     << std::left << std::setw(9) << title << std::setw(12) << "" << std::right
     << std::setw(7) << "TOTAL";
  for (Letter::State st : columns) {
    os << "  " << StateName(st);
  }
  os << "\n";
  for (const auto& g : groups) {
    const auto counts = Ordered(g.states());
    os << std::setw(9) << "" << std::left << std::setw(12)
       << (g.key().empty() ? "-" : g.key()) << std::right << std::setw(7)
       << g.total();
    for (Letter::State st : columns) {
      auto it = counts.find(st);
      os << "  " << std::setw(StateName(st).size())
         << (it == counts.end() ? 0 : it->second);
    }
    if (!g.name().empty()) os << "  " << g.name();
    os << "\n";
  }
}

// Sections with nothing to show are left out; LETTERS, PARKED and OUTBOX
// are always there, as the summary.
}  // namespace

void PrintStatus(const v1::Status& s, std::ostream& os) {
  const auto letters = Ordered(s.letters());
  std::vector<Letter::State> columns;
  int64_t total = 0;
  for (const auto& [state, n] : letters) {
    total += n;
    if (n > 0) columns.push_back(state);
  }
  os << "LETTERS  total " << total;
  if (!columns.empty()) os << " |";
  for (Letter::State st : columns) {
    os << "  " << StateName(st) << " " << letters.at(st);
  }
  os << "\n";
  os << "PARKED   " << s.parked()
     << (s.parked() > 0 ? "   (utpostctl letters --state PARKED)" : "") << "\n";
  os << "OUTBOX   pending " << s.outbox_pending();
  if (s.outbox_pending() > 0) {
    os << ", oldest " << Age(s.outbox_oldest_pending_seconds());
  }
  os << "\n";
  if (s.paused_channels_size() > 0) {
    os << "PAUSED  ";
    for (const auto& p : s.paused_channels()) {
      os << " " << p.channel() << " (by " << p.paused_by() << ", "
         << Age(SecondsSince(p.since())) << " ago)";
    }
    os << "\n";
  }

  if (s.waiting_size() > 0) {
    std::vector<const v1::Status::Waiting*> waiting;
    for (const auto& w : s.waiting()) waiting.push_back(&w);
    std::stable_sort(
        waiting.begin(), waiting.end(),
        [](const auto* a, const auto* b) { return a->state() < b->state(); });
    os << "\nWAITING  " << std::left << std::setw(14) << "STATE" << std::right
       << std::setw(8) << "LETTERS" << std::setw(12) << "OLDEST"
       << "\n";
    for (const auto* w : waiting) {
      os << "         " << std::left << std::setw(14) << StateName(w->state())
         << std::right << std::setw(8) << w->count() << std::setw(12)
         << Age(w->oldest_age_seconds()) << "\n";
    }
  }

  if (s.queues_size() > 0 || !s.broker_error().empty()) {
    os << "\nQUEUES   " << std::left << std::setw(30) << "QUEUE" << std::right
       << std::setw(9) << "READY" << std::setw(11) << "CONSUMERS"
       << "\n";
    if (!s.broker_error().empty()) {
      os << "         (broker: " << s.broker_error() << ")\n";
    }
    for (const auto& q : s.queues()) {
      os << "         " << std::left << std::setw(30) << q.queue() << std::right
         << std::setw(9) << q.messages() << std::setw(11) << q.consumers()
         << "\n";
    }
  }

  if (s.providers_size() > 0) {
    os << "\nPROVIDER " << std::left << std::setw(10) << "CHANNEL" << std::right
       << std::setw(7) << "SENDS" << std::setw(8) << "ERRORS" << std::setw(8)
       << "ERR%" << std::setw(10) << "MEAN ms" << std::setw(10) << "MAX ms"
       << "  LAST ERROR\n";
    for (const auto& p : s.providers()) {
      std::ostringstream rate, mean, max;
      rate << std::fixed << std::setprecision(1) << p.error_rate() * 100;
      mean << std::fixed << std::setprecision(1) << p.mean_latency_ms();
      max << std::fixed << std::setprecision(1) << p.max_latency_ms();
      os << "         " << std::left << std::setw(10) << p.channel()
         << std::right << std::setw(7) << p.sends() << std::setw(8)
         << p.errors() << std::setw(8) << rate.str() << std::setw(10)
         << mean.str() << std::setw(10) << max.str() << "  "
         << CutMiddle(p.last_error(), 60) << "\n";
    }
    os << "         (last " << Age(s.providers(0).window_seconds())
       << ", all worker processes)\n";
  }

  PrintGroups("TENANT", s.tenants(), columns, os);
  PrintGroups("CHANNEL", s.channels(), columns, os);

  if (s.certificates_size() == 0) return;
  // The setting column is as wide as the longest setting name.
  int width = 8;
  for (const auto& c : s.certificates()) {
    width = std::max(width, static_cast<int>(c.setting().size()) + 2);
  }
  os << "\nCERTS    " << std::left << std::setw(width) << "SETTING"
     << std::setw(22) << "EXPIRES" << std::right << std::setw(8) << "DAYS"
     << "\n";
  for (const auto& c : s.certificates()) {
    os << "         " << std::left << std::setw(width) << c.setting();
    if (!c.error().empty()) {
      os << "error: " << c.error() << "\n";
      continue;
    }
    os << std::setw(22) << TimeUtil::ToString(c.not_after()) << std::right
       << std::setw(8) << static_cast<int64_t>(c.days_left())
       << (c.expiring() ? "  EXPIRING" : "") << "\n";
  }
}

namespace {

int RunStatus(const ConnectionOptions& c, const Output& out,
              int watch_seconds) {
  if (watch_seconds <= 0) {
    return Call(c, out, &v1::OpsService::Stub::GetStatus,
                v1::GetStatusRequest(),
                [](const v1::Status& s) { PrintStatus(s, std::cout); });
  }
  int err = 0;
  auto client = OpsClient::Make(c, &err);
  if (!client) return err;
  // Until interrupted; a failed refresh is shown and tried again, since a
  // dashboard that quits during an outage is no use.
  while (true) {
    grpc::ClientContext ctx;
    client->Prepare(&ctx);
    v1::Status status;
    auto s = client->ops().GetStatus(&ctx, v1::GetStatusRequest(), &status);
    if (s.ok() && out.json) {
      PrintJson(status);
    } else if (!out.json) {
      if (IsTerminal(kStdout)) {
        std::cout << "\033[H\033[2J";  // Home and clear, as `watch` does.
      } else {
        std::cout << "\n";  // A log or pipe gets one report after another.
      }
      const std::time_t now = std::time(nullptr);
      char when[32];
      std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
                    std::gmtime(&now));
      std::cout << "utpost status  " << when << "  (every " << watch_seconds
                << " s; Ctrl-C to stop)\n\n";
      if (s.ok()) {
        PrintStatus(status, std::cout);
      } else {
        std::cout << "unavailable: " << s.error_message() << "\n";
      }
    }
    if (!s.ok()) {
      if (s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
          s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
        return Report(s, c);  // Refreshing will not change this.
      }
      if (out.json) Report(s, c);
    }
    std::cout << std::flush;
    std::this_thread::sleep_for(std::chrono::seconds(watch_seconds));
  }
}

void PrintLetterRows(const v1::OpsListLettersResponse& r) {
  std::cout << std::left << std::setw(38) << "LETTER" << std::setw(11)
            << "TENANT" << std::setw(13) << "STATE" << std::setw(9) << "CHANNEL"
            << std::setw(9) << "AGE" << std::setw(22) << "REFERENCE"
            << "REASON\n";
  for (const auto& ol : r.letters()) {
    const auto& l = ol.letter();
    std::cout << std::setw(38) << l.id() << std::setw(11) << ol.tenant()
              << std::setw(13) << StateName(l.state()) << std::setw(9)
              << (l.channel().empty() ? "-" : l.channel()) << std::setw(9)
              << Age(SecondsSince(l.create_time())) << std::setw(22)
              << CutMiddle(l.client_reference(), 21) << l.reason() << "\n";
  }
  std::cout << std::right;
  if (!r.next_page_token().empty()) {
    std::cout << "(" << Counted(r.letters_size(), "letter")
              << " on this page; more: --page-token " << r.next_page_token()
              << ")\n";
  } else {
    std::cout << "(" << Counted(r.letters_size(), "letter") << ")\n";
  }
}

void PrintOpsLetter(const v1::OpsLetter& ol) {
  const auto& l = ol.letter();
  std::cout << "letter     " << l.id() << "\n"
            << "tenant     " << ol.tenant() << "\n"
            << "reference  " << l.client_reference() << "\n"
            << "state      " << StateName(l.state()) << "\n"
            << "channel    " << (l.channel().empty() ? "-" : l.channel())
            << "\n"
            << "recipient  "
            << (l.recipient().has_person()
                    ? "person " + l.recipient().person()
                    : "organisation " + l.recipient().organisation())
            << "\n"
            << "title      " << l.title() << "\n";
  if (!l.reason().empty()) std::cout << "reason     " << l.reason() << "\n";
  std::cout << "timeline\n";
  for (const auto& e : l.timeline()) {
    std::cout << "  " << std::setw(3) << e.sequence() << "  "
              << TimeUtil::ToString(e.time()) << "  " << std::left
              << std::setw(13) << StateName(e.state()) << std::right << " "
              << std::setw(8) << (e.channel().empty() ? "-" : e.channel())
              << "  " << e.reason() << "\n";
  }
  if (ol.failed_attempts_size() > 0) {
    std::cout << "failed attempts\n";
    for (const auto& a : ol.failed_attempts()) {
      std::cout << "  " << TimeUtil::ToString(a.time()) << "  " << std::left
                << std::setw(16) << a.stage() << std::right << " #"
                << a.attempt() << (a.parked() ? " (parked)" : "") << "  "
                << a.error() << "\n";
    }
  }
}

// The parked letters a redrive of `id` (when not empty) or of the
// filters or --all would take: the same query the server runs
// (Operations::Redrive lists PARKED letters with the same filter).
int ParkedLetters(OpsClient& client, const ConnectionOptions& c,
                  const std::string& id, const std::string& tenant,
                  const std::string& channel, const std::string& reason,
                  std::vector<v1::OpsLetter>* parked) {
  if (!id.empty()) {
    grpc::ClientContext ctx;
    client.Prepare(&ctx);
    v1::OpsGetLetterRequest request;
    request.set_name(id);
    v1::OpsLetter letter;
    auto s = client.ops().GetLetter(&ctx, request, &letter);
    if (!s.ok()) return Report(s, c);
    if (letter.letter().state() == Letter::PARKED) {
      parked->push_back(std::move(letter));
    }
    return kOk;
  }
  v1::OpsListLettersRequest request;
  request.set_state(Letter::PARKED);
  request.set_tenant(tenant);
  request.set_channel(channel);
  request.set_reason_contains(reason);
  request.set_page_size(1000);
  while (true) {
    grpc::ClientContext ctx;
    client.Prepare(&ctx);
    v1::OpsListLettersResponse page;
    auto s = client.ops().ListLetters(&ctx, request, &page);
    if (!s.ok()) return Report(s, c);
    for (auto& l : *page.mutable_letters()) parked->push_back(std::move(l));
    if (page.next_page_token().empty()) return kOk;
    request.set_page_token(page.next_page_token());
  }
}

void PrintDryRun(const Output& out, const std::vector<v1::OpsLetter>& parked) {
  if (out.json) {
    std::cout << "{\"dry_run\": true, \"would_redrive\": " << parked.size()
              << ", \"letter_ids\": [";
    for (size_t i = 0; i < parked.size(); ++i) {
      std::cout << (i == 0 ? "" : ", ") << "\"" << parked[i].letter().id()
                << "\"";
    }
    std::cout << "]}\n";
    return;
  }
  std::cout << "would redrive " << Counted(parked.size(), "letter")
            << " (dry run; nothing changed)\n";
  for (const auto& ol : parked) {
    const auto& l = ol.letter();
    std::cout << "  " << l.id() << "  " << ol.tenant() << "  " << std::left
              << std::setw(8) << (l.channel().empty() ? "-" : l.channel())
              << std::right << "  " << l.reason() << "\n";
  }
}

}  // namespace

absl::StatusOr<int64_t> ParseDurationSeconds(const std::string& text) {
  if (text.empty()) return absl::InvalidArgumentError("empty duration");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])))
      ++j;
    int64_t n = 0;
    if (j == i || j == text.size() ||
        !absl::SimpleAtoi(text.substr(i, j - i), &n)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "duration \"", text, "\": expected e.g. 90s, 10m, 2h, 1d, 1h30m"));
    }
    switch (text[j]) {
      case 's':
        total += n;
        break;
      case 'm':
        total += n * 60;
        break;
      case 'h':
        total += n * 3600;
        break;
      case 'd':
        total += n * 86400;
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("duration \"", text, "\": units are s, m, h and d"));
    }
    i = j + 1;
  }
  return total;
}

int CancelAnyTenant(const ConnectionOptions& c, const Output& out,
                    const std::string& argument) {
  int err = 0;
  auto client = OpsClient::Make(c, &err);
  if (!client) return err;
  std::string id;
  err = ResolveLetterId(c, client->channel(), argument, LookupScope::kEither,
                        &id);
  if (err != kOk) return err;
  {
    grpc::ClientContext ctx;
    client->Prepare(&ctx);
    v1::CancelLetterRequest request;
    request.set_name(id);
    v1::Letter letter;
    auto s = client->letters().CancelLetter(&ctx, request, &letter);
    if (s.ok()) {
      if (out.json) {
        PrintJson(letter);
      } else {
        std::cout << "cancelled " << letter.id() << "\n";
      }
      return kOk;
    }
    // An operator certificate is refused by the tenants' service: cancel
    // through the operators' one, for whichever tenant.
    if (s.error_code() != grpc::StatusCode::PERMISSION_DENIED)
      return Report(s, c);
  }
  grpc::ClientContext ctx;
  client->Prepare(&ctx);
  v1::OpsCancelLetterRequest request;
  request.set_name(id);
  v1::OpsLetter letter;
  auto s = client->ops().CancelLetter(&ctx, request, &letter);
  if (!s.ok()) return Report(s, c);
  if (out.json) {
    PrintJson(letter);
  } else {
    std::cout << "cancelled " << letter.letter().id() << " (tenant "
              << letter.tenant() << ")\n";
  }
  return kOk;
}

OpsCommands::OpsCommands(CLI::App* app) {
  status_ = app->add_subcommand(
      "status",
      "the gateway at a glance: letters per state, tenant and channel, "
      "waiting times, queues, outbox, providers, paused channels, "
      "certificates (operator certificate)");
  status_->footer(
      "--watch refreshes every SECONDS (default 2) until Ctrl-C.\n"
      "Examples:\n"
      "  utpostctl --cert certs-dev/operator.pem "
      "--key certs-dev/operator.key status\n"
      "  utpostctl status --watch 5\n"
      "  utpostctl status --json | jq .parked");
  watch_opt_ = status_->add_option("--watch", watch_, "refresh every SECONDS")
                   ->expected(0, 1);

  letters_ = app->add_subcommand(
      "letters", "letters of all tenants, newest first (operator)");
  letters_->footer(
      "Ages: 90s, 10m, 2h, 1d, 1h30m.\n"
      "Examples:\n"
      "  utpostctl letters --state PARKED\n"
      "  utpostctl letters --state ROUTED --channel print --older-than 10m\n"
      "  utpostctl letters --tenant 964338531 --newer-than 2h --json\n"
      "  utpostctl letters --page-size 20 --page-token TOKEN");
  letters_->add_option("--state", state_,
                       "one of " + StateList() + " (any case)");
  letters_->add_option("--tenant", tenant_,
                       "tenant organisation number (9 digits)");
  letters_->add_option("--channel", channel_, "one of " + ChannelList());
  letters_->add_option("--older-than", older_than_,
                       "created longer ago than this (e.g. 10m)");
  letters_->add_option("--newer-than", newer_than_,
                       "created within this (e.g. 2h)");
  letters_->add_option("--client-reference", reference_,
                       "the tenant's reference");
  letters_->add_option("--reason", reason_, "reason contains this text");
  letters_->add_option("--page-size", page_size_, "letters per page, 1 to 1000")
      ->capture_default_str();
  letters_->add_option("--page-token", page_token_,
                       "the next page, from a previous \"(more: ...)\" line");

  letter_ = app->add_subcommand(
      "letter", "one letter of any tenant: timeline and failed attempts");
  letter_->footer(
      "Example:\n"
      "  utpostctl letter 0b7c9f2e-5d1a-4c3e-9f00-1a2b3c4d5e6f --json");
  letter_
      ->add_option("id", id_,
                   "letter id, letters/{id}, or a unique prefix of the id")
      ->required();

  redrive_ = app->add_subcommand(
      "redrive",
      "send PARKED letters back to work: one, by filter, or all (operator)");
  redrive_->footer(
      "Each letter restarts the stage it parked at, attempts reset.\n"
      "Examples:\n"
      "  utpostctl redrive 0b7c9f2e-5d1a-4c3e-9f00-1a2b3c4d5e6f\n"
      "  utpostctl redrive --channel print --reason 503\n"
      "  utpostctl redrive --tenant 964338531\n"
      "  utpostctl redrive --all --dry-run\n"
      "  utpostctl redrive --all          (asks first, on a terminal)\n"
      "  utpostctl redrive --all --yes    (in scripts)\n"
      "--all asks for confirmation on a terminal; without one (a script, a\n"
      "pipe) it needs --yes, else exits 2. --dry-run lists what would be\n"
      "redriven and changes nothing.");
  redrive_->add_option("id", id_, "one parked letter (id or unique prefix)");
  redrive_->add_flag("--all", all_, "every parked letter");
  redrive_->add_flag("--dry-run", dry_run_,
                     "list the letters it would redrive; change nothing");
  redrive_->add_flag("-y,--yes", yes_, "redrive --all without asking");
  redrive_->add_option("--tenant", tenant_,
                       "parked letters of this tenant (9 digits)");
  redrive_->add_option("--channel", channel_,
                       "parked letters of this channel: " + ChannelList());
  redrive_->add_option("--reason", reason_,
                       "parked letters whose reason contains this text");

  pause_ = app->add_subcommand(
      "pause", "stop delivering on a channel; letters wait (operator)");
  pause_->footer(
      "Every worker stops taking the channel's deliveries within seconds;\n"
      "nothing fails and no retry is counted. Undo with resume.\n"
      "Example:\n"
      "  utpostctl pause print");
  pause_->add_option("channel", channel_, "one of " + ChannelList())
      ->required();

  resume_ = app->add_subcommand("resume",
                                "deliver again on a paused channel (operator)");
  resume_->footer("Example:\n  utpostctl resume print");
  resume_->add_option("channel", channel_, "one of " + ChannelList())
      ->required();
}

int OpsCommands::CheckFilters() const {
  if (!tenant_.empty()) {
    if (auto s = CheckTenant(tenant_, "--tenant"); !s.ok()) {
      return UsageError(std::string(s.message()));
    }
  }
  if (!channel_.empty()) {
    if (auto s = CheckChannel(channel_, "--channel"); !s.ok()) {
      return UsageError(std::string(s.message()));
    }
  }
  return kOk;
}

bool OpsCommands::Selected() const {
  return status_->parsed() || letters_->parsed() || letter_->parsed() ||
         redrive_->parsed() || pause_->parsed() || resume_->parsed();
}

int OpsCommands::Run(const ConnectionOptions& c, const Output& out) {
  if (status_->parsed()) {
    int seconds = 0;
    if (watch_opt_->count() > 0) {
      seconds = 2;
      if (!watch_.empty() &&
          (!absl::SimpleAtoi(watch_, &seconds) || seconds < 1)) {
        return UsageError("--watch: expected a number of seconds (>= 1)");
      }
    }
    return RunStatus(c, out, seconds);
  }
  if (letters_->parsed()) {
    v1::OpsListLettersRequest request;
    if (!state_.empty()) {
      auto st = ParseState(state_, "--state");
      if (!st.ok()) return UsageError(std::string(st.status().message()));
      request.set_state(*st);
    }
    if (int e = CheckFilters(); e != kOk) return e;
    if (auto s = CheckPageSize(page_size_, "--page-size"); !s.ok()) {
      return UsageError(std::string(s.message()));
    }
    const int64_t now = std::time(nullptr);
    if (!older_than_.empty()) {
      auto d = ParseDurationSeconds(older_than_);
      if (!d.ok())
        return UsageError("--older-than: " + std::string(d.status().message()));
      request.mutable_created_before()->set_seconds(now - *d);
    }
    if (!newer_than_.empty()) {
      auto d = ParseDurationSeconds(newer_than_);
      if (!d.ok())
        return UsageError("--newer-than: " + std::string(d.status().message()));
      request.mutable_created_after()->set_seconds(now - *d);
    }
    request.set_tenant(tenant_);
    request.set_channel(channel_);
    request.set_client_reference(reference_);
    request.set_reason_contains(reason_);
    request.set_page_size(page_size_);
    request.set_page_token(page_token_);
    return Call(c, out, &v1::OpsService::Stub::ListLetters, request,
                PrintLetterRows);
  }
  if (letter_->parsed()) {
    int err = 0;
    auto client = OpsClient::Make(c, &err);
    if (!client) return err;
    std::string id;
    err =
        ResolveLetterId(c, client->channel(), id_, LookupScope::kOperator, &id);
    if (err != kOk) return err;
    v1::OpsGetLetterRequest request;
    request.set_name(id);
    return Call(c, out, &v1::OpsService::Stub::GetLetter, request,
                PrintOpsLetter);
  }
  if (redrive_->parsed()) {
    v1::RedriveLettersRequest request;
    const bool filter =
        !tenant_.empty() || !channel_.empty() || !reason_.empty();
    if ((!id_.empty()) + all_ + filter != 1) {
      return UsageError(
          "redrive: give one letter ID, or --all, or filters "
          "(--tenant/--channel/--reason)");
    }
    if (int e = CheckFilters(); e != kOk) return e;
    // Asked before any call: a script must not hang on a prompt, nor
    // redrive everything by accident.
    const bool prompt = all_ && !yes_ && !dry_run_;
    if (prompt && !IsTerminal(kStdin)) {
      return UsageError(
          "redrive --all: stdin is not a terminal, so it cannot be "
          "confirmed; add --yes to redrive every parked letter");
    }
    int err = 0;
    auto client = OpsClient::Make(c, &err);
    if (!client) return err;
    std::string id;
    if (!id_.empty()) {
      err = ResolveLetterId(c, client->channel(), id_, LookupScope::kOperator,
                            &id);
      if (err != kOk) return err;
    }
    if (dry_run_ || prompt) {
      std::vector<v1::OpsLetter> parked;
      err = ParkedLetters(*client, c, id, tenant_, channel_, reason_, &parked);
      if (err != kOk) return err;
      if (dry_run_) {
        PrintDryRun(out, parked);
        return kOk;
      }
      if (parked.empty()) {
        std::cout << "no parked letters; nothing to redrive\n";
        return kOk;
      }
      std::cerr << "Redrive all " << Counted(parked.size(), "parked letter")
                << " of every tenant? [y/N] " << std::flush;
      std::string answer;
      std::getline(std::cin, answer);
      answer = absl::AsciiStrToLower(absl::StripAsciiWhitespace(answer));
      if (answer != "y" && answer != "yes") {
        std::cerr << "not confirmed; nothing redriven\n";
        return kRefused;
      }
    }
    if (!id.empty()) {
      request.set_name(id);
    } else if (all_) {
      request.set_all(true);
    } else {
      request.mutable_filter()->set_tenant(tenant_);
      request.mutable_filter()->set_channel(channel_);
      request.mutable_filter()->set_reason_contains(reason_);
    }
    return Call(c, out, &v1::OpsService::Stub::RedriveLetters, request,
                [](const v1::RedriveLettersResponse& r) {
                  std::cout << "redriven " << Counted(r.redriven(), "letter")
                            << "\n";
                  for (const auto& id : r.letter_ids()) {
                    std::cout << "  " << id << "\n";
                  }
                });
  }
  if (pause_->parsed() || resume_->parsed()) {
    if (auto s = CheckChannel(channel_, "channel"); !s.ok()) {
      return UsageError(std::string(s.message()));
    }
    auto human = [](const v1::ChannelState& s) {
      if (s.paused()) {
        std::cout << "channel " << s.channel() << " paused (by "
                  << s.paused_by() << " at " << TimeUtil::ToString(s.since())
                  << ")\n";
      } else {
        std::cout << "channel " << s.channel() << " delivering\n";
      }
    };
    if (pause_->parsed()) {
      v1::PauseChannelRequest request;
      request.set_channel(channel_);
      return Call(c, out, &v1::OpsService::Stub::PauseChannel, request, human);
    }
    v1::ResumeChannelRequest request;
    request.set_channel(channel_);
    return Call(c, out, &v1::OpsService::Stub::ResumeChannel, request, human);
  }
  return kUsage;
}

}  // namespace utpost::cli
