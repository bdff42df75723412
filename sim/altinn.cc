#include "sim/altinn.h"

#include <openssl/rand.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/mask.h"
#include "common/uuid.h"
#include "spdlog/spdlog.h"

namespace utpost::sim {
namespace {

using nlohmann::json;

constexpr char kJson[] = "application/json";
constexpr char kProblemJson[] = "application/problem+json";
constexpr char kOrgUrn[] = "urn:altinn:organization:identifier-no:";
constexpr char kEventPrefix[] = "no.altinn.correspondence.";

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool NineDigits(absl::string_view s) {
  if (s.size() != 9) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string NewUuid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof(b));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-",
                      hex.substr(12, 4), "-", hex.substr(16, 4), "-",
                      hex.substr(20));
}

std::string StatusTitle(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    default:
      return "Error";
  }
}

// An RFC 9457 problem, as Altinn answers errors.
void Problem(httplib::Response& res, int status, absl::string_view title,
             absl::string_view detail, json extra = json::object()) {
  json p = {{"type", "https://tools.ietf.org/html/rfc9110#section-15.5"},
            {"title", title},
            {"status", status},
            {"detail", detail}};
  for (auto& [k, v] : extra.items()) p[k] = v;
  res.status = status;
  res.set_content(Dump(p), kProblemJson);
}

// An Altinn Correspondence error: ProblemDetails with the error code
// (CorrespondenceErrors) in the errorCode extension.
void Error(httplib::Response& res, int status, int code,
           absl::string_view message) {
  Problem(res, status, StatusTitle(status), message, {{"errorCode", code}});
}

// Length as .NET counts it (UTF-16 code units).
size_t Utf16Length(absl::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) == 0x80) continue;  // Continuation byte.
    n += c >= 0xF0 ? 2 : 1;
  }
  return n;
}

bool IsBool(absl::string_view v) {
  return absl::EqualsIgnoreCase(v, "true") ||
         absl::EqualsIgnoreCase(v, "false");
}

