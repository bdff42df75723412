#include "adapters/digipost/digipost_channel.h"

#include <fstream>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/digipost/digipost_protocol.h"
#include "adapters/http/digest.h"
#include "adapters/http/request_signer.h"
#include "common/digest.h"
#include "common/mask.h"
#include "common/status_macros.h"

namespace utpost::adapters {
namespace {

constexpr size_t kMaxQuoted = 300;

std::string XmlUnescape(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"&lt;", "<"},
                                    {"&gt;", ">"},
                                    {"&quot;", "\""},
                                    {"&apos;", "'"},
                                    {"&amp;", "&"}});
}

// The text of the first element whose local name is `name` (any namespace
// prefix), or "" when there is none. The replies are small and flat; a
// scanner is enough and keeps an XML library out of the build.
std::string FindElementText(absl::string_view xml, absl::string_view name) {
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != absl::string_view::npos) {
    size_t name_start = pos + 1;
    size_t name_end = xml.find_first_of(" \t\r\n/>", name_start);
    if (name_end == absl::string_view::npos) return "";
    absl::string_view tag = xml.substr(name_start, name_end - name_start);
    size_t colon = tag.find(':');
    absl::string_view local =
        colon == absl::string_view::npos ? tag : tag.substr(colon + 1);
    size_t tag_end = xml.find('>', name_end);
    if (tag_end == absl::string_view::npos) return "";
    if (local == name && xml[tag_end - 1] != '/') {
      size_t text_end = xml.find('<', tag_end + 1);
      if (text_end == absl::string_view::npos) return "";
      return XmlUnescape(absl::StripAsciiWhitespace(
          xml.substr(tag_end + 1, text_end - tag_end - 1)));
    }
    pos = tag_end + 1;
  }
  return "";
}

// The signer's and the HTTP client's INVALID_ARGUMENT is about the request
// built from configuration (its URL), not about the letter: it must not
// read as a refusal of the letter.
absl::Status AsSetUpError(absl::Status status) {
  if (absl::IsInvalidArgument(status)) {
    return absl::FailedPreconditionError(status.message());
  }
  return status;
}

// "https://host:1/a" -> "https://host:1"; "" without "://".
std::string Origin(absl::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return "";
  size_t path = url.find('/', scheme + 3);
  return std::string(url.substr(0, path));
}

// The query value as the Java client's URI builder writes it: unreserved
// characters as they are, everything else percent-encoded.
std::string QueryEncode(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// yyyy-MM-dd'T'HH:mm:ss.SSSxxx, the event feed's time parameters.
std::string FeedTime(int64_t unix_millis) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3S%Ez",
                          absl::FromUnixMillis(unix_millis),
                          absl::UTCTimeZone());
}

// What the entry point gave: where to send, where to read events, and the
// certificate that verifies responses.
struct Endpoints {
  std::string create_message;
  std::string document_events;
  std::unique_ptr<DigipostResponseVerifier> verifier;
};

