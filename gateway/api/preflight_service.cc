#include "gateway/api/preflight_service.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/mask.h"
#include "common/status_macros.h"
#include "gateway/api/document_upload.h"
#include "spdlog/spdlog.h"

namespace utpost::api {
namespace {

using Mode = v1::DeliveryPolicy;

// The channels in the order totals list them.
const char* const kChannels[] = {
    dispatch::kDigitalChannel, dispatch::kDpiChannel, dispatch::kAltinnChannel,
    dispatch::kPrintChannel};

// How long a letter waits for a busy inspector, in all.
constexpr absl::Duration kBusyWait = absl::Seconds(60);

std::string Message(const absl::Status& s) {
  return MaskPersonNumbersIn(
      std::string_view(s.message().data(), s.message().size()));
}

Mode::Mode PolicyOf(const v1::SubmitLetterRequest& letter) {
  const Mode::Mode m = letter.delivery_policy().mode();
  return m == Mode::MODE_UNSPECIFIED ? Mode::DIGITAL_THEN_PRINT : m;
}

// The totals of `response`'s outcomes.
void Sum(const PreflightOptions& options, const std::set<std::string>& paused,
         v1::PreflightLettersResponse* response) {
  v1::PreflightTotals* t = response->mutable_totals();
  t->set_currency(options.prices.currency);
  t->set_priced(options.prices.configured);
  std::map<std::string, v1::PreflightChannelTotal*> by_channel;
  for (const char* name : kChannels) {
    v1::PreflightChannelTotal* c = t->add_channels();
    c->set_channel(name);
    c->set_configured(options.configured_channels.count(name) > 0);
    c->set_paused(paused.count(name) > 0);
    by_channel[name] = c;
  }
  std::map<int, int> failures;
  for (const v1::PreflightOutcome& o : response->outcomes()) {
    t->set_letters(t->letters() + 1);
    if (o.failure() != v1::PREFLIGHT_FAILURE_UNSPECIFIED) {
      t->set_would_fail(t->would_fail() + 1);
      ++failures[o.failure()];
      continue;
    }
    t->set_would_send(t->would_send() + 1);
    v1::PreflightChannelTotal* c = by_channel[o.channel()];
    c->set_letters(c->letters() + 1);
    c->set_cost(c->cost() + o.cost());
    t->set_cost(t->cost() + o.cost());
    if (o.channel() == dispatch::kPrintChannel) {
      c->set_sheets(c->sheets() + o.sheets());
      c->set_envelopes(c->envelopes() + 1);
      t->set_print_sheets(t->print_sheets() + o.sheets());
      t->set_envelopes(t->envelopes() + 1);
    }
  }
  for (const auto& [failure, n] : failures) {
    v1::PreflightFailureTotal* f = t->add_failures();
    f->set_failure(static_cast<v1::PreflightFailure>(failure));
    f->set_letters(n);
  }
}

}  // namespace

PreflightService::PreflightService(
    adapters::Registry* persons, adapters::OrganisationRegistry* organisations,
    PreflightOptions options)
    : persons_(persons),
      organisations_(organisations),
      options_(std::move(options)),
      own_inspector_(options_.inspector == nullptr
                         ? inspect::NewInProcessInspector()
                         : nullptr),
      inspector_(options_.inspector != nullptr ? options_.inspector
                                               : own_inspector_.get()) {}

PreflightService::~PreflightService() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* running) { return *running == 0; }, &running_));
}

absl::Status PreflightService::Inspect(const std::string& tenant,
                                       const v1::SubmitLetterRequest& letter,
                                       std::vector<int>* page_counts) {
  // Uploaded documents are inspected as SubmitLetter would, once found.
  ASSIGN_OR_RETURN(
      std::shared_ptr<v1::SubmitLetterRequest> resolved,
      ResolveUploads(options_.uploads, tenant, letter, options_.limits));
  inspect::InspectionRequest request =
      InspectionFor(resolved != nullptr ? *resolved : letter, options_.limits);
  request.page_counts = page_counts;
  request.reuse_key = tenant;
  const absl::Time give_up = absl::Now() + kBusyWait;
  while (true) {
    absl::Mutex mu;
    bool done = false;
    absl::Status result;
    inspector_->Inspect(request, [&](absl::Status s) {
      absl::MutexLock lock(&mu);
      result = std::move(s);
      done = true;
    });
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(&done));
    }
    // The shared sandbox is busy with submissions: wait for a free slot
    // rather than report a letter that would be fine.
    if (absl::IsResourceExhausted(result) && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(50));
      continue;
    }
    return result;
  }
}

