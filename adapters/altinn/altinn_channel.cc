#include "adapters/altinn/altinn_channel.h"

#include <openssl/rand.h>

#include <exception>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/json_fields.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

using nlohmann::json;

constexpr char kOrgUrn[] = "urn:altinn:organization:identifier-no:";
constexpr char kEventPrefix[] = "no.altinn.correspondence.";
constexpr size_t kMaxErrorExcerpt = 300;
constexpr char kDefaultEmailSubject[] = "Ny melding i Altinn";
constexpr char kDefaultEmailBody[] =
    "Virksomheten har fått en ny melding i Altinn. Logg inn for å lese den.";
constexpr char kDefaultSmsBody[] =
    "Virksomheten har fått en ny melding i Altinn.";

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// "title: detail" of an RFC 9457 problem, or the body's start.
std::string ProblemText(const std::string& body) {
  json p = json::parse(body, nullptr, false);
  if (p.is_object()) {
    std::string title = StringField(p, "title");
    std::string detail = StringField(p, "detail");
    if (!title.empty() || !detail.empty()) {
      return absl::StrCat(title, detail.empty() ? "" : ": ", detail);
    }
  }
  return body.substr(0, kMaxErrorExcerpt);
}

absl::Status ErrorFromStatus(int status, const std::string& body) {
  std::string message =
      absl::StrCat("Altinn answered HTTP ", status, ": ", ProblemText(body));
  if (status >= 500 || status == 429) return absl::UnavailableError(message);
  if (status == 408) return absl::DeadlineExceededError(message);
  if (status == 401) return absl::UnauthenticatedError(message);
  if (status == 403) return absl::PermissionDeniedError(message);
  // The request's content (IsContentRefusal) or a document type Altinn
  // does not take: this correspondence's own data.
  if (IsContentRefusal(status) || status == 415) {
    return absl::InvalidArgumentError(message);
  }
  return absl::FailedPreconditionError(message);
}

std::string Boundary() {
  unsigned char raw[12];
  RAND_bytes(raw, sizeof(raw));
  return absl::StrCat("utpost-",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(raw), sizeof(raw))));
}

std::string QuoteParam(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '"' || c == '\\' || c == '\r' || c == '\n')
      out.push_back('_');
    else
      out.push_back(c);
  }
  return out;
}

std::optional<ProviderEvent::Kind> KindOf(absl::string_view type) {
  if (!absl::ConsumePrefix(&type, kEventPrefix)) return std::nullopt;
  if (type == "correspondencepublished") return ProviderEvent::Kind::kDelivered;
  if (type == "correspondencereceiverread" ||
      type == "correspondencereceiverconfirmed") {
    return ProviderEvent::Kind::kRead;
  }
  if (type == "correspondencepublishfailed") {
    return ProviderEvent::Kind::kFailed;
  }
  if (type == "notificationfailed" ||
      type == "correspondencenotificationfailed") {
    return ProviderEvent::Kind::kNotificationFailed;
  }
  return std::nullopt;
}

struct Details {
  std::string message_id;
  std::string status_text;
};

