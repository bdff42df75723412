#include "adapters/dpi/dpi_channel.h"

#include <algorithm>
#include <exception>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/dpi/asice.h"
#include "adapters/dpi/dpi_crypto.h"
#include "adapters/dpi/dpi_receipts.h"
#include "adapters/http/digest.h"
#include "common/digest.h"
#include "common/mask.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace utpost::adapters {
namespace {

using nlohmann::json;

constexpr char kAuthority[] = "iso6523-actorid-upis";
constexpr char kSha256Uri[] = "http://www.w3.org/2001/04/xmlenc#sha256";
// documentIdentification.standard and the process identifiers, from the
// normative table of felleslosninger/docs
// resources/begrep/sikkerDigitalPost/nyinf/oversikt/identifiers.md (the
// complete examples write "xsd::innbyggerpost##" instead of
// "xsd:digital::<type>##"; see docs/protocols.md).
constexpr char kDigitalStandard[] =
    "urn:fdc:digdir.no:2020:innbyggerpost:xsd:digital::digital##"
    "urn:fdc:digdir.no:2020:innbyggerpost:schema:digital::1.0";
constexpr char kPrintStandard[] =
    "urn:fdc:digdir.no:2020:innbyggerpost:xsd:digital::utskrift##"
    "urn:fdc:digdir.no:2020:innbyggerpost:schema:utskrift::1.0";
constexpr char kDigitalProcess[] =
    "urn:fdc:digdir.no:2020:profile:egovernment:innbyggerpost:digital:ver1.0";
constexpr char kPrintProcess[] =
    "urn:fdc:digdir.no:2020:profile:egovernment:innbyggerpost:utskrift:ver1.0";
// Receipts are expected within a day (scopeInformation).
constexpr int64_t kExpectedResponseMs = 24 * 3600 * 1000;
constexpr size_t kMaxQuoted = 300;
constexpr int kMaxFetch = 1000;
constexpr size_t kMaxRejected = 10000;

bool IsUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-'
             : !absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

std::string ExtensionFor(const OutgoingDocument& document) {
  if (document.media_type.empty() ||
      absl::EqualsIgnoreCase(document.media_type, "application/pdf")) {
    return ".pdf";
  }
  size_t dot = document.file_name.rfind('.');
  if (dot == std::string::npos) return "";
  std::string ext = document.file_name.substr(dot);
  for (char c : ext) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.') {
      return "";
    }
  }
  return ext;
}

// The manifest's href is 4 to 100 characters (sdp-manifest.xsd); other
// names are replaced.
constexpr size_t kMinPackageName = 4;
constexpr size_t kMaxPackageName = 100;

bool HasControlCharacters(absl::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// The documents' names inside the package: their own file names where the
// container can carry them, "dokument-<n><ext>" otherwise. Whatever the
// letter's names, the package can be made (a name it cannot take would fail
// the same way on every attempt).
std::vector<std::string> PackageNames(const OutgoingLetter& letter) {
  std::vector<std::string> names;
  std::set<std::string> used = {"manifest.xml", "mimetype"};
  for (size_t i = 0; i < letter.documents.size(); ++i) {
    const std::string& n = letter.documents[i].file_name;
    bool usable = n.size() >= kMinPackageName && n.size() <= kMaxPackageName &&
                  !HasControlCharacters(n) && !absl::StrContains(n, "/") &&
                  !absl::StrContains(n, "\\") && !absl::StrContains(n, "..") &&
                  !absl::StartsWithIgnoreCase(n, "META-INF") &&
                  used.count(n) == 0;
    std::string name = usable ? n
                              : absl::StrCat("dokument-", i + 1,
                                             ExtensionFor(letter.documents[i]));
    used.insert(name);
    names.push_back(std::move(name));
  }
  return names;
}

bool AllDigits(absl::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isdigit(static_cast<unsigned char>(c));
         });
}