absl::StatusOr<v1::PreflightLettersResponse> PreflightService::Run(
    const std::string& tenant, const v1::PreflightLettersRequest& request) {
  const int n = request.letters_size();
  if (n == 0) {
    return absl::InvalidArgumentError("letters: at least one letter");
  }
  if (n > options_.max_letters) {
    return absl::InvalidArgumentError(
        absl::StrCat("letters: at most ", options_.max_letters,
                     " letters per call (got ", n, "); split the batch"));
  }
  v1::PreflightLettersResponse response;
  std::vector<v1::PreflightOutcome*> out(n);
  for (int i = 0; i < n; ++i) {
    out[i] = response.add_outcomes();
    out[i]->set_index(i);
    out[i]->set_client_reference(request.letters(i).client_reference());
  }
  auto fail = [&](int i, v1::PreflightFailure why, std::string reason) {
    out[i]->set_failure(why);
    out[i]->set_reason(MaskPersonNumbersIn(reason));
  };

  // Fields first, in order, so that the first of two letters with one
  // client reference is the one that would be created.
  std::map<std::string, int> references;
  std::vector<int> to_inspect;
  for (int i = 0; i < n; ++i) {
    const v1::SubmitLetterRequest& letter = request.letters(i);
    if (absl::Status s = ValidateSubmitLetter(letter, options_.limits);
        !s.ok()) {
      fail(i, v1::INVALID_LETTER, Message(s));
      continue;
    }
    auto [it, fresh] = references.emplace(letter.client_reference(), i);
    if (!fresh) {
      fail(i, v1::DUPLICATE_CLIENT_REFERENCE,
           absl::StrCat("client_reference: also letter ", it->second,
                        " of this request"));
      continue;
    }
    to_inspect.push_back(i);
  }

  // The documents, a few letters at a time.
  std::vector<std::vector<int>> pages(n);
  std::vector<absl::Status> inspected(n);
  std::atomic<size_t> next{0};
  auto inspect = [&] {
    for (size_t k; (k = next++) < to_inspect.size();) {
      const int i = to_inspect[k];
      inspected[i] = Inspect(tenant, request.letters(i), &pages[i]);
    }
  };
  {
    std::vector<std::thread> threads;
    const int parallel = std::max(
        1, std::min<int>(options_.parallel_inspections, to_inspect.size()));
    for (int t = 1; t < parallel; ++t) threads.emplace_back(inspect);
    inspect();
    for (auto& t : threads) t.join();
  }
  std::vector<int> to_route;
  for (int i : to_inspect) {
    const absl::Status& s = inspected[i];
    if (absl::IsUnavailable(s)) return s;
    if (!s.ok()) {
      fail(i, v1::INVALID_LETTER, Message(s));
      continue;
    }
    to_route.push_back(i);
  }

  // The persons together, each organisation once.
  std::vector<std::string> numbers;
  for (int i : to_route) {
    const v1::SubmitLetterRequest& letter = request.letters(i);
    if (PolicyOf(letter) != Mode::PRINT_ONLY &&
        letter.recipient().has_person()) {
      numbers.push_back(letter.recipient().person());
    }
  }
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  std::map<std::string, adapters::PersonContact> persons;
  absl::Status persons_status = absl::OkStatus();
  if (!numbers.empty()) {
    auto found = persons_->LookupPersons(numbers);
    if (found.ok()) {
      for (auto& c : *found) persons[c.person_number] = std::move(c);
    } else {
      persons_status = found.status();
    }
  }
  std::map<std::string, absl::StatusOr<adapters::OrganisationContact>>
      organisations;

  std::set<std::string> paused;
  if (options_.paused_channels) {
    auto now = options_.paused_channels();
    if (now.ok()) {
      paused = std::move(*now);
    } else {
      spdlog::warn("preflight: paused channels unknown: {}",
                   now.status().ToString());
    }
  }

  for (int i : to_route) {
    const v1::SubmitLetterRequest& letter = request.letters(i);
    const v1::Recipient& recipient = letter.recipient();
    dispatch::RoutingInput in;
    in.mode = PolicyOf(letter);
    in.organisation = recipient.has_organisation();
    in.has_postal_address = recipient.has_postal_address();
    if (in.mode != Mode::PRINT_ONLY && !in.organisation) {
      if (!persons_status.ok()) {
        fail(i, v1::REGISTRY_UNAVAILABLE,
             absl::StrCat("registry: ", Message(persons_status)));
        continue;
      }
      if (auto it = persons.find(recipient.person()); it != persons.end()) {
        in.person = &it->second;
      }
    } else if (in.organisation && organisations_ != nullptr &&
               (in.mode != Mode::PRINT_ONLY || !in.has_postal_address)) {
      auto it = organisations.find(recipient.organisation());
      if (it == organisations.end()) {
        it = organisations
                 .emplace(recipient.organisation(),
                          organisations_->LookupOrganisation(
                              recipient.organisation()))
                 .first;
      }
      if (!it->second.ok()) {
        fail(i, v1::REGISTRY_UNAVAILABLE,
             absl::StrCat("business registry: ", Message(it->second.status())));
        continue;
      }
      in.org = &*it->second;
    }
    const dispatch::RoutingDecision d =
        dispatch::DecideRoute(in, options_.routing);
    if (d.failed()) {
      fail(i,
           in.mode == Mode::DIGITAL_ONLY ? v1::NO_DIGITAL_CHANNEL
                                         : v1::NO_POSTAL_ADDRESS,
           d.reason);
      continue;
    }
    if (options_.configured_channels.count(d.channel) == 0) {
      fail(i, v1::CHANNEL_NOT_CONFIGURED,
           absl::StrCat("channel \"", d.channel, "\" is needed (", d.reason,
                        ") but not configured on this gateway; the letter "
                        "would be parked"));
      continue;
    }
    v1::PreflightOutcome* o = out[i];
    o->set_channel(d.channel);
    o->set_reason(MaskPersonNumbersIn(d.reason));
    o->set_channel_paused(paused.count(d.channel) > 0);
    const bool a_post =
        letter.print_options().post_type() == v1::PrintOptions::A;
    int sheets = 0;
    if (d.channel == dispatch::kPrintChannel) {
      sheets = PrintSheetsOf(letter, pages[i], options_.limits);
      o->set_sheets(sheets);
    }
    o->set_cost(LetterCost(options_.prices, d.channel, sheets, a_post));
    // What it would cost printed, for the comparison.
    const int print_sheets = PrintSheetsOf(letter, pages[i], options_.limits);
    response.mutable_totals()->set_cost_all_print(
        response.totals().cost_all_print() + LetterCost(options_.prices,
                                                        dispatch::kPrintChannel,
                                                        print_sheets, a_post));
  }
  Sum(options_, paused, &response);
  spdlog::info("preflight of {} letters for tenant {}: {} would go, {} fail", n,
               tenant, response.totals().would_send(),
               response.totals().would_fail());
  return response;
}

void PreflightService::RunAsync(const std::string& tenant,
                                const v1::PreflightLettersRequest* request,
                                v1::PreflightLettersResponse* response,
                                std::function<void(absl::Status)> done) {
  bool busy;
  {
    absl::MutexLock lock(&mu_);
    busy = running_ >= options_.max_calls;
    if (!busy) ++running_;
  }
  if (busy) {
    done(absl::ResourceExhaustedError(
        "preflight is busy with other calls; retry shortly"));
    return;
  }
  std::thread([this, tenant, request, response, done = std::move(done)] {
    auto result = Run(tenant, *request);
    if (result.ok()) *response = std::move(*result);
    done(result.status());
    absl::MutexLock lock(&mu_);
    --running_;
  }).detach();
}

}  // namespace utpost::api
