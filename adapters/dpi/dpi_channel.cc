#include "adapters/dpi/dpi_channel.h"

#include <algorithm>
#include <exception>
#include <set>
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
constexpr char kStandardPrefix[] =
    "urn:fdc:digdir.no:2020:innbyggerpost:xsd::innbyggerpost##"
    "urn:fdc:digdir.no:2020:innbyggerpost:schema:";
constexpr char kDigitalProcess[] =
    "urn:fdc:digdir.no:2020:profile:egovernment:innbyggerpost:digital:ver1.0";
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

// Longer file names are not put in the package: a zip entry's name has at
// most 65535 bytes, and no reader needs more than a file system takes.
constexpr size_t kMaxPackageName = 255;

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
    bool usable = !n.empty() && n.size() <= kMaxPackageName &&
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

class DpiChannel final : public Channel {
 public:
  DpiChannel(DpiOptions options, std::unique_ptr<DpiSigner> signer,
             std::unique_ptr<DpiReceiptVerifier> verifier, HttpClient* http,
             TokenSource* tokens)
      : options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : RealClock()),
        signer_(std::move(signer)),
        verifier_(std::move(verifier)),
        http_(http),
        tokens_(tokens) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') {
      options_.base_url.pop_back();
    }
  }

  std::string name() const override { return "dpi"; }

  absl::StatusOr<SendResult> Send(const OutgoingLetter& letter) override {
    if (!IsUuid(letter.message_id)) {
      return absl::InvalidArgumentError("dpi: the message id is not a UUID");
    }
    if (letter.person_number.empty()) {
      return absl::InvalidArgumentError(
          "dpi: reaches persons only; the letter has no person_number");
    }
    if (letter.documents.empty()) {
      return absl::InvalidArgumentError("dpi: the letter has no documents");
    }
    if (letter.mailbox_certificate.empty()) {
      return absl::InvalidArgumentError(
          "dpi: the registry gave no mailbox certificate for the recipient");
    }
    ASSIGN_OR_RETURN(std::string package, Package(letter));
    absl::StatusOr<std::string> encrypted =
        EncryptCms(package, letter.mailbox_certificate);
    if (!encrypted.ok()) {
      // A certificate the registry gave for this recipient that cannot be
      // used refuses this letter only.
      return absl::InvalidArgumentError(
          absl::StrCat("dpi: ", encrypted.status().message()));
    }
    ASSIGN_OR_RETURN(
        std::string jws,
        signer_->SignJws(Dump(BusinessMessage(letter, *encrypted))));
    std::string boundary =
        absl::StrCat("utpost-dpi-", Sha256Hex(*encrypted).substr(0, 32));
    std::string body = absl::StrCat(
        "--", boundary, "\r\n",
        "Content-Disposition: form-data; name=\"forretningsmelding\"\r\n",
        "Content-Type: application/jose\r\n\r\n", jws, "\r\n",  //
        "--", boundary, "\r\n",
        "Content-Disposition: form-data; name=\"dokumentpakke\"; "
        "filename=\"dokumentpakke.cms\"\r\n",
        "Content-Type: application/cms\r\n\r\n");
    body.append(*encrypted);
    absl::StrAppend(&body, "\r\n--", boundary, "--\r\n");

    HttpRequest request;
    request.method = "POST";
    request.url = absl::StrCat(
        options_.base_url, "/messages/out",
        options_.kanal.empty() ? "" : absl::StrCat("?kanal=", options_.kanal));
    request.headers = {
        {"Content-Type",
         absl::StrCat("multipart/form-data; boundary=", boundary)},
        {"Accept", "application/json"}};
    request.body = std::move(body);
    ASSIGN_OR_RETURN(HttpResponse response,
                     DoWithToken(std::move(request), options_.scope));
    return Interpret(response);
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
  absl::StatusOr<std::string> Package(const OutgoingLetter& letter) const {
    std::vector<std::string> names = PackageNames(letter);
    DpiManifest manifest;
    manifest.person_number = letter.person_number;
    manifest.mailbox_address = letter.mailbox_address;
    manifest.sender_organisation = letter.tenant;
    std::vector<AsicFile> files;
    for (size_t i = 0; i < letter.documents.size(); ++i) {
      const OutgoingDocument& d = letter.documents[i];
      std::string media =
          d.media_type.empty() ? "application/pdf" : d.media_type;
      manifest.documents.push_back(
          {names[i], media,
           i == 0 && !letter.title.empty() ? letter.title : d.file_name});
      files.push_back({names[i], media, d.content});
    }
    files.push_back(
        {"manifest.xml", "application/xml", DpiManifestXml(manifest)});
    return BuildAsicE(files, *signer_, clock_->NowMillis());
  }

  json BusinessMessage(const OutgoingLetter& letter,
                       const std::string& encrypted) const {
    int64_t now = clock_->NowMillis();
    std::string date = absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(now),
                                        absl::UTCTimeZone());
    json header = {
        {"headerVersion", "1.0"},
        {"sender", Party(absl::StrCat("0192:", letter.tenant))},
        {"receiver", Party(letter.person_number)},
        {"documentIdentification",
         {{"standard", absl::StrCat(kStandardPrefix, "digital::1.0")},
          {"typeVersion", "1.0"},
          {"instanceIdentifier", letter.message_id},
          {"type", "digital"},
          {"creationDateAndTime", FormatRfc3339(now)}}},
        {"businessScope",
         {{"scope", json::array({{{"type", "ConversationId"},
                                  {"instanceIdentifier", letter.message_id},
                                  {"identifier", kDigitalProcess}}})}}}};
    json digital = {
        {"avsender",
         {{"virksomhetsidentifikator",
           {{"authority", kAuthority},
            {"value", absl::StrCat("0192:", letter.tenant)}}}}},
        {"mottaker",
         {{"personidentifikator", letter.person_number},
          {"postkasseadresse", letter.mailbox_address},
          {"postkasseleverandoeradresse", letter.mailbox_provider}}},
        {"sikkerhetsnivaa", letter.confidential ? 4 : 3},
        {"hoveddokument", PackageNames(letter).front()},
        {"tittel", letter.title.empty() ? letter.documents.front().file_name
                                        : letter.title},
        {"spraak", "NO"},
        {"digitalPostInfo",
         {{"virkningsdato", date}, {"aapningskvittering", true}}},
        {"varsler",
         {{"epostVarsel",
           {{"tekst", "Du har mottatt et brev i din digitale postkasse."}}},
          {"smsVarsel",
           {{"tekst", "Du har mottatt et brev i din digitale postkasse."}}}}},
        {"dokumentpakkefingeravtrykk",
         {{"digestMethod", kSha256Uri},
          {"digestValue", absl::Base64Escape(Sha256(encrypted))}}}};
    if (!options_.sender_id.empty()) digital["avsenderId"] = options_.sender_id;
    return {{"standardBusinessDocumentHeader", header}, {"digital", digital}};
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

  DpiOptions options_;
  const Clock* const clock_;
  const std::unique_ptr<DpiSigner> signer_;
  const std::unique_ptr<DpiReceiptVerifier> verifier_;
  HttpClient* const http_;
  TokenSource* const tokens_;
  absl::Mutex mu_;
  // SHA-256 (hex) of the receipts that failed verification or parsing:
  // logged once, then skipped. At most kMaxRejected.
  absl::flat_hash_set<std::string> rejected_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Channel>> NewDpiChannel(
    const DpiOptions& options, HttpClient* http, TokenSource* tokens) {
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
  ASSIGN_OR_RETURN(
      std::unique_ptr<DpiSigner> signer,
      DpiSigner::FromFiles(options.signing_key_file, options.certificate_file));
  ASSIGN_OR_RETURN(
      std::unique_ptr<DpiReceiptVerifier> verifier,
      DpiReceiptVerifier::FromFiles(options.provider_ca_file,
                                    options.provider_certificate_file));
  return std::make_unique<DpiChannel>(options, std::move(signer),
                                      std::move(verifier), http, tokens);
}

}  // namespace utpost::adapters