// At most `max` characters (code points) of UTF-8 `text`.
std::string Utf8Prefix(absl::string_view text, size_t max) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == max) return std::string(text.substr(0, i));
      ++chars;
    }
  }
  return std::string(text);
}

size_t Utf8Length(absl::string_view text) {
  size_t chars = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
  }
  return chars;
}

// "mobiltelefonnummer" as commons.schema.json takes it.
bool IsMobile(absl::string_view s) {
  if (s.size() < 8 || s.size() > 20) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (!(absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' ||
          c == ' ' || c == '_' || (c == '+' && i == 0))) {
      return false;
    }
  }
  return true;
}

bool IsEmail(absl::string_view s) {
  size_t at = s.find('@');
  return at != absl::string_view::npos && at > 0 && at + 1 < s.size() &&
         s.size() <= 254 && !HasControlCharacters(s) &&
         !absl::StrContains(s, " ") && s.find('@', at + 1) == s.npos;
}

// An "adresseInformasjon" of innbyggerpost_dpi_utskrift_1_0.schema.json:
// "navn", "adresselinje1".."4" (at most 100 each), and either "postnummer"
// (4 digits) and "poststed" (Norway) or "landkode" (2 letters; the foreign
// postal code and city go on a line of their own). The schema's oneOf
// takes exactly one of these forms. `code` is the error's.
absl::StatusOr<json> AddressJson(const PostalAddress& a, absl::StatusCode code,
                                 absl::string_view what) {
  auto bad = [&](absl::string_view why) {
    return absl::Status(code, absl::StrCat("dpi-print: ", what, ": ", why));
  };
  std::vector<std::string> lines;
  for (const std::string& line : a.lines) {
    std::string t(absl::StripAsciiWhitespace(line));
    if (!t.empty()) lines.push_back(std::move(t));
  }
  std::string name(absl::StripAsciiWhitespace(a.name));
  if (name.empty()) return bad("no name");
  std::string country = absl::AsciiStrToUpper(a.country_code);
  bool norway = country.empty() || country == "NO";
  json out = {{"navn", name}};
  if (norway) {
    if (!AllDigits(a.postal_code, 4)) return bad("postal code is not 4 digits");
    std::string city(absl::StripAsciiWhitespace(a.city));
    if (city.empty() || Utf8Length(city) > 80) {
      return bad("city must be 1 to 80 characters");
    }
    out["postnummer"] = a.postal_code;
    out["poststed"] = city;
  } else {
    if (country.size() != 2 || !absl::ascii_isalpha(country[0]) ||
        !absl::ascii_isalpha(country[1])) {
      return bad("country code is not 2 letters");
    }
    std::string tail(
        absl::StripAsciiWhitespace(absl::StrCat(a.postal_code, " ", a.city)));
    if (!tail.empty()) lines.push_back(std::move(tail));
    out["landkode"] = country;
  }
  if (lines.empty() || lines.size() > 4) {
    return bad("needs 1 to 4 address lines");
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    if (Utf8Length(lines[i]) > 100) {
      return bad("an address line is longer than 100 characters");
    }
    out[absl::StrCat("adresselinje", i + 1)] = lines[i];
  }
  return out;
}

json Party(const std::string& value) {
  return json::array(
      {{{"identifier", {{"authority", kAuthority}, {"value", value}}}}});
}

// The string at `key` of `object`, or "" when either is not there or of
// another type.
std::string Str(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// INVALID_ARGUMENT from building the request (a URL, a token issuer's
// refusal) is about the set-up, not the letter.
absl::Status AsSetUpError(absl::Status status) {
  if (absl::IsInvalidArgument(status)) {
    return absl::FailedPreconditionError(status.message());
  }
  return status;
}

int64_t ParseTimeMillis(const json& value, int64_t fallback) {
  if (!value.is_string()) return fallback;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, value.get<std::string>(), &t,
                       &err)) {
    return fallback;
  }
  return absl::ToUnixMillis(t);
}

enum class DpiKind { kDigital, kPrint };

