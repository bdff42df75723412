#include "sim/altinn.h"

#include <openssl/rand.h>

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
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
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
                   if (Authorized(q, r)) Upload(q, r);
                 });
    server->Get(R"(/correspondence/api/v1/correspondence/([0-9a-fA-F-]+))",
                [this, fault](Q q, R r) {
                  if (fault("altinn", r)) return;
                  if (Authorized(q, r)) Details(q.matches[1], r);
                });
    server->Get("/events/api/v1/events", [this, fault](Q q, R r) {
      if (fault("altinn", r)) return;
      if (Authorized(q, r)) Events(q, r);
    });
    server->Get(R"(/register/api/v1/organizations/(\d+))",
                [this, fault](Q q, R r) {
                  if (fault("altinn", r)) return;
                  if (Authorized(q, r)) RegisterLookup(q.matches[1], r);
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
  bool Authorized(const httplib::Request& req, httplib::Response& res) {
    if (tokens_ == nullptr) {
      Problem(res, 401, "Unauthorized", "no token issuer configured");
      return false;
    }
    return tokens_->Authorize(req, kAltinnScope, &res,
                              TokenIssuer::Kind::kAltinn);
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

  static std::string OrgOf(absl::string_view id) {
    if (absl::ConsumePrefix(&id, kOrgUrn) && NineDigits(id)) {
      return std::string(id);
    }
    return "";
  }

  void Upload(const httplib::Request& req, httplib::Response& res) {
    if (!req.is_multipart_form_data() || !req.has_file("correspondence")) {
      return Problem(res, 400, "Bad Request",
                     "expected multipart/form-data with a correspondence part");
    }
    json c = json::parse(req.get_file_value("correspondence").content, nullptr,
                         false);
    auto text = [&](const json& j, const char* key) -> std::string {
      auto it = j.is_object() ? j.find(key) : json::const_iterator();
      return j.is_object() && it != j.end() && it->is_string()
                 ? it->get<std::string>()
                 : "";
    };
    if (!c.is_object()) {
      return Problem(res, 400, "Bad Request", "correspondence: not JSON");
    }
    std::string resource = text(c, "resourceId");
    if (resource.empty()) {
      return Problem(res, 400, "Bad Request", "resourceId: required");
    }
    std::string sender = text(c, "sender");
    absl::string_view s = sender;
    if (!(absl::ConsumePrefix(&s, kOrgUrn) ||
          absl::ConsumePrefix(&s, "0192:")) ||
        !NineDigits(s)) {
      return Problem(res, 400, "Bad Request",
                     "sender: urn:altinn:organization:identifier-no:<orgnr> "
                     "or 0192:<orgnr>");
    }
    std::string key = text(c, "idempotentKey");
    if (!IsUuid(key)) {
      return Problem(res, 400, "Bad Request", "idempotentKey: a UUID");
    }
    auto recipients = c.find("recipients");
    if (recipients == c.end() || !recipients->is_array() ||
        recipients->size() != 1 || !(*recipients)[0].is_string()) {
      return Problem(res, 400, "Bad Request",
                     "recipients: one organisation URN");
    }
    std::string recipient = OrgOf((*recipients)[0].get<std::string>());
    if (recipient.empty()) {
      return Problem(res, 400, "Bad Request",
                     "recipients[0]: urn:altinn:organization:identifier-no:"
                     "<orgnr>");
    }
    auto content = c.find("content");
    if (content == c.end() || !content->is_object()) {
      return Problem(res, 400, "Bad Request", "content: required");
    }
    std::string language = text(*content, "language");
    if (language != "nb" && language != "nn" && language != "en") {
      return Problem(res, 400, "Bad Request", "content.language: nb, nn or en");
    }
    if (text(*content, "messageTitle").empty() ||
        text(*content, "messageBody").empty()) {
      return Problem(res, 400, "Bad Request",
                     "content.messageTitle and content.messageBody: required");
    }
    auto confidential = c.find("isConfidential");
    if (confidential != c.end() && !confidential->is_boolean()) {
      return Problem(res, 400, "Bad Request", "isConfidential: true or false");
    }
    auto [begin, end] = req.files.equal_range("attachments");
    json attachment_ids = json::array();
    for (auto it = begin; it != end; ++it) {
      if (it->second.filename.empty() || it->second.content.empty()) {
        return Problem(res, 400, "Bad Request",
                       "attachments: each needs a filename and content");
      }
      attachment_ids.push_back(NewUuid());
    }
    auto org = organisations_.find(recipient);
    if (org == organisations_.end() || !org->second.inbox ||
        !org->second.deleted_date.empty()) {
      spdlog::warn("altinn: recipient {} has no inbox", recipient);
      return Problem(res, 400, "Recipient has no inbox",
                     absl::StrCat("organisation ", recipient,
                                  " cannot receive correspondence"));
    }
    absl::MutexLock lock(&mu_);
    auto existing = by_key_.find(key);
    if (existing != by_key_.end()) {
      ++counts_[key].second;
      spdlog::info("altinn: duplicate idempotentKey {}", key);
      return Problem(res, 409, "Conflict",
                     "a correspondence with this idempotentKey exists",
                     {{"correspondenceId", existing->second}});
    }
    const int64_t now = clock_->NowMillis();
    Correspondence corr;
    corr.id = NewUuid();
    corr.idempotent_key = key;
    corr.senders_reference = text(c, "sendersReference");
    corr.recipient = recipient;
    corr.resource_id = resource;
    if (org->second.read_after_ms >= 0) {
      corr.read_due_ms = now + org->second.read_after_ms;
    }
    by_key_[key] = corr.id;
    counts_[key] = {1, 0};
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

  void Events(const httplib::Request& req, httplib::Response& res) {
    std::string resource = req.get_param_value("resource");
    absl::string_view resource_id = resource;
    if (!absl::ConsumePrefix(&resource_id, "urn:altinn:resource:") ||
        resource_id.empty()) {
      return Problem(res, 400, "Bad Request",
                     "resource: urn:altinn:resource:<id>");
    }
    int size = 50;
    if (req.has_param("size") &&
        (!absl::SimpleAtoi(req.get_param_value("size"), &size) || size < 1)) {
      return Problem(res, 400, "Bad Request", "size: 1 or more");
    }
    std::string after = req.get_param_value("after");
    absl::MutexLock lock(&mu_);
    Advance();
    size_t start = 0;
    if (!after.empty()) {
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
    res.set_content(Dump(out), "application/cloudevents-batch+json");
  }

  void RegisterLookup(const std::string& number, httplib::Response& res) {
    auto it = organisations_.find(number);
    if (it == organisations_.end() || !it->second.inbox ||
        !it->second.deleted_date.empty()) {
      return Problem(res, 404, "Not Found",
                     "no party that can receive correspondence");
    }
    res.set_content(Dump({{"orgNumber", number}, {"name", it->second.name}}),
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