bool Digits(absl::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// RecipientListAttribute's person forms: 11 digits, bare or as
// urn:altinn:person:identifier-no:<11>.
bool IsPersonRecipient(absl::string_view r) {
  absl::ConsumePrefix(&r, "urn:altinn:person:identifier-no:");
  return Digits(r, 11);
}

struct Correspondence {
  std::string id;
  std::string idempotent_key;
  std::string senders_reference;
  std::string recipient;  // Organisation number.
  std::string resource_id;
  std::string status = "Published";
  std::string status_text;
  int64_t read_due_ms = -1;  // -1: not scheduled.
};

struct Event {
  std::string id;
  std::string type;
  std::string correspondence_id;
  std::string recipient;
  std::string resource_id;
  int64_t time_ms = 0;
};

class AltinnSimImpl final : public AltinnSim {
 public:
  AltinnSimImpl(std::vector<SimOrganisation> organisations, TokenIssuer* tokens,
                const Clock* clock)
      : tokens_(tokens), clock_(clock != nullptr ? clock : RealClock()) {
    for (SimOrganisation& o : organisations) {
      std::string number = o.number;
      organisations_[number] = std::move(o);
    }
  }

  void Register(httplib::Server* server, FaultHook fault) override {
    using Q = const httplib::Request&;
    using R = httplib::Response&;
    server->Get("/authentication/api/v1/exchange/maskinporten",
                [this, fault](Q q, R r) {
                  if (!fault("altinn", r)) Exchange(q, r);
                });
    server->Post("/correspondence/api/v1/correspondence/upload",
                 [this, fault](Q q, R r) {
                   if (fault("altinn", r)) return;
                   if (Authorized(q, r, kAltinnScope)) Upload(q, r);
                 });
    server->Get(R"(/correspondence/api/v1/correspondence/([0-9a-fA-F-]+))",
                [this, fault](Q q, R r) {
                  if (fault("altinn", r)) return;
                  if (Authorized(q, r, kAltinnScope)) Details(q.matches[1], r);
                });
    server->Get("/events/api/v1/events", [this, fault](Q q, R r) {
      if (fault("altinn", r)) return;
      if (Authorized(q, r, kAltinnEventsScope)) Events(q, r);
    });
    server->Get(R"(/register/api/v1/organizations/(\d+))",
                [this, fault](Q q, R r) {
                  if (fault("altinn", r)) return;
                  if (PlatformAccess(q, r)) RegisterLookup(q.matches[1], r);
                });
    server->Get(R"(/enhetsregisteret/api/enheter/(\d+))",
                [this, fault](Q q, R r) {
                  if (!fault("enhetsregisteret", r)) Enhet(q.matches[1], r);
                });
    server->Post("/sim/v1/altinn/read",
                 [this](Q q, R r) { Control(q, r, /*fail=*/false); });
    server->Post("/sim/v1/altinn/fail",
                 [this](Q q, R r) { Control(q, r, /*fail=*/true); });
  }

  json Counts() override {
    absl::MutexLock lock(&mu_);
    json out = json::object();
    for (const auto& [key, c] : counts_) {
      out[key] = {{"accepted", c.first}, {"duplicates", c.second}};
    }
    return out;
  }

  void Reset() override {
    absl::MutexLock lock(&mu_);
    by_key_.clear();
    correspondences_.clear();
    events_.clear();
    counts_.clear();
  }

 private:
  // An Altinn token (exchanged from Maskinporten) with every scope of
  // `scope`.
  bool Authorized(const httplib::Request& req, httplib::Response& res,
                  const char* scope) {
    if (tokens_ == nullptr) {
      Problem(res, 401, "Unauthorized", "no token issuer configured");
      return false;
    }
    return tokens_->Authorize(req, scope, &res, TokenIssuer::Kind::kAltinn);
  }

  // The register's "PlatformAccess" policy: an Altinn platform access token
  // in the PlatformAccessToken header. The simulator takes any JWT-shaped
  // value (three base64url parts); it cannot check Altinn's signature.
  static bool PlatformAccess(const httplib::Request& req,
                             httplib::Response& res) {
    std::string token = req.get_header_value(kPlatformAccessTokenHeader);
    std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
    bool ok = parts.size() == 3;
    for (absl::string_view p : parts) {
      ok = ok && !p.empty();
      for (char c : p) {
        ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                    c == '-' || c == '_');
      }
    }
    if (!ok) {
      Problem(res, 403, "Forbidden",
              "a platform access token is required in the "
              "PlatformAccessToken header");
    }
    return ok;
  }

  void Exchange(const httplib::Request& req, httplib::Response& res) {
    std::string header = req.get_header_value("Authorization");
    std::optional<std::string> token;
    if (tokens_ != nullptr && absl::StartsWith(header, "Bearer ")) {
      token = tokens_->Exchange(header.substr(7));
    }
    if (!token.has_value()) {
      return Problem(res, 401, "Unauthorized",
                     "expected a valid Maskinporten bearer token");
    }
    res.set_content(*token, "text/plain");
  }

  // The organisation number of a recipient or sender in either of the
  // forms RecipientListAttribute and OrganizationNumberAttribute take
  // (urn:altinn:organization:identifier-no:<9> or 0192:<9>); "" otherwise.
  static std::string OrgOf(absl::string_view id) {
    if ((absl::ConsumePrefix(&id, kOrgUrn) ||
         absl::ConsumePrefix(&id, "0192:")) &&
        NineDigits(id)) {
      return std::string(id);
    }
    return "";
  }

  // The form as ASP.NET binds it: names case-insensitive, one value per
  // name (the first), files apart.
  struct Form {
    std::map<std::string, std::string> fields;             // Lower-case names.
    std::vector<const httplib::MultipartFormData*> files;  // "attachments".
    const std::string* Get(absl::string_view name) const {
      auto it = fields.find(absl::AsciiStrToLower(name));
      return it == fields.end() ? nullptr : &it->second;
    }
    std::string Text(absl::string_view name) const {
      const std::string* v = Get(name);
      return v == nullptr ? "" : *v;
    }
  };

  static Form FormOf(const httplib::Request& req) {
    Form form;
    for (const auto& [name, part] : req.files) {
      std::string key = absl::AsciiStrToLower(name);
      if (!part.filename.empty()) {
        if (key == "attachments") form.files.push_back(&part);
        continue;
      }
      form.fields.emplace(key, part.content);
    }
    return form;
  }

  // The checks InitializeCorrespondencesExt's binding and validation
  // attributes make; the errors as ASP.NET's ValidationProblemDetails
  // ({"errors": {"<field>": ["..."]}}).
  static json ValidationErrors(const Form& form, size_t* attachments) {
    json errors = json::object();
    auto error = [&](const std::string& field, const std::string& message) {
      errors[field].push_back(message);
    };
    auto length = [&](const std::string& field, size_t min, size_t max,
                      bool required) {
      const std::string* v = form.Get(field);
      if (v == nullptr || v->empty()) {
        if (required)
          error(field, absl::StrCat("The ", field, " field is required."));
        return;
      }
      size_t chars = Utf16Length(*v);
      if (chars < min || chars > max) {
        error(field, absl::StrCat("The field ", field,
                                  " must be a string with a minimum length of ",
                                  min, " and a maximum length of ", max, "."));
      }
    };
    length("correspondence.resourceId", 1, 255, true);
    length("correspondence.sendersReference", 1, 4096, true);
    length("correspondence.messageSender", 0, 256, false);
    std::string sender = form.Text("correspondence.sender");
    if (sender.empty()) {
      error("correspondence.sender", "The Sender field is required.");
    } else if (OrgOf(sender).empty()) {
      error("correspondence.sender",
            "Organization numbers should be on the format "
            "'urn:altinn:organization:identifier-no:organizationnumber' or "
            "the format countrycode:organizationnumber, for instance "
            "0192:910753614");
    }
    // `required` members of InitializeCorrespondenceContentExt.
    for (const char* f :
         {"language", "messageTitle", "messageSummary", "messageBody"}) {
      std::string field = absl::StrCat("correspondence.content.", f);
      if (form.Get(field) == nullptr) {
        error(field, absl::StrCat("The ", f, " field is required."));
      }
    }
    std::string language = form.Text("correspondence.content.language");
    if (!language.empty() && language.size() != 2) {
      error("correspondence.content.language",
            "The ISO6391 field must be exactly 2 characters long!");
    }
    // Attachment metadata: indexes from 0 without gaps, as ASP.NET binds
    // a list.
    size_t n = 0;
    while (true) {
      std::string prefix =
          absl::StrCat("correspondence.content.attachments[", n, "].");
      bool any = false;
      for (const auto& [name, value] : form.fields) {
        if (absl::StartsWith(name, absl::AsciiStrToLower(prefix))) any = true;
      }
      if (!any) break;
      if (n == 100) {  // MaxListCount(100) on content.attachments.
        error("correspondence.content.attachments",
              "Maximum of 100 attachments allowed.");
        break;
      }
      length(prefix + "sendersReference", 1, 4096, true);
      length(prefix + "fileName", 0, 255, false);
      length(prefix + "displayName", 0, 255, false);
      std::string encrypted = form.Text(prefix + "isEncrypted");
      if (!encrypted.empty() && !IsBool(encrypted)) {
        error(prefix + "isEncrypted",
              absl::StrCat("The value '", encrypted, "' is not valid."));
      }
      std::string location = form.Text(prefix + "dataLocationType");
      if (!location.empty() && location != "NewCorrespondenceAttachment" &&
          location != "ExistingCorrespondenceAttachment" &&
          location != "ExistingExternalStorage") {
        error(prefix + "dataLocationType",
              absl::StrCat("The value '", location, "' is not valid."));
      }
      ++n;
    }
    *attachments = n;
    if (form.Get("correspondence.notification.notificationTemplate") !=
        nullptr) {
      std::string t =
          form.Text("correspondence.notification.notificationTemplate");
      if (t != "CustomMessage" && t != "GenericAltinnMessage") {
        error("correspondence.notification.notificationTemplate",
              absl::StrCat("The value '", t, "' is not valid."));
      }
      length("correspondence.notification.emailSubject", 0, 128, false);
      length("correspondence.notification.emailBody", 0, 1024, false);
      length("correspondence.notification.smsBody", 0, 160, false);
      length("correspondence.notification.reminderEmailSubject", 0, 128, false);
      length("correspondence.notification.reminderEmailBody", 0, 1024, false);
      length("correspondence.notification.reminderSmsBody", 0, 160, false);
    }
    for (const char* f :
         {"correspondence.isConfidential", "correspondence.ignoreReservation",
          "correspondence.isConfirmationNeeded",
          "correspondence.notification.sendReminder"}) {
      std::string v = form.Text(f);
      if (!v.empty() && !IsBool(v)) {
        error(f, absl::StrCat("The value '", v, "' is not valid."));
      }
    }
    // RecipientListAttribute.
    std::vector<std::string> recipients;
    for (size_t i = 0;; ++i) {
      const std::string* r = form.Get(absl::StrCat("recipients[", i, "]"));
      if (r == nullptr) break;
      recipients.push_back(*r);
    }
    if (recipients.empty()) {
      error("recipients", "The Recipients field is required.");
    } else if (recipients.size() > 500) {
      error("recipients", "Recipients can contain at most 500 recipients");
    }
    for (const std::string& r : recipients) {
      if (OrgOf(r).empty() && !IsPersonRecipient(r)) {
        error("recipients",
              "Recipient should be one of these formats: an organization "
              "number in the format "
              "'urn:altinn:organization:identifier-no:organizationnumber' or "
              "a social security number in the format "
              "'urn:altinn:person:identifier-no:socialsecuritynumber'");
        break;
      }
    }
    // ValidIdempotentKeyAttribute.
    if (const std::string* key = form.Get("idempotentKey");
        key != nullptr &&
        (!IsUuid(*key) || *key == "00000000-0000-0000-0000-000000000000")) {
      error("idempotentKey",
            "The idempotency key must be a valid non-empty GUID");
    }
    return errors;
  }

  void Upload(const httplib::Request& req, httplib::Response& res) {
    if (!req.is_multipart_form_data()) {
      // [Consumes("multipart/form-data")].
      return Problem(res, 415, "Unsupported Media Type",
                     "expected multipart/form-data");
    }
    const Form form = FormOf(req);
    size_t metadata = 0;
    json errors = ValidationErrors(form, &metadata);
    if (!errors.empty()) {
      spdlog::warn("altinn: upload refused by validation: {}",
                   MaskPersonNumbersIn(Dump(errors).substr(0, 300)));
      res.status = 400;
      res.set_content(
          Dump({{"type", "https://tools.ietf.org/html/rfc9110#section-15.5.1"},
                {"title", "One or more validation errors occurred."},
                {"status", 400},
                {"errors", errors}}),
          kProblemJson);
      return;
    }
    // The service's own checks (CorrespondenceErrors).
    const std::string title = form.Text("correspondence.content.messageTitle");
    const std::string body = form.Text("correspondence.content.messageBody");
    const std::string language = form.Text("correspondence.content.language");
    if (language != "nb" && language != "nn" && language != "en") {
      return Error(res, 400, 1023,
                   "Invalid language chosen. Supported languages is Norsk "
                   "bokmål (nb), Nynorsk (nn) and English (en)");
    }
    if (absl::StripAsciiWhitespace(title).empty()) {
      return Error(res, 400, 1020, "Message title cannot be empty");
    }
    if (Utf16Length(title) > 255) {
      return Error(res, 400, 1037,
                   "Message title cannot exceed 255 characters");
    }
    if (Utf16Length(form.Text("correspondence.content.messageSummary")) > 255) {
      return Error(res, 400, 1042,
                   "Message summary, if not null, must be between 0 and 255 "
                   "characters long");
    }
    if (absl::StripAsciiWhitespace(body).empty()) {
      return Error(res, 400, 1021, "Message body cannot be empty");
    }
    if (Utf16Length(body) > 30000) {
      return Error(res, 400, 1022,
                   "Message body cannot exceed 30000 characters");
    }
    // ValidateAttachmentFiles: as many files as new attachment metadata
    // entries, each file named by one of them.
    bool files_match = form.files.size() == metadata;
    for (const httplib::MultipartFormData* f : form.files) {
      bool named = false;
      for (size_t i = 0; i < metadata; ++i) {
        named |= form.Text(absl::StrCat("correspondence.content.attachments[",
                                        i, "].fileName")) == f->filename;
      }
      files_match = files_match && named && !f->content.empty();
    }
    if (!files_match) {
      return Error(res, 400, 1005,
                   "Mismatch between uploaded files and attachment metadata");
    }
    const std::string recipient = OrgOf(form.Text("recipients[0]"));
    if (form.Get("recipients[1]") != nullptr && form.Get("idempotentKey")) {
      return Error(res, 400, 1047,
                   "Idempotency key is not supported for requests with "
                   "multiple recipients");
    }
    auto org = organisations_.find(recipient);
    if (recipient.empty() || org == organisations_.end() ||
        !org->second.altinn_party || !org->second.deleted_date.empty()) {
      // A person number may stand here: masked in the log and the answer.
      const std::string shown =
          MaskPersonNumbersIn(form.Text("recipients[0]").substr(0, 60));
      spdlog::warn("altinn: recipient {} is not an Altinn party", shown);
      return Error(res, 404, 1029,
                   absl::StrCat("Could not find partyId for the following "
                                "recipients: ",
                                shown));
    }
    const std::string resource = form.Text("correspondence.resourceId");
    const std::string key = form.Text("idempotentKey");
    json attachment_ids = json::array();
    for (size_t i = 0; i < form.files.size(); ++i) {
      attachment_ids.push_back(NewUuid());
    }
    absl::MutexLock lock(&mu_);
    if (!key.empty()) {
      auto existing = by_key_.find(absl::AsciiStrToLower(key));
      if (existing != by_key_.end()) {
        ++counts_[existing->first].second;
        spdlog::info("altinn: duplicate idempotentKey {}", key);
        return Error(res, 409, 1034,
                     "A correspondence with the same idempotent key already "
                     "exists");
      }
    }
    const int64_t now = clock_->NowMillis();
    Correspondence corr;
    corr.id = NewUuid();
    corr.idempotent_key = absl::AsciiStrToLower(key);
    corr.senders_reference = form.Text("correspondence.sendersReference");
    corr.recipient = recipient;
    corr.resource_id = resource;
    if (org->second.read_after_ms >= 0) {
      corr.read_due_ms = now + org->second.read_after_ms;
    }
    const std::string count_key =
        key.empty() ? corr.senders_reference : corr.idempotent_key;
    if (!key.empty()) by_key_[corr.idempotent_key] = corr.id;
    counts_[count_key] = {1, 0};
    AddEvent("correspondenceinitialized", corr, now);
    AddEvent("correspondencepublished", corr, now);
    json reply = {{"correspondences",
                   {{{"correspondenceId", corr.id},
                     {"status", "Published"},
                     {"recipient", absl::StrCat(kOrgUrn, recipient)}}}},
                  {"attachmentIds", attachment_ids}};
    spdlog::info("altinn: published {} to {}", corr.id, recipient);
    correspondences_[corr.id] = std::move(corr);
    res.set_content(Dump(reply), kJson);
  }

  void AddEvent(absl::string_view type, const Correspondence& c, int64_t time)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Event e;
    e.id = NewUuid();
    e.type = absl::StrCat(kEventPrefix, type);
    e.correspondence_id = c.id;
    e.recipient = c.recipient;
    e.resource_id = c.resource_id;
    e.time_ms = time;
    events_.push_back(std::move(e));
  }

  // Reads that have come due become events.
  void Advance() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int64_t now = clock_->NowMillis();
    for (auto& [id, c] : correspondences_) {
      if (c.read_due_ms >= 0 && c.read_due_ms <= now &&
          c.status == "Published") {
        c.status = "Read";
        c.read_due_ms = -1;
        AddEvent("correspondencereceiverread", c, now);
      }
    }
  }

  void Details(const std::string& id, httplib::Response& res) {
    absl::MutexLock lock(&mu_);
    Advance();
    auto it = correspondences_.find(id);
    if (it == correspondences_.end()) {
      return Problem(res, 404, "Not Found", "no such correspondence");
    }
    const Correspondence& c = it->second;
    res.set_content(Dump({{"correspondenceId", c.id},
                          {"status", c.status},
                          {"statusText", c.status_text},
                          {"sendersReference", c.senders_reference},
                          {"idempotentKey", c.idempotent_key},
                          {"recipient", absl::StrCat(kOrgUrn, c.recipient)},
                          {"resourceId", c.resource_id}}),
                    kJson);
  }

  // EventsController.Get: `resource` required ([Required]) and starting
  // with urn:altinn:resource:, `after` required; size below 1 is 50, above
  // 1000 is 1000.
  void Events(const httplib::Request& req, httplib::Response& res) {
    if (!req.has_param("resource")) {
      res.status = 400;
      res.set_content(
          Dump({{"type", "https://tools.ietf.org/html/rfc9110#section-15.5.1"},
                {"title", "One or more validation errors occurred."},
                {"status", 400},
                {"errors",
                 {{"resource", {"The resource field is required."}}}}}),
          kProblemJson);
      return;
    }
    std::string resource = req.get_param_value("resource");
    absl::string_view resource_id = resource;
    if (!absl::ConsumePrefix(&resource_id, "urn:altinn:resource:")) {
      return Problem(res, 400, "Bad Request",
                     "The 'resource' parameter must begin with "
                     "`urn:altinn:resource:`");
    }
    std::string after = req.get_param_value("after");
    if (after.empty()) {
      return Problem(res, 400, "Bad Request",
                     "The 'after' parameter must be defined.");
    }
    int size = 0;
    if (req.has_param("size") &&
        !absl::SimpleAtoi(req.get_param_value("size"), &size)) {
      size = 0;
    }
    if (size < 1) size = 50;
    size = std::min(size, 1000);
    absl::MutexLock lock(&mu_);
    Advance();
    size_t start = 0;
    if (after != "0") {  // "0": from the start, as the Events API documents.
      start = events_.size();
      for (size_t i = 0; i < events_.size(); ++i) {
        if (events_[i].id == after) start = i + 1;
      }
    }
    json out = json::array();
    for (size_t i = start;
         i < events_.size() && out.size() < static_cast<size_t>(size); ++i) {
      const Event& e = events_[i];
      if (e.resource_id != resource_id) continue;
      out.push_back(
          {{"specversion", "1.0"},
           {"id", e.id},
           {"type", e.type},
           {"time", FormatRfc3339(e.time_ms)},
           {"source", absl::StrCat("/correspondence/api/v1/correspondence/",
                                   e.correspondence_id)},
           {"resource", resource},
           {"resourceinstance", e.correspondence_id},
           {"subject", absl::StrCat(kOrgUrn, e.recipient)}});
    }
    res.set_content(Dump(out), "application/cloudevents+json");
  }

  void RegisterLookup(const std::string& number, httplib::Response& res) {
    auto it = organisations_.find(number);
    if (it == organisations_.end() || !it->second.altinn_party) {
      return Problem(res, 404, "Not Found", "organization not found");
    }
    res.set_content(
        Dump({{"orgNumber", number},
              {"name", it->second.name},
              {"unitStatus", it->second.deleted_date.empty() ? "N" : "U"}}),
        kJson);
  }

  void Enhet(const std::string& number, httplib::Response& res) {
    auto it = organisations_.find(number);
    if (it == organisations_.end()) {
      res.status = 404;
      res.set_content(
          Dump({{"status", 404},
                {"error", "Not Found"},
                {"message", absl::StrCat("Ingen enhet med organisasjonsnummer ",
                                         number, " ble funnet")}}),
          kJson);
      return;
    }
    const SimOrganisation& o = it->second;
    if (!o.deleted_date.empty()) {
      res.status = 410;
      res.set_content(Dump({{"organisasjonsnummer", number},
                            {"slettedato", o.deleted_date}}),
                      kJson);
      return;
    }
    json address = {{"adresse", o.address_lines},
                    {"postnummer", o.postal_code},
                    {"poststed", o.city},
                    {"landkode", o.country_code}};
    res.set_content(Dump({{"organisasjonsnummer", number},
                          {"navn", o.name},
                          {"postadresse", address},
                          {"forretningsadresse", address}}),
                    kJson);
  }

  void Control(const httplib::Request& req, httplib::Response& res, bool fail) {
    json body = json::parse(req.body, nullptr, false);
    std::string key = body.is_object() ? body.value("idempotent_key", "") : "";
    absl::MutexLock lock(&mu_);
    auto it = by_key_.find(key);
    if (it == by_key_.end()) {
      res.status = 404;
      res.set_content(Dump({{"error", "unknown idempotent_key"}}), kJson);
      return;
    }
    Correspondence& c = correspondences_[it->second];
    if (fail) {
      c.status = "Failed";
      c.status_text = body.value("reason", "publication failed");
      c.read_due_ms = -1;
      AddEvent("correspondencepublishfailed", c, clock_->NowMillis());
    } else {
      c.status = "Read";
      c.read_due_ms = -1;
      AddEvent("correspondencereceiverread", c, clock_->NowMillis());
    }
    res.status = 204;
  }

  TokenIssuer* const tokens_;
  const Clock* const clock_;
  // Fixed after construction.
  absl::flat_hash_map<std::string, SimOrganisation> organisations_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> by_key_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Correspondence> correspondences_ ABSL_GUARDED_BY(mu_);
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
  // idempotentKey -> (accepted, duplicates).
  std::map<std::string, std::pair<int, int>> counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<AltinnSim> NewAltinnSim(
    std::vector<SimOrganisation> organisations, TokenIssuer* tokens,
    const Clock* clock) {
  return std::make_unique<AltinnSimImpl>(std::move(organisations), tokens,
                                         clock);
}

}  // namespace utpost::sim