// Who a send goes to, as the business message and the package name them.
struct DpiRecipient {
  std::string receiver_organisation;  // SBDH receiver, SendResult::provider.
  std::string certificate_der;        // The package is encrypted to it.
  std::string mailbox_address;        // Digital.
  std::string email;                  // Digital notices; may be empty.
  std::string mobile;
  json address;         // Print: "mottaker".
  json return_address;  // Print: "retur.mottaker".
};

class DpiChannel final : public Channel {
 public:
  DpiChannel(DpiKind kind, DpiOptions options,
             std::unique_ptr<DpiSigner> signer,
             std::unique_ptr<DpiReceiptVerifier> verifier,
             std::string print_certificate_der, HttpClient* http,
             TokenSource* tokens)
      : kind_(kind),
        options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : RealClock()),
        signer_(std::move(signer)),
        verifier_(std::move(verifier)),
        print_certificate_der_(std::move(print_certificate_der)),
        http_(http),
        tokens_(tokens) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') {
      options_.base_url.pop_back();
    }
  }

  std::string name() const override {
    return kind_ == DpiKind::kDigital ? "dpi" : "dpi-print";
  }

  absl::StatusOr<SendResult> Send(const OutgoingLetter& letter) override {
    if (!IsUuid(letter.message_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name(), ": the message id is not a UUID"));
    }
    if (letter.documents.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name(), ": the letter has no documents"));
    }
    ASSIGN_OR_RETURN(DpiRecipient recipient, kind_ == DpiKind::kDigital
                                                 ? DigitalRecipient(letter)
                                                 : PrintRecipient(letter));
    ASSIGN_OR_RETURN(std::string package,
                     Package(letter, recipient.mailbox_address));
    absl::StatusOr<std::string> encrypted =
        EncryptCms(package, recipient.certificate_der);
    if (!encrypted.ok()) {
      // A certificate the registry gave for this recipient that cannot be
      // used refuses this letter only.
      return absl::InvalidArgumentError(
          absl::StrCat(name(), ": ", encrypted.status().message()));
    }
    std::string boundary =
        absl::StrCat("utpost-dpi-", Sha256Hex(*encrypted).substr(0, 32));
    std::string url = absl::StrCat(options_.base_url, "/messages/out");
    if (!options_.kanal.empty()) {
      absl::StrAppend(&url, "?kanal=", options_.kanal);
    }
    // The token is inside the signed business message too, so a new token
    // means a new message.
    for (int attempt = 0;; ++attempt) {
      absl::StatusOr<std::string> token = tokens_->Token(options_.scope);
      if (!token.ok()) return AsSetUpError(token.status());
      ASSIGN_OR_RETURN(std::string jws,
                       signer_->SignJws(Dump(BusinessMessage(
                           letter, recipient, *encrypted, *token))));
      HttpRequest request;
      request.method = "POST";
      request.url = url;
      request.headers = {
          {"Content-Type",
           absl::StrCat("multipart/form-data; boundary=", boundary)},
          {"Accept", "application/json"},
          {"Authorization", absl::StrCat("Bearer ", *token)}};
      request.body = MultipartBody(boundary, jws, *encrypted);
      absl::StatusOr<HttpResponse> response = http_->Do(request);
      if (!response.ok()) return AsSetUpError(response.status());
      if (response->status == 401 && attempt == 0) {
        tokens_->Invalidate(options_.scope, *token);
        continue;
      }
      ASSIGN_OR_RETURN(SendResult result, Interpret(*response));
      result.provider = recipient.receiver_organisation;
      return result;
    }
  }

  absl::StatusOr<std::vector<ProviderEvent>> FetchEvents(int max) override {
    if (max <= 0) return std::vector<ProviderEvent>{};
    size_t skipped;
    {
      absl::MutexLock lock(&mu_);
      skipped = rejected_.size();
    }
    // Rejected receipts stay unread at the provider, ahead of newer ones:
    // ask for enough to see past them.
    int page_size = static_cast<int>(
        std::min<size_t>(static_cast<size_t>(options_.receipt_page_size),
                         static_cast<size_t>(max) + skipped));
    HttpRequest request;
    request.method = "GET";
    request.url = absl::StrCat(
        options_.base_url, "/messages/in",
        DpiReceiptListQuery(options_.kanal, options_.sender_id, page_size));
    request.headers = {{"Accept", "application/json"}};
    ASSIGN_OR_RETURN(HttpResponse response,
                     DoWithToken(std::move(request), options_.receipt_scope));
    // 204: "Ingen uleste meldinger".
    if (response.status == 204) return std::vector<ProviderEvent>{};
    if (response.status != 200) return QueueError("GET", response);
    json list = json::parse(response.body, nullptr, false);
    if (!list.is_array()) {
      return absl::UnavailableError(
          "dpi: the receipt queue did not answer a JSON list");
    }
    std::vector<ProviderEvent> events;
    for (const json& entry : list) {
      if (static_cast<int>(events.size()) >= max) break;
      std::string jws = Str(entry, "forretningsmelding");
      // The entry has no id of its own; a rejected one is known by its
      // content.
      std::string key = Sha256Hex(jws);
      {
        absl::MutexLock lock(&mu_);
        if (rejected_.contains(key)) continue;
      }
      absl::StatusOr<ProviderEvent> event;
      // The library throws on a value of an unexpected type; a malformed
      // receipt is refused like a forged one.
      try {
        event = ToEvent(jws);
      } catch (const std::exception& e) {
        event = absl::InvalidArgumentError(
            absl::StrCat("malformed receipt: ", e.what()));
      }
      if (!event.ok()) {
        // Logged once; the receipt stays unread at the provider for an
        // operator, who finds it by this digest of its forretningsmelding.
        spdlog::warn("dpi: rejected receipt sha256:{}: {}", key.substr(0, 16),
                     MaskPersonNumbersIn(std::string(
                         event.status().message().substr(0, kMaxQuoted))));
        absl::MutexLock lock(&mu_);
        if (rejected_.size() < kMaxRejected) rejected_.insert(key);
        continue;
      }
      events.push_back(*std::move(event));
    }
    return events;
  }

  absl::Status ConfirmEvents(const std::vector<std::string>& ids) override {
    for (const std::string& id : ids) {
      HttpRequest request;
      request.method = "POST";
      // The id is one path segment, whatever it holds (the parser takes
      // UUIDs only).
      request.url = absl::StrCat(
          options_.base_url, "/messages/in/",
          absl::StrReplaceAll(PercentEncodePath(id), {{"/", "%2F"}}), "/read");
      request.headers = {{"Accept", "application/json"}};
      ASSIGN_OR_RETURN(HttpResponse response,
                       DoWithToken(std::move(request), options_.receipt_scope));
      if (response.status == 404) continue;  // Marked read before.
      if (response.status < 200 || response.status >= 300) {
        return QueueError("POST read", response);
      }
    }
    return absl::OkStatus();
  }

 private:
  // The registry step (digital): the mailbox the person has now.
  absl::StatusOr<DpiRecipient> DigitalRecipient(
      const OutgoingLetter& letter) const {
    if (letter.person_number.empty()) {
      return absl::InvalidArgumentError(
          "dpi: reaches persons only; the letter has no person_number");
    }
    DpiRecipient r;
    r.mailbox_address = letter.mailbox_address;
    r.receiver_organisation = letter.mailbox_provider;
    r.certificate_der = letter.mailbox_certificate;
    if (options_.registry != nullptr) {
      absl::StatusOr<std::vector<PersonContact>> contacts =
          options_.registry->LookupPersons({letter.person_number});
      if (!contacts.ok()) {
        return absl::Status(
            contacts.status().code(),
            absl::StrCat("dpi: registry: ", MaskPersonNumbersIn(std::string(
                                                contacts.status().message()))));
      }
      const PersonContact* contact = nullptr;
      for (const PersonContact& c : *contacts) {
        if (c.person_number == letter.person_number) contact = &c;
      }
      if (contact == nullptr) {
        return absl::UnavailableError(
            "dpi: registry: no answer for the recipient");
      }
      if (contact->status != PersonContact::Status::kActive ||
          contact->reserved) {
        return absl::InvalidArgumentError(
            "dpi: the registry has the recipient as not active or reserved "
            "against digital post");
      }
      r.mailbox_address = contact->mailbox_address;
      r.receiver_organisation = contact->mailbox_provider;
      r.certificate_der = contact->mailbox_certificate;
      r.email = contact->email;
      r.mobile = contact->mobile;
    }
    if (r.mailbox_address.empty()) {
      return absl::InvalidArgumentError(
          "dpi: the registry gives the recipient no mailbox address");
    }
    if (!AllDigits(r.receiver_organisation, 9)) {
      return absl::InvalidArgumentError(
          "dpi: the registry names no mailbox provider organisation");
    }
    if (r.certificate_der.empty()) {
      return absl::InvalidArgumentError(
          "dpi: the registry gave no mailbox certificate for the recipient");
    }
    return r;
  }

  absl::StatusOr<DpiRecipient> PrintRecipient(
      const OutgoingLetter& letter) const {
    DpiRecipient r;
    r.receiver_organisation = options_.print_provider;
    r.certificate_der = print_certificate_der_;
    ASSIGN_OR_RETURN(r.address, AddressJson(letter.recipient_address,
                                            absl::StatusCode::kInvalidArgument,
                                            "recipient address"));
    ASSIGN_OR_RETURN(r.return_address,
                     AddressJson(letter.return_address,
                                 absl::StatusCode::kFailedPrecondition,
                                 "the tenant's return address"));
    return r;
  }

  absl::StatusOr<std::string> Package(
      const OutgoingLetter& letter, const std::string& mailbox_address) const {
    std::vector<std::string> names = PackageNames(letter);
    DpiManifest manifest;
    manifest.mailbox_address = mailbox_address;
    manifest.sender_organisation = letter.tenant;
    manifest.language = options_.language;
    std::vector<AsicFile> files;
    for (size_t i = 0; i < letter.documents.size(); ++i) {
      const OutgoingDocument& d = letter.documents[i];
      std::string media =
          d.media_type.empty() ? "application/pdf" : d.media_type;
      std::string title =
          i == 0 && !letter.title.empty() ? letter.title : d.file_name;
      if (title.empty()) title = names[i];
      manifest.documents.push_back({names[i], media, Utf8Prefix(title, 255)});
      files.push_back({names[i], media, d.content});
    }
    files.push_back(
        {"manifest.xml", "application/xml", DpiManifestXml(manifest)});
    return BuildAsicE(files, *signer_, clock_->NowMillis());
  }

  std::string NonSensitiveTitle(const OutgoingLetter& letter) const {
    std::string title =
        letter.confidential ? options_.non_sensitive_title : letter.title;
    if (title.empty()) title = letter.documents.front().file_name;
    if (title.empty() || HasControlCharacters(title)) {
      title = options_.non_sensitive_title;
    }
    return Utf8Prefix(title, 255);
  }

  json BusinessMessage(const OutgoingLetter& letter, const DpiRecipient& r,
                       const std::string& encrypted,
                       const std::string& token) const {
    const bool print = kind_ == DpiKind::kPrint;
    int64_t now = clock_->NowMillis();
    std::string date = absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(now),
                                        absl::UTCTimeZone());
    std::string sender = absl::StrCat("0192:", letter.tenant);
    json header = {
        {"headerVersion", "1.0"},
        {"sender", Party(sender)},
        {"receiver", Party(absl::StrCat("0192:", r.receiver_organisation))},
        {"documentIdentification",
         {{"standard", print ? kPrintStandard : kDigitalStandard},
          {"typeVersion", "1.0"},
          {"instanceIdentifier", letter.message_id},
          {"type", print ? "utskrift" : "digital"},
          {"creationDateAndTime", FormatRfc3339(now)}}},
        {"businessScope",
         {{"scope",
           json::array(
               {{{"type", "ConversationId"},
                 {"instanceIdentifier", letter.message_id},
                 {"identifier", print ? kPrintProcess : kDigitalProcess},
                 {"scopeInformation",
                  json::array(
                      {{{"expectedResponseDateTime",
                         FormatRfc3339(now + kExpectedResponseMs)}}})}}})}}}};
    json avsender = {{"virksomhetsidentifikator",
                      {{"authority", kAuthority}, {"value", sender}}}};
    if (!options_.sender_id.empty()) {
      avsender["avsenderidentifikator"] = options_.sender_id;
    }
    json fingerprint = {{"digestMethod", kSha256Uri},
                        {"digestValue", absl::Base64Escape(Sha256(encrypted))}};
    json body;
    if (print) {
      body = {{"avsender", avsender},
              {"mottaker", r.address},
              {"dokumentpakkefingeravtrykk", fingerprint},
              {"maskinportentoken", token},
              {"utskriftstype", letter.color ? "FARGE" : "SORT_HVIT"},
              {"retur",
               {{"mottaker", r.return_address},
                {"returposthaandtering", letter.shred_if_undeliverable
                                             ? "MAKULERING_MED_MELDING"
                                             : "DIREKTE_RETUR"}}},
              {"posttype", letter.a_post ? "A" : "B"}};
    } else {
      body = {{"avsender", avsender},
              {"mottaker", {{"postkasseadresse", r.mailbox_address}}},
              {"dokumentpakkefingeravtrykk", fingerprint},
              {"maskinportentoken", token},
              {"sikkerhetsnivaa", letter.confidential ? 4 : 3},
              {"virkningsdato", date},
              {"aapningskvittering", true},
              {"ikkesensitivtittel", NonSensitiveTitle(letter)},
              {"spraak", options_.language}};
      // Notices go where the registry says the person takes them; without
      // an address the mailbox's own settings apply.
      json varsler = json::object();
      if (IsEmail(r.email)) {
        varsler["epostvarsel"] = {
            {"epostadresse", r.email},
            {"varslingstekst", options_.notification_text},
            {"repetisjoner", json::array({0, 7})}};
      }
      if (IsMobile(r.mobile)) {
        varsler["smsvarsel"] = {{"mobiltelefonnummer", r.mobile},
                                {"varslingstekst", options_.notification_text},
                                {"repetisjoner", json::array({0, 7})}};
      }
      if (!varsler.empty()) body["varsler"] = std::move(varsler);
    }
    return {{"standardBusinessDocument",
             {{"standardBusinessDocumentHeader", header},
              {print ? "utskrift" : "digital", body}}}};
  }

  static std::string MultipartBody(const std::string& boundary,
                                   const std::string& jws,
                                   const std::string& encrypted) {
    std::string body = absl::StrCat(
        "--", boundary, "\r\n",
        "Content-Disposition: form-data; name=\"forretningsmelding\"\r\n",
        "Content-Type: application/jose\r\n\r\n", jws, "\r\n",  //
        "--", boundary, "\r\n",
        "Content-Disposition: form-data; name=\"dokumentpakke\"; "
        "filename=\"dokumentpakke.cms\"\r\n",
        "Content-Type: application/cms\r\n\r\n");
    body.append(encrypted);
    absl::StrAppend(&body, "\r\n--", boundary, "--\r\n");
    return body;
  }

  // Sends `request` with a bearer token for `scope`; on 401 the token is
  // dropped and the request sent once more with a fresh one.
  absl::StatusOr<HttpResponse> DoWithToken(HttpRequest request,
                                           const std::string& scope) {
    for (int attempt = 0;; ++attempt) {
      absl::StatusOr<std::string> token = tokens_->Token(scope);
      if (!token.ok()) return AsSetUpError(token.status());
      SetHeader(&request.headers, "Authorization",
                absl::StrCat("Bearer ", *token));
      absl::StatusOr<HttpResponse> response = http_->Do(request);
      if (!response.ok()) return AsSetUpError(response.status());
      if (response->status != 401 || attempt > 0) return response;
      tokens_->Invalidate(scope, *token);
    }
  }

  static std::string Describe(const HttpResponse& response, json* problem) {
    *problem = json::parse(response.body, nullptr, false);
    std::string detail, kode, feiltype;
    if (problem->is_object()) {
      detail = Str(*problem, "detail");
      if (detail.empty()) detail = Str(*problem, "title");
      kode = Str(*problem, "kode");
      feiltype = Str(*problem, "feiltype");
    } else {
      detail = response.body;
    }
    std::string text = MaskPersonNumbersIn(detail);
    return MaskPersonNumbersIn(absl::StrCat(
        "dpi answered HTTP ", response.status, feiltype.empty() ? "" : " ",
        feiltype, kode.empty() ? "" : " ", kode, text.empty() ? "" : ": ",
        absl::string_view(text).substr(0, kMaxQuoted)));
  }

  static absl::StatusOr<SendResult> Interpret(const HttpResponse& response) {
    json problem;
    if (response.status >= 200 && response.status < 300) {
      SendResult result;
      result.outcome = SendResult::Outcome::kAccepted;
      json reply = json::parse(response.body, nullptr, false);
      result.provider_reference = Str(reply, "status");
      if (result.provider_reference.empty()) {
        result.provider_reference = "MOTTATT";
      }
      return result;
    }
    std::string message = Describe(response, &problem);
    if (response.status == 409) {
      SendResult result;
      result.outcome = SendResult::Outcome::kDuplicate;
      result.provider_reference = "DUPLIKAT";
      return result;
    }
    std::string kode = Str(problem, "kode");
    std::string feiltype = Str(problem, "feiltype");
    if (response.status >= 500 || feiltype == "SERVER") {
      return absl::UnavailableError(message);
    }
    if (response.status == 408) return absl::DeadlineExceededError(message);
    if (response.status == 429) return absl::ResourceExhaustedError(message);
    if (response.status == 401) return absl::UnauthenticatedError(message);
    if (response.status == 403) return absl::PermissionDeniedError(message);
    // A wrong URL or method, or a request shape the provider does not
    // take, would refuse every letter alike: the set-up.
    if (response.status == 404 || response.status == 405 ||
        response.status == 406 || response.status == 415 ||
        kode == "UGYLDIG_SIGNATUR" || kode == "UGYLDIG_SERTIFIKAT" ||
        kode == "UGYLDIG_FINGERAVTRYKK" || kode == "UGYLDIG_FORESPOERSEL") {
      return absl::FailedPreconditionError(message);
    }
    if (response.status >= 400 && response.status < 500) {
      return absl::InvalidArgumentError(message);
    }
    return absl::FailedPreconditionError(message);
  }

  static absl::Status QueueError(absl::string_view method,
                                 const HttpResponse& response) {
    json problem;
    std::string message = absl::StrCat("receipt queue ", method, ": ",
                                       Describe(response, &problem));
    if (response.status >= 500 || response.status == 429) {
      return absl::UnavailableError(message);
    }
    if (response.status == 408) return absl::DeadlineExceededError(message);
    if (response.status == 401) return absl::UnauthenticatedError(message);
    if (response.status == 403) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);
  }

  absl::StatusOr<ProviderEvent> ToEvent(const std::string& jws) const {
    if (jws.empty()) {
      return absl::InvalidArgumentError(
          "queue entry without forretningsmelding");
    }
    ASSIGN_OR_RETURN(json payload, verifier_->Verify(jws));
    ASSIGN_OR_RETURN(ProviderEvent event, ParseDpiReceipt(payload));
    event.evidence = jws;
    return event;
  }

  const DpiKind kind_;
  DpiOptions options_;
  const Clock* const clock_;
  const std::unique_ptr<DpiSigner> signer_;
  const std::unique_ptr<DpiReceiptVerifier> verifier_;
  const std::string print_certificate_der_;  // Print only.
  HttpClient* const http_;
  TokenSource* const tokens_;
  absl::Mutex mu_;
  // SHA-256 (hex) of the receipts that failed verification or parsing:
  // logged once, then skipped. At most kMaxRejected.
  absl::flat_hash_set<std::string> rejected_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