class DigipostChannel final : public Channel {
 public:
  DigipostChannel(DigipostOptions options,
                  std::unique_ptr<RequestSigner> signer, HttpClient* http)
      : options_(std::move(options)),
        signer_(std::move(signer)),
        http_(http),
        clock_(options_.clock != nullptr ? options_.clock : RealClock()),
        events_from_ms_(clock_->NowMillis() - options_.events_lookback_ms) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') {
      options_.base_url.pop_back();
    }
  }

  // The feed is read by offset from a fixed start (the first channel's
  // creation less the look-back); ConfirmEvents moves past what was stored.
  // With `positions` both are kept there and a restart goes on from them;
  // without, a restart reads its look-back window again and the store
  // recognises the repeats.
  absl::StatusOr<std::vector<ProviderEvent>> FetchEvents(int max) override {
    if (max <= 0) return std::vector<ProviderEvent>{};
    std::string saved;
    if (options_.positions != nullptr) {
      // Another worker may have moved it.
      ASSIGN_OR_RETURN(saved, options_.positions->Load(FeedName()));
    }
    int64_t from_ms;
    int64_t offset;
    {
      absl::MutexLock lock(&events_mu_);
      if (options_.positions != nullptr) {
        saved_position_ = saved;
        std::pair<absl::string_view, absl::string_view> parts =
            absl::StrSplit(saved, absl::MaxSplits(':', 1));
        int64_t saved_from;
        int64_t saved_offset;
        // None yet (or unreadable, then replaced): this channel's start.
        if (absl::SimpleAtoi(parts.first, &saved_from) &&
            absl::SimpleAtoi(parts.second, &saved_offset) &&
            saved_offset >= 0) {
          events_from_ms_ = saved_from;
          events_offset_ = saved_offset;
        }
      }
      from_ms = events_from_ms_;
      offset = events_offset_;
    }
    ASSIGN_OR_RETURN(std::shared_ptr<const Endpoints> endpoints, Resolve());
    if (endpoints->document_events.empty()) {
      return absl::FailedPreconditionError(
          "digipost: the entry point has no document_events link");
    }
    HttpRequest request;
    request.method = "GET";
    request.url = absl::StrCat(
        endpoints->document_events,
        absl::StrContains(endpoints->document_events, "?") ? "&" : "?",
        "from=", QueryEncode(FeedTime(from_ms)),
        "&to=", QueryEncode(FeedTime(clock_->NowMillis() + 60 * 1000)),
        "&offset=", offset, "&maxResults=", max);
    request.headers = {{"Accept", std::string(kDigipostMediaType)}};
    ASSIGN_OR_RETURN(HttpResponse response,
                     Exchange(std::move(request), endpoints));
    if (response.status != 200) {
      absl::StatusOr<SendResult> error = Interpret(response);
      // A refusal of the query is this gateway's doing, not a letter's.
      if (error.ok() || absl::IsInvalidArgument(error.status())) {
        return absl::FailedPreconditionError(
            absl::StrCat("digipost events: HTTP ", response.status, " ",
                         error.ok() ? "" : error.status().message()));
      }
      return error.status();
    }
    absl::StatusOr<std::vector<DigipostDocumentEvent>> events =
        ParseDigipostDocumentEvents(response.body);
    if (!events.ok()) {
      // Signed by Digipost and still not a feed page: the provider's side.
      return absl::FailedPreconditionError(events.status().message());
    }
    std::vector<ProviderEvent> out;
    out.reserve(events->size());
    for (DigipostDocumentEvent& event : *events) {
      out.push_back(ToProviderEvent(std::move(event)));
    }
    return out;
  }

  absl::Status ConfirmEvents(const std::vector<std::string>& ids) override {
    if (ids.empty()) return absl::OkStatus();
    std::string from;
    std::string to;
    {
      absl::MutexLock lock(&events_mu_);
      events_offset_ += static_cast<int64_t>(ids.size());
      from = saved_position_;
      to = absl::StrCat(events_from_ms_, ":", events_offset_);
    }
    if (options_.positions == nullptr) return absl::OkStatus();
    // False: another worker moved it first; the next fetch takes its place.
    ASSIGN_OR_RETURN(bool moved,
                     options_.positions->Move(FeedName(), from, to));
    if (moved) {
      absl::MutexLock lock(&events_mu_);
      saved_position_ = to;
    }
    return absl::OkStatus();
  }

  std::string name() const override { return "digital"; }

  absl::StatusOr<SendResult> Send(const OutgoingLetter& letter) override {
    if (letter.message_id.empty()) {
      return absl::InvalidArgumentError("letter has no message id");
    }
    if (letter.person_number.empty() == letter.organisation_number.empty()) {
      return absl::InvalidArgumentError(
          "letter needs exactly one of person_number and organisation_number");
    }
    if (letter.documents.empty()) {
      return absl::InvalidArgumentError("letter has no documents");
    }
    ASSIGN_OR_RETURN(std::shared_ptr<const Endpoints> endpoints, Resolve());
    if (endpoints->create_message.empty()) {
      return absl::FailedPreconditionError(
          "digipost: the entry point has no create_message link");
    }
    HttpRequest request;
    request.method = "POST";
    request.url = endpoints->create_message;
    std::string boundary = Boundary(letter);
    request.headers = {
        {"Content-Type",
         absl::StrCat(kDigipostMultipartMediaType, "; boundary=", boundary)},
        {"Accept", std::string(kDigipostMediaType)}};
    request.body = Body(letter, boundary);
    ASSIGN_OR_RETURN(HttpResponse response,
                     Exchange(std::move(request), endpoints));
    absl::StatusOr<SendResult> result = Interpret(response);
    if (result.ok()) result->provider = std::string(kDigipostOrganisation);
    return result;
  }

 private:
  // The endpoints from the entry point, read once and kept until a request
  // through them fails in a way that a changed entry point could explain
  // (transport, 404, a response that does not verify).
  absl::StatusOr<std::shared_ptr<const Endpoints>> Resolve() {
    absl::MutexLock lock(&endpoints_mu_);
    if (endpoints_ != nullptr) return endpoints_;
    HttpRequest request;
    request.method = "GET";
    request.url = absl::StrCat(options_.base_url, "/");
    request.headers = {{"Accept", std::string(kDigipostMediaType)}};
    RETURN_IF_ERROR(AsSetUpError(signer_->Sign(&request)));
    absl::StatusOr<HttpResponse> response = http_->Do(request);
    if (!response.ok()) return AsSetUpError(response.status());
    if (response->status != 200) {
      absl::StatusOr<SendResult> error = Interpret(*response);
      if (error.ok() || absl::IsInvalidArgument(error.status())) {
        return absl::FailedPreconditionError(
            absl::StrCat("digipost entry point: HTTP ", response->status, " ",
                         error.ok() ? "" : error.status().message()));
      }
      return error.status();
    }
    absl::StatusOr<DigipostEntryPoint> entry =
        ParseDigipostEntryPoint(response->body);
    if (!entry.ok()) {
      return absl::FailedPreconditionError(entry.status().message());
    }
    if (entry->certificate.empty()) {
      return absl::FailedPreconditionError(
          "digipost: the entry point publishes no certificate");
    }
    absl::StatusOr<std::unique_ptr<DigipostResponseVerifier>> verifier =
        DigipostResponseVerifier::FromCertificate(entry->certificate);
    if (!verifier.ok()) {
      return absl::FailedPreconditionError(verifier.status().message());
    }
    if (!options_.certificate_ca_file.empty()) {
      RETURN_IF_ERROR((*verifier)->CheckIssuedBy(options_.certificate_ca_file,
                                                 clock_->NowMillis()));
    }
    // The entry point's own response is signed too, with the key of the
    // certificate it publishes.
    RETURN_IF_ERROR((*verifier)->Verify(*response, "/", clock_->NowMillis()));
    auto endpoints = std::make_shared<Endpoints>();
    ASSIGN_OR_RETURN(endpoints->create_message,
                     Absolute(entry->LinkFor("create_message")));
    ASSIGN_OR_RETURN(endpoints->document_events,
                     Absolute(entry->LinkFor("document_events")));
    endpoints->verifier = *std::move(verifier);
    endpoints_ = std::move(endpoints);
    return endpoints_;
  }

  // Drops `seen` from the cache (unless another thread replaced it already).
  void Forget(const std::shared_ptr<const Endpoints>& seen) {
    absl::MutexLock lock(&endpoints_mu_);
    if (endpoints_ == seen) endpoints_.reset();
  }

  // A link's uri as an absolute URL; a path is taken relative to the base
  // URL's origin. "" stays "" (the link is missing).
  absl::StatusOr<std::string> Absolute(const std::string& uri) const {
    if (uri.empty() || absl::StartsWith(uri, "https://") ||
        absl::StartsWith(uri, "http://")) {
      return uri;
    }
    std::string origin = Origin(options_.base_url);
    if (absl::StartsWith(uri, "/") && !origin.empty()) {
      return absl::StrCat(origin, uri);
    }
    return absl::FailedPreconditionError(
        absl::StrCat("digipost: entry point link \"",
                     absl::string_view(uri).substr(0, kMaxQuoted),
                     "\" is neither a URL nor a path"));
  }

  // Signs and sends `request`, then verifies the response against the
  // entry point's certificate.
  absl::StatusOr<HttpResponse> Exchange(
      HttpRequest request, const std::shared_ptr<const Endpoints>& endpoints) {
    std::string path;
    std::string query;
    RETURN_IF_ERROR(AsSetUpError(SplitUrl(request.url, &path, &query)));
    RETURN_IF_ERROR(AsSetUpError(signer_->Sign(&request)));
    absl::StatusOr<HttpResponse> response = http_->Do(request);
    if (!response.ok()) {
      Forget(endpoints);
      return AsSetUpError(response.status());
    }
    if (absl::Status verified =
            endpoints->verifier->Verify(*response, path, clock_->NowMillis());
        !verified.ok()) {
      // Perhaps a new certificate: the next request reads the entry point
      // again.
      Forget(endpoints);
      return verified;
    }
    if (response->status == 404) Forget(endpoints);
    return response;
  }

  // Derived from the content so that a retry sends a byte-identical body;
  // a document containing this line by chance would have to contain a
  // digest of itself.
  static std::string Boundary(const OutgoingLetter& letter) {
    std::string seed = letter.message_id;
    for (const OutgoingDocument& document : letter.documents) {
      absl::StrAppend(&seed, "\n", Sha256(document.content));
    }
    return absl::StrCat("utpost-", utpost::Sha256Hex(seed).substr(0, 32));
  }

  std::string Body(const OutgoingLetter& letter,
                   const std::string& boundary) const {
    std::string body = absl::StrCat(
        "--", boundary, "\r\n",                                           //
        "Content-Type: ", kDigipostMediaType, "\r\n",                     //
        "Content-Disposition: attachment; filename=\"message\"\r\n\r\n",  //
        DigipostMessageXml(letter, options_.sender_id), "\r\n");
    for (size_t i = 0; i < letter.documents.size(); ++i) {
      const OutgoingDocument& document = letter.documents[i];
      absl::StrAppend(
          &body, "--", boundary, "\r\n",  //
          "Content-Type: ",
          document.media_type.empty() ? "application/octet-stream"
                                      : document.media_type,
          "\r\n",  //
          "Content-Disposition: attachment; filename=\"",
          DigipostDocumentUuid(letter.message_id, static_cast<int>(i)),
          "\"\r\n\r\n");
      body.append(document.content);
      body.append("\r\n");
    }
    absl::StrAppend(&body, "--", boundary, "--\r\n");
    return body;
  }

  static absl::StatusOr<SendResult> Interpret(const HttpResponse& response) {
    if (response.status >= 200 && response.status < 300) {
      SendResult result;
      result.outcome = SendResult::Outcome::kAccepted;
      std::string status = FindElementText(response.body, "status");
      result.delivered = status == "DELIVERED";
      result.provider_reference = status;
      std::string time = FindElementText(response.body, "delivery-time");
      if (!time.empty()) absl::StrAppend(&result.provider_reference, " ", time);
      return result;
    }
    std::string code = FindElementText(response.body, "error-code");
    std::string type = FindElementText(response.body, "error-type");
    if (response.status == 409 && code == "DUPLICATE_MESSAGE") {
      SendResult result;
      result.outcome = SendResult::Outcome::kDuplicate;
      result.provider_reference = code;
      return result;
    }
    // Masked before it is cut: a cut through a number would leave a
    // shorter run of digits, which the mask no longer recognises.
    std::string text =
        MaskPersonNumbersIn(FindElementText(response.body, "error-message"));
    std::string message = MaskPersonNumbersIn(absl::StrCat(
        "digipost answered HTTP ", response.status, type.empty() ? "" : " ",
        type, code.empty() ? "" : " ", code, text.empty() ? "" : ": ",
        absl::string_view(text).substr(0, kMaxQuoted)));
    if (type == "SERVER" || response.status >= 500) {
      return absl::UnavailableError(message);
    }
    if (response.status == 408) return absl::DeadlineExceededError(message);
    if (response.status == 429) return absl::ResourceExhaustedError(message);
    if (response.status == 401 || response.status == 403) {
      return absl::PermissionDeniedError(message);
    }
    // Only the letter's own data is a refusal of the letter. An unknown
    // endpoint (a wrong base URL), CONFIGURATION and CLIENT_TECHNICAL are
    // the gateway's set-up, and would refuse every letter alike. A refusal
    // of the request's content (400, 413, 414, 422, 431) that does not say
    // it is the set-up is about this letter: retried it would fail the
    // same way every time.
    if (response.status != 404 && type == "CLIENT_DATA") {
      return absl::InvalidArgumentError(message);
    }
    if (IsContentRefusal(response.status) && type != "CLIENT_TECHNICAL" &&
        type != "CONFIGURATION") {
      return absl::InvalidArgumentError(message);
    }
    return absl::FailedPreconditionError(message);
  }

  // The feed names documents; the primary document's uuid is the letter's
  // id (DigipostDocumentUuid), so an event about it is about the letter.
  // An event about an attachment names no letter the store knows and is
  // kept as evidence only. The feed gives events no id of their own: the
  // document, the type and the time make one, the same on every reading.
  static ProviderEvent ToProviderEvent(DigipostDocumentEvent event) {
    ProviderEvent e;
    e.event_id = absl::StrCat(event.uuid, "/", event.type, "/", event.created);
    e.message_id = event.uuid;
    e.provider = std::string(kDigipostOrganisation);
    e.time_ms = event.created_ms;
    const std::string& type = event.type;
    if (type == "OPENED") {
      e.kind = ProviderEvent::Kind::kRead;
    } else if (type == "POSTMARKED") {
      e.kind = ProviderEvent::Kind::kPosted;
    } else if (type == "PRINT_FAILED") {
      e.kind = ProviderEvent::Kind::kFailed;
      e.reason = "PRINT_FAILED";
    } else if (type == "SHREDDED") {
      e.kind = ProviderEvent::Kind::kReturned;
      e.reason = "SHREDDED";
    } else if (type == "EMAIL_NOTIFICATION_FAILED" ||
               type == "SMS_NOTIFICATION_FAILED") {
      e.kind = ProviderEvent::Kind::kNotificationFailed;
      e.reason = type;
    } else {
      // Kept as evidence; moves nothing.
      e.kind = ProviderEvent::Kind::kNotificationFailed;
      e.reason = absl::StrCat("unknown event type ",
                              absl::string_view(type).substr(0, kMaxQuoted));
    }
    e.evidence = std::move(event.xml);
    return e;
  }

  std::string FeedName() const {
    return absl::StrCat("digipost:", options_.sender_id);
  }

  DigipostOptions options_;
  const std::unique_ptr<RequestSigner> signer_;
  HttpClient* const http_;
  const Clock* const clock_;

  absl::Mutex endpoints_mu_;
  std::shared_ptr<const Endpoints> endpoints_ ABSL_GUARDED_BY(endpoints_mu_);

  absl::Mutex events_mu_;
  int64_t events_from_ms_ ABSL_GUARDED_BY(events_mu_);
  int64_t events_offset_ ABSL_GUARDED_BY(events_mu_) = 0;
  // The position as last read from or written to `positions`.
  std::string saved_position_ ABSL_GUARDED_BY(events_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Channel>> NewDigipostChannel(
    const DigipostOptions& options, HttpClient* http) {
  if (options.base_url.empty()) {
    return absl::InvalidArgumentError("digipost.url: must be set");
  }
  if (options.sender_id.empty()) {
    return absl::InvalidArgumentError("digipost.sender_id: must be set");
  }
  if (options.signing_key_file.empty()) {
    return absl::InvalidArgumentError("digipost.signing_key_file: must be set");
  }
  if (!options.certificate_ca_file.empty() &&
      !std::ifstream(options.certificate_ca_file)) {
    return absl::InvalidArgumentError(
        absl::StrCat("digipost.certificate_ca_file: cannot read \"",
                     options.certificate_ca_file, "\""));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RequestSigner> signer,
                   RequestSigner::FromKeyFile(
                       options.signing_key_file, options.sender_id,
                       options.clock != nullptr ? options.clock : RealClock()));
  return std::make_unique<DigipostChannel>(options, std::move(signer), http);
}

}  // namespace utpost::adapters
