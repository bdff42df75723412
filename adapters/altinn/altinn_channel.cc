#include "adapters/altinn/altinn_channel.h"

#include <openssl/rand.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/json_fields.h"
#include "common/status_macros.h"
#include "common/text.h"
#include "common/uuid.h"
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
// The Events API's documented value of `after` for a first read.
constexpr char kFirstCursor[] = "0";
// Maximum lengths of the binding models (StringLength) and of the
// service's own checks (1037 title, 1042 summary).
constexpr size_t kMaxTitle = 255;
constexpr size_t kMaxSummary = 255;
constexpr size_t kMaxEmailSubject = 128;
constexpr size_t kMaxEmailBody = 1024;
constexpr size_t kMaxSmsBody = 160;
constexpr size_t kMaxFileName = 255;
// Error codes of CorrespondenceErrors that name the recipient or the set-up.
constexpr int kRecipientLookupFailed = 1029;
constexpr int kRecipientReserved = 1030;
constexpr int kInvalidResource = 1036;

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// At most `max` bytes of `text`, cut at a character boundary (a byte count
// is never below the character count the binding limits).
std::string Cut(std::string_view text, size_t max) {
  text = text.substr(0, ValidUtf8Prefix(text));
  if (text.size() <= max) return std::string(text);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return std::string(text.substr(0, end));
}

// The `errorCode` extension of Altinn's ProblemDetails (a number, or a
// number in a string); 0 when there is none.
int ErrorCodeOf(const json& p) {
  if (!p.is_object()) return 0;
  auto it = p.find("errorCode");
  if (it == p.end()) return 0;
  if (it->is_number_integer()) return it->get<int>();
  int code = 0;
  if (it->is_string() && absl::SimpleAtoi(it->get<std::string>(), &code)) {
    return code;
  }
  return 0;
}

// "title: detail (error N)" of an RFC 9457 problem, or the body's start.
std::string ProblemText(const std::string& body) {
  json p = json::parse(body, nullptr, false);
  if (p.is_object()) {
    std::string title = StringField(p, "title");
    std::string detail = StringField(p, "detail");
    int code = ErrorCodeOf(p);
    // ValidationProblemDetails: the first field the binding refused.
    if (auto errors = p.find("errors"); detail.empty() && errors != p.end() &&
                                        errors->is_object() &&
                                        !errors->empty()) {
      detail = errors->begin().key();
      const json& messages = errors->begin().value();
      if (messages.is_array() && !messages.empty() && messages[0].is_string()) {
        absl::StrAppend(&detail, ": ", messages[0].get<std::string>());
      }
      detail = Cut(detail, kMaxErrorExcerpt);
    }
    if (!title.empty() || !detail.empty() || code != 0) {
      return absl::StrCat(title, detail.empty() ? "" : ": ", detail,
                          code != 0 ? absl::StrCat(" (error ", code, ")") : "");
    }
  }
  return body.substr(0, kMaxErrorExcerpt);
}