namespace {

absl::StatusOr<std::unique_ptr<Channel>> MakeDpiChannel(
    DpiKind kind, const DpiOptions& options, HttpClient* http,
    TokenSource* tokens) {
  if (options.base_url.empty()) {
    return absl::InvalidArgumentError("dpi.url: must be set");
  }
  if (options.signing_key_file.empty()) {
    return absl::InvalidArgumentError("dpi.signing_key_file: must be set");
  }
  if (options.certificate_file.empty()) {
    return absl::InvalidArgumentError("dpi.certificate_file: must be set");
  }
  if (http == nullptr || tokens == nullptr) {
    return absl::InvalidArgumentError(
        "dpi: needs an HTTP client and a token source");
  }
  RETURN_IF_ERROR(CheckDpiKanal(options.kanal));
  if (options.receipt_page_size < 1 || options.receipt_page_size > kMaxFetch) {
    return absl::InvalidArgumentError(
        "dpi.receipt_page_size: must be 1 to 1000");
  }
  if (options.language.size() != 2 ||
      !absl::ascii_islower(static_cast<unsigned char>(options.language[0])) ||
      !absl::ascii_islower(static_cast<unsigned char>(options.language[1]))) {
    return absl::InvalidArgumentError(
        "dpi.language: an ISO 639-1 code in lower case, e.g. \"no\"");
  }
  if (options.non_sensitive_title.empty() ||
      Utf8Length(options.non_sensitive_title) > 255) {
    return absl::InvalidArgumentError(
        "dpi.non_sensitive_title: 1 to 255 characters");
  }
  if (options.notification_text.empty() ||
      Utf8Length(options.notification_text) > 160) {
    return absl::InvalidArgumentError(
        "dpi.notification_text: 1 to 160 characters");
  }
  if (Utf8Length(options.sender_id) > 100) {
    return absl::InvalidArgumentError("dpi.sender_id: at most 100 characters");
  }
  std::string print_certificate_der;
  if (kind == DpiKind::kPrint) {
    if (!AllDigits(options.print_provider, 9)) {
      return absl::InvalidArgumentError(
          "dpi.print_provider: the print provider's organisation number (9 "
          "digits)");
    }
    std::ifstream in(options.print_certificate_file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<std::string> der = CertificateToDer(text.str());
    if (options.print_certificate_file.empty() || !in || !der.ok() ||
        !EncryptCms("", *der).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dpi.print_certificate_file: \"", options.print_certificate_file,
          "\" is not an RSA certificate (PEM)"));
    }
    print_certificate_der = *std::move(der);
  }
  ASSIGN_OR_RETURN(
      std::unique_ptr<DpiSigner> signer,
      DpiSigner::FromFiles(options.signing_key_file, options.certificate_file,
                           options.certificate_root_file));
  ASSIGN_OR_RETURN(
      std::unique_ptr<DpiReceiptVerifier> verifier,
      DpiReceiptVerifier::FromFiles(options.provider_ca_file,
                                    options.provider_certificate_file));
  return std::make_unique<DpiChannel>(
      kind, options, std::move(signer), std::move(verifier),
      std::move(print_certificate_der), http, tokens);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Channel>> NewDpiChannel(
    const DpiOptions& options, HttpClient* http, TokenSource* tokens) {
  return MakeDpiChannel(DpiKind::kDigital, options, http, tokens);
}

absl::StatusOr<std::unique_ptr<Channel>> NewDpiPrintChannel(
    const DpiOptions& options, HttpClient* http, TokenSource* tokens) {
  return MakeDpiChannel(DpiKind::kPrint, options, http, tokens);
}

}  // namespace utpost::adapters
