#include "adapters/print/print_channel.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/print/cover_page.h"
#include "common/digest.h"
#include "common/mask.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

using nlohmann::json;

constexpr size_t kMaxQuoted = 300;

json AddressJson(const PostalAddress& address) {
  return {{"name", address.name},
          {"address_lines", address.lines},
          {"postal_code", address.postal_code},
          {"city", address.city},
          {"country_code",
           address.country_code.empty() ? "NO" : address.country_code}};
}

// Quotes of file names go into header parameters: a quote or line break
// there would end the header early.
std::string HeaderSafe(absl::string_view text) {
  std::string out;
  for (char c : text) {
    out.push_back(c == '"' || c == '\r' || c == '\n' ? '_' : c);
  }
  return out;
}

std::string Dump(const json& value) {
  // The library throws on text that is not UTF-8; addresses come from
  // outside, so bad bytes are replaced instead.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The provider's error code and message from a JSON error reply, if any.
std::pair<std::string, std::string> ErrorOf(const json& reply) {
  std::string code;
  std::string message;
  // Wrong types in a reply are the provider's fault and only cost detail;
  // they must not escape as exceptions.
  try {
    if (reply.is_object()) {
      if (auto error = reply.find("error");
          error != reply.end() && error->is_object()) {
        code = error->value("code", "");
        message = error->value("message", "");
      }
    }
  } catch (const std::exception&) {
  }
  return {code, message};
}

std::string Describe(absl::string_view what, absl::string_view code,
                     absl::string_view message) {
  // Masked before it is cut: a cut through a number would leave a shorter
  // run of digits, which the mask no longer recognises.
  std::string quoted =
      MaskPersonNumbersIn(std::string_view(message.data(), message.size()))
          .substr(0, kMaxQuoted);
  return MaskPersonNumbersIn(absl::StrCat(what, code.empty() ? "" : " ", code,
                                          quoted.empty() ? "" : ": ", quoted));
}

// The status for an HTTP answer about the whole job (or event feed, with
// `letters` 0). A refusal of the content of a job of one letter is a
// refusal of that letter; of a larger job it is split before it comes here.
absl::Status JobError(const HttpResponse& response, size_t letters) {
  json reply = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  auto [code, message] = ErrorOf(reply);
  std::string text =
      Describe(absl::StrCat("print provider answered HTTP ", response.status),
               code, message);
  if (response.status >= 500) return absl::UnavailableError(text);
  if (response.status == 408) return absl::DeadlineExceededError(text);
  if (response.status == 429) return absl::ResourceExhaustedError(text);
  if (response.status == 401 || response.status == 403) {
    return absl::PermissionDeniedError(text);
  }
  if (letters == 1 && IsContentRefusal(response.status)) {
    return absl::InvalidArgumentError(text);
  }
  return absl::FailedPreconditionError(text);
}

absl::Status TransportError(const absl::Status& status) {
  // The client's INVALID_ARGUMENT is about the URL, from configuration:
  // not a refusal of the letter.
  if (absl::IsInvalidArgument(status)) {
    return absl::FailedPreconditionError(status.message());
  }
  return status;
}

// A letter ready to travel: page counts known, cover page made.
struct Prepared {
  const OutgoingLetter* letter = nullptr;
  // The first document with the cover page in front; empty without one.
  std::string first_with_cover;
  std::vector<int> pages;
  std::vector<std::string> sha256;
  int64_t bytes = 0;

  const std::string& Content(size_t i) const {
    return i == 0 && !first_with_cover.empty() ? first_with_cover
                                               : letter->documents[i].content;
  }
};

// One caller waiting for its letter's result.
struct Slot {
  const Prepared* prepared = nullptr;
  absl::StatusOr<SendResult> result = absl::UnknownError("not sent");
  bool done = false;
};

class PrintChannel final : public Channel {
 public:
  PrintChannel(PrintOptions options, HttpClient* http)
      : options_(std::move(options)), http_(http) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') {
      options_.base_url.pop_back();
    }
    options_.max_letters_per_job = std::max(1, options_.max_letters_per_job);
    options_.max_jobs_in_flight = std::max(1, options_.max_jobs_in_flight);
    options_.max_wait_ms = std::max<int64_t>(0, options_.max_wait_ms);
  }

  std::string name() const override { return "print"; }

  absl::StatusOr<SendResult> Send(const OutgoingLetter& letter) override {
    absl::StatusOr<Prepared> prepared = Prepare(letter);
    if (!prepared.ok()) return prepared.status();
    Slot slot;
    slot.prepared = &*prepared;

    absl::MutexLock lock(&mu_);
    queue_.push_back(&slot);
    changed_.SignalAll();  // The collector may have a full job now.
    while (!slot.done) {
      // Not in the queue and not done means it is in a job being posted.
      if (!collecting_ && !queue_.empty()) {
        CollectAndPost();
      } else {
        changed_.Wait(&mu_);
      }
    }
    return std::move(slot.result);
  }

  absl::StatusOr<std::vector<ProviderEvent>> FetchEvents(int max) override {
    const int limit = std::max(1, std::min(max, options_.max_events_per_fetch));
    HttpRequest request;
    request.method = "GET";
    request.url =
        absl::StrCat(options_.base_url, "/print/v1/events?limit=", limit);
    request.headers = {{"Accept", "application/json"}};
    absl::StatusOr<HttpResponse> response = http_->Do(request);
    if (!response.ok()) return TransportError(response.status());
    if (response->status != 200) return JobError(*response, 0);
    json reply =
        json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    std::vector<ProviderEvent> events;
    std::vector<std::string> unknown;
    try {
      if (!reply.is_object() || !reply.contains("events") ||
          !reply["events"].is_array()) {
        return absl::UnavailableError(
            "print provider's event feed is not {\"events\": [...]}");
      }
      for (const json& e : reply["events"]) {
        if (!e.is_object()) continue;
        ProviderEvent event;
        event.event_id = e.value("id", "");
        event.message_id = e.value("message_id", "");
        event.time_ms = e.value("time_ms", int64_t{0});
        event.reason = MaskPersonNumbersIn(e.value("reason", ""));
        event.provider = Provider();
        event.evidence = Dump(e);
        const std::string type = e.value("type", "");
        if (event.event_id.empty()) continue;
        if (type == "RECEIVED") {
          event.kind = ProviderEvent::Kind::kPrintReceived;
        } else if (type == "POSTED") {
          event.kind = ProviderEvent::Kind::kPosted;
        } else if (type == "RETURNED") {
          event.kind = ProviderEvent::Kind::kReturned;
        } else if (type == "FAILED") {
          event.kind = ProviderEvent::Kind::kFailed;
        } else {
          unknown.push_back(event.event_id);
          continue;
        }
        if (event.message_id.empty()) {
          unknown.push_back(event.event_id);
          continue;
        }
        events.push_back(std::move(event));
      }
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("print provider's event feed: ", e.what()));
    }
    // Nothing will ever confirm what nobody can use; left in the queue it
    // would come back on every fetch.
    if (!unknown.empty()) (void)ConfirmEvents(unknown);
    return events;
  }

  absl::Status ConfirmEvents(const std::vector<std::string>& ids) override {
    if (ids.empty()) return absl::OkStatus();
    HttpRequest request;
    request.method = "POST";
    request.url = absl::StrCat(options_.base_url, "/print/v1/events/ack");
    request.headers = {{"Content-Type", "application/json"}};
    request.body = Dump(json{{"event_ids", ids}});
    absl::StatusOr<HttpResponse> response = http_->Do(request);
    if (!response.ok()) return TransportError(response.status());
    if (response->status >= 200 && response->status < 300) {
      return absl::OkStatus();
    }
    return JobError(*response, 0);
  }

 private:
  std::string Provider() const {
    return options_.provider.empty() ? "print" : options_.provider;
  }

  absl::StatusOr<Prepared> Prepare(const OutgoingLetter& letter) const {
    if (letter.message_id.empty()) {
      return absl::InvalidArgumentError("letter has no message id");
    }
    if (letter.documents.empty()) {
      return absl::InvalidArgumentError("letter has no documents");
    }
    if (letter.recipient_address.name.empty()) {
      return absl::InvalidArgumentError("letter has no recipient address");
    }
    Prepared p;
    p.letter = &letter;
    if (options_.cover_page) {
      absl::StatusOr<std::string> cover =
          MakeCoverPage(options_.cover_page_options, letter.recipient_address,
                        letter.return_address, letter.duplex);
      if (!cover.ok()) return cover.status();
      absl::StatusOr<std::string> merged =
          PrependPdf(*cover, letter.documents[0].content);
      if (!merged.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "documents[0]: ",
            MaskPersonNumbersIn(std::string(merged.status().message()))));
      }
      p.first_with_cover = *std::move(merged);
    }
    for (size_t i = 0; i < letter.documents.size(); ++i) {
      const std::string& content = p.Content(i);
      absl::StatusOr<int> pages = CountPdfPages(content);
      if (!pages.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "documents[", i,
            "]: ", MaskPersonNumbersIn(std::string(pages.status().message()))));
      }
      p.pages.push_back(*pages);
      const std::string& given = letter.documents[i].sha256_hex;
      p.sha256.push_back(given.empty() || (i == 0 && options_.cover_page)
                             ? utpost::Sha256Hex(content)
                             : given);
      p.bytes += static_cast<int64_t>(content.size());
    }
    return p;
  }

  // Runs with mu_ held, as the one collector: waits for a job's worth of
  // letters (or the deadline) and a free posting slot, takes the job and
  // posts it with mu_ released.
  void CollectAndPost() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    collecting_ = true;
    const absl::Time deadline =
        absl::Now() + absl::Milliseconds(options_.max_wait_ms);
    while (true) {
      const bool can_post = in_flight_ < options_.max_jobs_in_flight;
      if (can_post && (JobIsFull() || absl::Now() >= deadline)) break;
      if (can_post) {
        changed_.WaitWithDeadline(&mu_, deadline);
      } else {
        changed_.Wait(&mu_);
      }
    }
    std::vector<Slot*> job;
    std::set<std::string> ids;
    int64_t bytes = 0;
    for (auto it = queue_.begin();
         it != queue_.end() &&
         static_cast<int>(job.size()) < options_.max_letters_per_job;) {
      const Prepared& p = *(*it)->prepared;
      // A letter sent twice at once (a redelivery racing the first try)
      // waits for the next job, where the provider calls it a duplicate.
      if (ids.count(p.letter->message_id) > 0 ||
          (!job.empty() && bytes + p.bytes > options_.max_job_bytes)) {
        ++it;
        continue;
      }
      ids.insert(p.letter->message_id);
      bytes += p.bytes;
      job.push_back(*it);
      it = queue_.erase(it);
    }
    collecting_ = false;
    ++in_flight_;
    changed_.SignalAll();  // Someone else may collect the next job now.

    mu_.Unlock();
    PostJob(job);
    mu_.Lock();

    --in_flight_;
    for (Slot* slot : job) slot->done = true;
    changed_.SignalAll();
  }

  bool JobIsFull() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (static_cast<int>(queue_.size()) >= options_.max_letters_per_job) {
      return true;
    }
    int64_t bytes = 0;
    for (const Slot* slot : queue_) bytes += slot->prepared->bytes;
    return bytes >= options_.max_job_bytes;
  }

  static json LetterManifest(const Prepared& p, size_t index) {
    const OutgoingLetter& letter = *p.letter;
    json documents = json::array();
    int pages = 0;
    int sheets = 0;
    for (size_t i = 0; i < letter.documents.size(); ++i) {
      documents.push_back(
          {{"part", absl::StrCat("document-", index, "-", i)},
           {"file_name", HeaderSafe(letter.documents[i].file_name)},
           {"sha256", p.sha256[i]},
           {"pages", p.pages[i]}});
      pages += p.pages[i];
      sheets += letter.duplex ? (p.pages[i] + 1) / 2 : p.pages[i];
    }
    return {
        {"message_id", letter.message_id},
        {"sender", {{"organisation_number", letter.tenant}}},
        {"recipient", AddressJson(letter.recipient_address)},
        {"return_address", AddressJson(letter.return_address)},
        {"colour", letter.color ? "COLORS" : "MONOCHROME"},
        {"duplex", letter.duplex},
        {"post_type", letter.a_post ? "A" : "B"},
        {"return_handling",
         letter.shred_if_undeliverable ? "SHRED" : "RETURN_TO_SENDER"},
        {"cover_page", !p.first_with_cover.empty()},
        {"pages", pages},
        {"sheets", sheets},
        {"documents", std::move(documents)},
    };
  }

  // Posts one job and fills in every slot's result. Runs without mu_; the
  // slots are this job's alone until it marks them done.
  //
  // A job the provider refuses for its content (IsContentRefusal) does not
  // take its good letters with it: the letters the refusal names fail
  // alone and the rest go again in a new job; a refusal that names no
  // letter splits the job in halves, each posted as a job of its own, until
  // the bad letters travel alone and get their own verdict. A job of n
  // letters with one bad letter costs at most 2 * ceil(log2 n) more jobs.
  void PostJob(const std::vector<Slot*>& job) {
    std::vector<std::vector<Slot*>> pending = {job};
    while (!pending.empty()) {
      std::vector<Slot*> group = std::move(pending.back());
      pending.pop_back();
      std::vector<std::vector<Slot*>> again = PostOnce(group);
      // Pushed in reverse so that the first half goes first.
      for (auto it = again.rbegin(); it != again.rend(); ++it) {
        if (!it->empty()) pending.push_back(std::move(*it));
      }
    }
  }

  // Posts `job` once. Fills in the results it has; returns the groups of
  // letters to post again, each as a job of its own (each smaller than
  // `job`).
  std::vector<std::vector<Slot*>> PostOnce(const std::vector<Slot*>& job) {
    std::vector<std::string> ids;
    json letters = json::array();
    for (size_t i = 0; i < job.size(); ++i) {
      ids.push_back(job[i]->prepared->letter->message_id);
      letters.push_back(LetterManifest(*job[i]->prepared, i));
    }
    const std::string job_id =
        utpost::Sha256Hex(absl::StrJoin(ids, "\n")).substr(0, 32);
    const std::string manifest =
        Dump(json{{"job_id", job_id}, {"letters", std::move(letters)}});

    const std::string boundary = absl::StrCat("utpost-", job_id);
    HttpRequest request;
    request.method = "POST";
    request.url = absl::StrCat(options_.base_url, "/print/v1/jobs");
    request.headers = {
        {"Content-Type",
         absl::StrCat("multipart/form-data; boundary=", boundary)},
        {"Accept", "application/json"}};
    std::string& body = request.body;
    absl::StrAppend(&body, "--", boundary, "\r\n",
                    "Content-Disposition: form-data; name=\"manifest\"\r\n",
                    "Content-Type: application/json\r\n\r\n", manifest, "\r\n");
    for (size_t i = 0; i < job.size(); ++i) {
      const Prepared& p = *job[i]->prepared;
      for (size_t d = 0; d < p.letter->documents.size(); ++d) {
        absl::StrAppend(&body, "--", boundary, "\r\n",
                        "Content-Disposition: form-data; name=\"document-", i,
                        "-", d, "\"; filename=\"",
                        HeaderSafe(p.letter->documents[d].file_name), "\"\r\n",
                        "Content-Type: application/pdf\r\n\r\n");
        body.append(p.Content(d));
        body.append("\r\n");
      }
    }
    absl::StrAppend(&body, "--", boundary, "--\r\n");

    absl::StatusOr<HttpResponse> response = http_->Do(request);
    if (!response.ok()) {
      for (Slot* slot : job) slot->result = TransportError(response.status());
      return {};
    }
    json reply =
        json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (response->status != 200 && response->status != 201) {
      if (job.size() > 1 && IsContentRefusal(response->status)) {
        return SplitRefused(job, reply);
      }
      absl::Status error = JobError(*response, job.size());
      // A lone letter refused: the provider's own words about it, if any.
      if (job.size() == 1 && IsLetterRefusal(error)) {
        if (std::optional<absl::Status> own =
                RejectionOf(reply, job[0]->prepared->letter->message_id)) {
          error = *own;
        }
      }
      for (Slot* slot : job) slot->result = error;
      return {};
    }
    for (Slot* slot : job) {
      slot->result = absl::UnavailableError(
          absl::StrCat("print provider's reply to job ", job_id,
                       " does not mention the letter"));
    }
    try {
      if (!reply.is_object() || !reply.contains("letters") ||
          !reply["letters"].is_array()) {
        return {};
      }
      for (const json& answer : reply["letters"]) {
        if (!answer.is_object()) continue;
        const std::string id = answer.value("message_id", "");
        auto slot = std::find_if(job.begin(), job.end(), [&id](Slot* s) {
          return s->prepared->letter->message_id == id;
        });
        if (slot == job.end()) continue;
        const std::string status = answer.value("status", "");
        if (status == "RECEIVED") {
          SendResult result;
          result.outcome = SendResult::Outcome::kAccepted;
          result.provider = Provider();
          result.provider_reference =
              absl::StrCat("job ", job_id, ": RECEIVED");
          (*slot)->result = result;
        } else if (status == "DUPLICATE") {
          SendResult result;
          result.outcome = SendResult::Outcome::kDuplicate;
          result.provider = Provider();
          result.provider_reference =
              absl::StrCat("job ", job_id, ": DUPLICATE");
          (*slot)->result = result;
        } else if (status == "REJECTED") {
          auto [code, message] = ErrorOf(answer);
          (*slot)->result = absl::InvalidArgumentError(
              Describe("print provider rejected the letter:", code, message));
        } else {
          (*slot)->result = absl::UnavailableError(Describe(
              "print provider answered the letter with status", status, ""));
        }
      }
    } catch (const std::exception& e) {
      // What was read stays; the rest keep "does not mention".
    }
    return {};
  }

  // The provider's REJECTED result for `message_id` in a reply's "letters",
  // if it has one.
  static std::optional<absl::Status> RejectionOf(
      const json& reply, const std::string& message_id) {
    try {
      if (!reply.is_object() || !reply.contains("letters") ||
          !reply["letters"].is_array()) {
        return std::nullopt;
      }
      for (const json& answer : reply["letters"]) {
        if (!answer.is_object() ||
            answer.value("message_id", "") != message_id ||
            answer.value("status", "") != "REJECTED") {
          continue;
        }
        auto [code, message] = ErrorOf(answer);
        return absl::InvalidArgumentError(
            Describe("print provider rejected the letter:", code, message));
      }
    } catch (const std::exception&) {
    }
    return std::nullopt;
  }

  // A job of several letters refused for its content: the letters the
  // reply names as REJECTED fail with its words, the others go again
  // together; with none named, the job goes again in two halves.
  std::vector<std::vector<Slot*>> SplitRefused(const std::vector<Slot*>& job,
                                               const json& reply) {
    std::vector<Slot*> rest;
    bool named = false;
    for (Slot* slot : job) {
      std::optional<absl::Status> own =
          RejectionOf(reply, slot->prepared->letter->message_id);
      if (own.has_value()) {
        slot->result = *own;
        named = true;
      } else {
        rest.push_back(slot);
      }
    }
    if (named) return {rest};
    const size_t half = job.size() / 2;
    return {std::vector<Slot*>(job.begin(), job.begin() + half),
            std::vector<Slot*>(job.begin() + half, job.end())};
  }

  PrintOptions options_;
  HttpClient* const http_;

  absl::Mutex mu_;
  absl::CondVar changed_;
  // Letters waiting for a job, oldest first.
  std::deque<Slot*> queue_ ABSL_GUARDED_BY(mu_);
  // True while one caller is gathering the next job.
  bool collecting_ ABSL_GUARDED_BY(mu_) = false;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::unique_ptr<Channel> NewPrintChannel(PrintOptions options,
                                         HttpClient* http) {
  return std::make_unique<PrintChannel>(std::move(options), http);
}

}  // namespace utpost::adapters