absl::Status ErrorFromStatus(int status, const std::string& body) {
  std::string message =
      absl::StrCat("Altinn answered HTTP ", status, ": ", ProblemText(body));
  const int code = ErrorCodeOf(json::parse(body, nullptr, false));
  if (code == kRecipientLookupFailed || code == kRecipientReserved) {
    // This recipient's own standing: a refusal of the letter (print may
    // take it), as the routing's "no digital inbox".
    return absl::InvalidArgumentError(absl::StrCat(
        "the organisation has no digital inbox in Altinn: ", message));
  }
  if (code == kInvalidResource) return absl::FailedPreconditionError(message);
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

// Percent-encodes a query value (RFC 3986 unreserved characters kept).
std::string QueryValue(absl::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~' || c == ':') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
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
  // Reserved: the recipient has reserved itself against the service.
  if (type == "correspondencepublishfailed" ||
      type == "correspondencereceiverreserved") {
    return ProviderEvent::Kind::kFailed;
  }
  if (type == "notificationfailed" ||
      type == "correspondencenotificationfailed" ||
      type == "correspondencenotificationallfailed") {
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
    std::string boundary = Boundary();
    std::string body;
    auto field = [&](absl::string_view name, absl::string_view value) {
      absl::StrAppend(&body, "--", boundary, "\r\n",
                      "Content-Disposition: form-data; name=\"", name, "\"\r\n",
                      "Content-Type: text/plain; charset=utf-8\r\n", "\r\n",
                      value, "\r\n");
    };
    const std::string title = Cut(letter.title, kMaxTitle);
    field("correspondence.resourceId", options_.resource_id);
    field("correspondence.sender", absl::StrCat(kOrgUrn, letter.tenant));
    field("correspondence.sendersReference", letter.message_id);
    field("correspondence.content.language", options_.language);
    field("correspondence.content.messageTitle", title);
    field("correspondence.content.messageSummary", Cut(title, kMaxSummary));
    field("correspondence.content.messageBody",
          letter.documents.empty()
              ? title
              : absl::StrCat(
                    title, "\n\nSe vedlegg: ",
                    Cut(letter.documents.front().file_name, kMaxFileName)));
    for (size_t i = 0; i < letter.documents.size(); ++i) {
      const std::string prefix =
          absl::StrCat("correspondence.content.attachments[", i, "].");
      const std::string file_name =
          Cut(letter.documents[i].file_name, kMaxFileName);
      field(prefix + "fileName", file_name);
      field(prefix + "displayName", file_name);
      field(prefix + "sendersReference",
            absl::StrCat(letter.message_id, ":", i + 1));
      field(prefix + "isEncrypted", "false");
      field(prefix + "dataLocationType", "NewCorrespondenceAttachment");
    }
    field("correspondence.notification.notificationTemplate", "CustomMessage");
    field("correspondence.notification.emailSubject",
          Cut(options_.notification_email_subject, kMaxEmailSubject));
    field("correspondence.notification.emailBody",
          Cut(options_.notification_email_body, kMaxEmailBody));
    field("correspondence.notification.smsBody",
          Cut(options_.notification_sms_body, kMaxSmsBody));
    field("correspondence.notification.sendReminder", "false");
    // E-mail where the organisation has an address, else SMS: both texts
    // are given (3006 requires them for a "preferred" channel).
    field("correspondence.notification.notificationChannel", "EmailPreferred");
    field("correspondence.isConfidential",
          letter.confidential ? "true" : "false");
    field("recipients[0]", absl::StrCat(kOrgUrn, letter.organisation_number));
    // Optional in the binding, and a GUID when given (1033): Utpost's
    // message ids are.
    if (IsUuid(letter.message_id)) field("idempotentKey", letter.message_id);
    for (const OutgoingDocument& d : letter.documents) {
      absl::StrAppend(
          &body, "--", boundary, "\r\n",
          "Content-Disposition: form-data; name=\"attachments\"; filename=\"",
          QuoteParam(Cut(d.file_name, kMaxFileName)), "\"\r\n",
          "Content-Type: ",
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
    ASSIGN_OR_RETURN(HttpResponse response,
                     Authorized(std::move(request), kAltinnScope));
    if (response.status == 409) {
      // 1034 (or, in older releases, any 409 for the key): the service
      // already has this letter. It names no correspondence id.
      SendResult result;
      result.outcome = SendResult::Outcome::kDuplicate;
      result.provider = kAltinnProvider;
      result.provider_reference =
          absl::StrCat("Altinn already has this idempotentKey: ",
                       ProblemText(response.body));
      return result;
    }
    if (response.status != 200 && response.status != 201) {
      return ErrorFromStatus(response.status, response.body);
    }
    json reply = json::parse(response.body, nullptr, false);
    SendResult result;
    result.provider = kAltinnProvider;
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
    if (after.empty()) after = kFirstCursor;
    HttpRequest request;
    request.method = "GET";
    request.url = absl::StrCat(
        options_.base_url, "/events/api/v1/events?resource=",
        QueryValue(absl::StrCat("urn:altinn:resource:", options_.resource_id)),
        "&after=", QueryValue(after), "&size=", std::clamp(max, 1, 1000));
    request.headers = {
        {"Accept", "application/cloudevents+json, application/json"}};
    ASSIGN_OR_RETURN(HttpResponse response,
                     Authorized(std::move(request), kAltinnEventsScope));
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
      if (*kind == ProviderEvent::Kind::kFailed &&
          details.status_text.empty()) {
        details.status_text = absl::StrCat("Altinn: ", StringField(e, "type"));
      }
      if (details.message_id.empty()) {
        // Not one of ours (sent by another system under the resource).
        page.emplace_back(id, false);
        continue;
      }
      ProviderEvent event;
      event.event_id = id;
      event.message_id = details.message_id;
      event.kind = *kind;
      event.provider = kAltinnProvider;
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
    ASSIGN_OR_RETURN(HttpResponse response,
                     Authorized(std::move(request), kAltinnScope));
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

  // Sends with a token for `scope`; after a 401, once more with a new one.
  absl::StatusOr<HttpResponse> Authorized(HttpRequest request,
                                          const std::string& scope) {
    HttpResponse response;
    for (int attempt = 0; attempt < 2; ++attempt) {
      ASSIGN_OR_RETURN(std::string token, options_.tokens->Token(scope));
      SetHeader(&request.headers, "Authorization",
                absl::StrCat("Bearer ", token));
      ASSIGN_OR_RETURN(response, http_->Do(request));
      if (response.status != 401) break;
      options_.tokens->Invalidate(scope, token);
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