class AltinnChannel final : public Channel {
 public:
  AltinnChannel(AltinnOptions options, HttpClient* http)
      : options_(std::move(options)),
        http_(http),
        clock_(options_.clock != nullptr ? options_.clock : RealClock()) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') {
      options_.base_url.pop_back();
    }
    if (options_.language.empty()) options_.language = "nb";
    if (options_.notification_email_subject.empty()) {
      options_.notification_email_subject = kDefaultEmailSubject;
    }
    if (options_.notification_email_body.empty()) {
      options_.notification_email_body = kDefaultEmailBody;
    }
    if (options_.notification_sms_body.empty()) {
      options_.notification_sms_body = kDefaultSmsBody;
    }
  }

  std::string name() const override { return "altinn"; }

  absl::StatusOr<SendResult> Send(const OutgoingLetter& letter) override {
    if (letter.organisation_number.empty()) {
      return absl::InvalidArgumentError(
          "recipient: Altinn delivers to organisations only");
    }
    if (letter.message_id.empty()) {
      return absl::InvalidArgumentError("message_id: required");
    }
    json correspondence = {
        {"resourceId", options_.resource_id},
        {"sender", absl::StrCat(kOrgUrn, letter.tenant)},
        {"sendersReference", letter.message_id},
        {"recipients",
         json::array({absl::StrCat(kOrgUrn, letter.organisation_number)})},
        {"content",
         {{"language", options_.language},
          {"messageTitle", letter.title},
          {"messageSummary", letter.title},
          {"messageBody",
           letter.documents.empty()
               ? letter.title
               : absl::StrCat(letter.title, "\n\nSe vedlegg: ",
                              letter.documents.front().file_name)}}},
        {"requestedPublishTime", FormatRfc3339(clock_->NowMillis())},
        {"notification",
         {{"notificationTemplate", "CustomMessage"},
          {"emailSubject", options_.notification_email_subject},
          {"emailBody", options_.notification_email_body},
          {"smsBody", options_.notification_sms_body},
          {"sendReminder", false}}},
        {"isConfidential", letter.confidential},
        {"idempotentKey", letter.message_id}};
    std::string boundary = Boundary();
    std::string body;
    absl::StrAppend(
        &body, "--", boundary, "\r\n",
        "Content-Disposition: form-data; name=\"correspondence\"\r\n",
        "Content-Type: application/json\r\n\r\n", Dump(correspondence), "\r\n");
    for (const OutgoingDocument& d : letter.documents) {
      absl::StrAppend(
          &body, "--", boundary, "\r\n",
          "Content-Disposition: form-data; name=\"attachments\"; filename=\"",
          QuoteParam(d.file_name), "\"\r\n", "Content-Type: ",
          d.media_type.empty() ? "application/octet-stream" : d.media_type,
          "\r\n\r\n", d.content, "\r\n");
    }
    absl::StrAppend(&body, "--", boundary, "--\r\n");
    HttpRequest request;
    request.method = "POST";
    request.url = absl::StrCat(options_.base_url,
                               "/correspondence/api/v1/correspondence/upload");
    request.headers = {
        {"Content-Type",
         absl::StrCat("multipart/form-data; boundary=", boundary)},
        {"Accept", "application/json"}};
    request.body = std::move(body);
    ASSIGN_OR_RETURN(HttpResponse response, Authorized(std::move(request)));
    if (response.status == 409) {
      json p = json::parse(response.body, nullptr, false);
      SendResult result;
      result.outcome = SendResult::Outcome::kDuplicate;
      if (p.is_object())
        result.provider_reference = StringField(p, "correspondenceId");
      return result;
    }
    if (response.status != 200 && response.status != 201) {
      return ErrorFromStatus(response.status, response.body);
    }
    json reply = json::parse(response.body, nullptr, false);
    SendResult result;
    try {
      const json& first = reply.at("correspondences").at(0);
      result.provider_reference =
          first.at("correspondenceId").get<std::string>();
      result.delivered = first.value("status", "") == "Published";
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("Altinn reply is malformed: ", e.what()));
    }
    absl::MutexLock lock(&mu_);
    known_[result.provider_reference] = Details{letter.message_id, ""};
    return result;
  }

  absl::StatusOr<std::vector<ProviderEvent>> FetchEvents(int max) override {
    std::string after;
    if (options_.positions != nullptr) {
      ASSIGN_OR_RETURN(after, options_.positions->Load(FeedName()));
      absl::MutexLock lock(&mu_);
      cursor_ = after;  // Another worker may have moved it.
    } else {
      absl::MutexLock lock(&mu_);
      after = cursor_;
    }
    HttpRequest request;
    request.method = "GET";
    request.url =
        absl::StrCat(options_.base_url,
                     "/events/api/v1/events?resource=urn:altinn:resource:",
                     options_.resource_id, "&size=", std::max(1, max),
                     after.empty() ? "" : absl::StrCat("&after=", after));
    request.headers = {{"Accept", "application/cloudevents-batch+json"}};
    ASSIGN_OR_RETURN(HttpResponse response, Authorized(std::move(request)));
    if (response.status != 200) {
      return ErrorFromStatus(response.status, response.body);
    }
    json events = json::parse(response.body, nullptr, false);
    if (!events.is_array()) {
      return absl::UnavailableError("Altinn events reply is not a list");
    }
    std::vector<ProviderEvent> out;
    std::vector<std::pair<std::string, bool>> page;  // id, returned
    for (const json& e : events) {
      if (!e.is_object()) continue;
      std::string id = StringField(e, "id");
      if (id.empty()) continue;
      std::optional<ProviderEvent::Kind> kind = KindOf(StringField(e, "type"));
      std::string correspondence = StringField(e, "resourceinstance");
      if (!kind.has_value() || correspondence.empty()) {
        page.emplace_back(id, false);
        continue;
      }
      ASSIGN_OR_RETURN(
          Details details,
          DetailsOf(correspondence, *kind == ProviderEvent::Kind::kFailed));
      if (details.message_id.empty()) {
        // Not one of ours (sent by another system under the resource).
        page.emplace_back(id, false);
        continue;
      }
      ProviderEvent event;
      event.event_id = id;
      event.message_id = details.message_id;
      event.kind = *kind;
      event.provider = "altinn";
      event.reason = details.status_text;
      absl::Time time;
      std::string error;
      event.time_ms = absl::ParseTime(absl::RFC3339_full,
                                      StringField(e, "time"), &time, &error)
                          ? absl::ToUnixMillis(time)
                          : clock_->NowMillis();
      out.push_back(std::move(event));
      page.emplace_back(id, true);
    }
    std::string from;
    std::string to;
    {
      absl::MutexLock lock(&mu_);
      page_ = std::move(page);
      from = cursor_;
      AdvanceCursor({});
      to = cursor_;
    }
    RETURN_IF_ERROR(SaveCursor(from, to));
    return out;
  }

  absl::Status ConfirmEvents(const std::vector<std::string>& ids) override {
    std::string from;
    std::string to;
    {
      absl::MutexLock lock(&mu_);
      from = cursor_;
      AdvanceCursor(std::set<std::string>(ids.begin(), ids.end()));
      to = cursor_;
    }
    return SaveCursor(from, to);
  }

 private:
  std::string FeedName() const {
    return absl::StrCat("altinn:", options_.resource_id);
  }

  // Keeps where the cursor went, for a restart or another worker. When
  // another worker moved it first, the next FetchEvents takes its position.
  absl::Status SaveCursor(const std::string& from, const std::string& to) {
    if (options_.positions == nullptr || from == to) return absl::OkStatus();
    return options_.positions->Move(FeedName(), from, to).status();
  }

  // Moves the cursor over the page's leading events that are confirmed or
  // were never returned (types we do not map).
  void AdvanceCursor(const std::set<std::string>& confirmed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto& entry : page_) {
      if (confirmed.count(entry.first) > 0) entry.second = false;
    }
    size_t i = 0;
    while (i < page_.size() && !page_[i].second) {
      cursor_ = page_[i].first;
      ++i;
    }
    page_.erase(page_.begin(), page_.begin() + static_cast<std::ptrdiff_t>(i));
  }

  absl::StatusOr<Details> DetailsOf(const std::string& correspondence,
                                    bool want_status_text) {
    {
      absl::MutexLock lock(&mu_);
      auto it = known_.find(correspondence);
      if (it != known_.end() && !want_status_text) return it->second;
    }
    HttpRequest request;
    request.method = "GET";
    request.url =
        absl::StrCat(options_.base_url,
                     "/correspondence/api/v1/correspondence/", correspondence);
    request.headers = {{"Accept", "application/json"}};
    ASSIGN_OR_RETURN(HttpResponse response, Authorized(std::move(request)));
    if (response.status == 404) return Details{};
    if (response.status != 200) {
      return ErrorFromStatus(response.status, response.body);
    }
    json d = json::parse(response.body, nullptr, false);
    if (!d.is_object()) {
      return absl::UnavailableError("Altinn correspondence is not JSON");
    }
    Details details;
    details.message_id = StringField(d, "idempotentKey");
    if (details.message_id.empty()) {
      details.message_id = StringField(d, "sendersReference");
    }
    details.status_text = StringField(d, "statusText");
    absl::MutexLock lock(&mu_);
    known_[correspondence] = Details{details.message_id, ""};
    return details;
  }

  // Sends with a token; after a 401, once more with a new one.
  absl::StatusOr<HttpResponse> Authorized(HttpRequest request) {
    HttpResponse response;
    for (int attempt = 0; attempt < 2; ++attempt) {
      ASSIGN_OR_RETURN(std::string token, options_.tokens->Token(kAltinnScope));
      SetHeader(&request.headers, "Authorization",
                absl::StrCat("Bearer ", token));
      ASSIGN_OR_RETURN(response, http_->Do(request));
      if (response.status != 401) break;
      options_.tokens->Invalidate(kAltinnScope, token);
    }
    return response;
  }

  AltinnOptions options_;
  HttpClient* const http_;
  const Clock* const clock_;
  absl::Mutex mu_;
  std::string cursor_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, bool>> page_ ABSL_GUARDED_BY(mu_);
  // Correspondence id -> our message id.
  absl::flat_hash_map<std::string, Details> known_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Channel>> NewAltinnChannel(AltinnOptions options,
                                                          HttpClient* http) {
  if (options.base_url.empty()) {
    return absl::InvalidArgumentError("altinn.url: must be set");
  }
  if (options.resource_id.empty()) {
    return absl::InvalidArgumentError("altinn.resource_id: must be set");
  }
  if (options.tokens == nullptr) {
    return absl::InvalidArgumentError(
        "altinn: needs a token source (providers.maskinporten)");
  }
  if (http == nullptr) return absl::InvalidArgumentError("http: must be set");
  return std::make_unique<AltinnChannel>(std::move(options), http);
}

}  // namespace utpost::adapters
