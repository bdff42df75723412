#include "adapters/digipost/digipost_channel.h"

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
#include "adapters/http/digest.h"
#include "adapters/http/request_signer.h"
#include "common/digest.h"
#include "common/mask.h"
#include "common/status_macros.h"
#include "common/uuid.h"

namespace utpost::adapters {
namespace {

constexpr absl::string_view kMessageMediaType =
    "application/vnd.digipost-v8+xml";
constexpr absl::string_view kMultipartMediaType =
    "multipart/vnd.digipost-v8+xml";
constexpr absl::string_view kNamespace = "http://api.digipost.no/schema/v8";
constexpr size_t kMaxQuoted = 300;

// Escapes text for an XML element or attribute. Characters XML 1.0 cannot
// carry at all (control characters other than tab, LF, CR) are dropped.
std::string XmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' &&
            c != '\r') {
          break;
        }
        out.push_back(c);
    }
  }
  return out;
}

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

std::string FileType(const OutgoingDocument& document) {
  if (document.media_type.empty() ||
      absl::EqualsIgnoreCase(document.media_type, "application/pdf")) {
    return "pdf";
  }
  size_t dot = document.file_name.rfind('.');
  if (dot == std::string::npos || dot + 1 == document.file_name.size()) {
    return "pdf";
  }
  return absl::AsciiStrToLower(document.file_name.substr(dot + 1));
}

std::string DocumentXml(absl::string_view element, const std::string& uuid,
                        absl::string_view subject,
                        const OutgoingDocument& document) {
  return absl::StrCat("  <", element, ">\n",                                //
                      "    <uuid>", uuid, "</uuid>\n",                      //
                      "    <subject>", XmlEscape(subject), "</subject>\n",  //
                      "    <file-type>", XmlEscape(FileType(document)),
                      "</file-type>\n",
                      "    <authentication-level>PASSWORD"
                      "</authentication-level>\n",
                      "    <sensitivity-level>NORMAL</sensitivity-level>\n",
                      "  </", element, ">\n");
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
    HttpRequest request;
    request.method = "GET";
    request.url = absl::StrCat(
        options_.base_url, "/documents/events?from=", FormatRfc3339(from_ms),
        "&to=", FormatRfc3339(clock_->NowMillis() + 60 * 1000),
        "&offset=", offset, "&maxResults=", max);
    request.headers = {{"Accept", std::string(kMessageMediaType)}};
    RETURN_IF_ERROR(AsSetUpError(signer_->Sign(&request)));
    absl::StatusOr<HttpResponse> response = http_->Do(request);
    if (!response.ok()) return AsSetUpError(response.status());
    if (response->status != 200) {
      absl::StatusOr<SendResult> error = Interpret(*response);
      // A refusal of the query is this gateway's doing, not a letter's.
      if (error.ok() || absl::IsInvalidArgument(error.status())) {
        return absl::FailedPreconditionError(
            absl::StrCat("digipost events: HTTP ", response->status, " ",
                         error.ok() ? "" : error.status().message()));
      }
      return error.status();
    }
    return ParseEvents(response->body);
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
    HttpRequest request;
    request.method = "POST";
    request.url = absl::StrCat(options_.base_url, "/messages");
    std::string boundary = Boundary(letter);
    request.headers = {{"Content-Type", absl::StrCat(kMultipartMediaType,
                                                     "; boundary=", boundary)},
                       {"Accept", std::string(kMessageMediaType)}};
    request.body = Body(letter, boundary);
    RETURN_IF_ERROR(AsSetUpError(signer_->Sign(&request)));
    absl::StatusOr<HttpResponse> response = http_->Do(request);
    if (!response.ok()) return AsSetUpError(response.status());
    return Interpret(*response);
  }

 private:
  std::string MessageXml(const OutgoingLetter& letter) const {
    std::string recipient =
        letter.person_number.empty()
            ? absl::StrCat("    <organisation-number>",
                           XmlEscape(letter.organisation_number),
                           "</organisation-number>\n")
            : absl::StrCat("    <personal-identification-number>",
                           XmlEscape(letter.person_number),
                           "</personal-identification-number>\n");
    std::string xml = absl::StrCat(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
        "<message xmlns=\"", kNamespace, "\">\n",                           //
        "  <message-id>", XmlEscape(letter.message_id), "</message-id>\n",  //
        "  <sender-id>", XmlEscape(options_.sender_id), "</sender-id>\n",   //
        "  <recipient>\n", recipient, "  </recipient>\n");
    for (size_t i = 0; i < letter.documents.size(); ++i) {
      const OutgoingDocument& document = letter.documents[i];
      // The primary document carries the letter's title; attachments their
      // own file names, which is what the recipient sees listed.
      absl::string_view subject =
          i == 0 && !letter.title.empty() ? letter.title : document.file_name;
      absl::StrAppend(&xml,
                      DocumentXml(i == 0 ? "primary-document" : "attachment",
                                  DigipostDocumentUuid(letter.message_id,
                                                       static_cast<int>(i)),
                                  subject, document));
    }
    absl::StrAppend(&xml, "</message>\n");
    return xml;
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
        "Content-Type: ", kMessageMediaType, "\r\n",                      //
        "Content-Disposition: attachment; filename=\"message\"\r\n\r\n",  //
        MessageXml(letter), "\r\n");
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

  static std::vector<ProviderEvent> ParseEvents(absl::string_view xml) {
    std::vector<ProviderEvent> out;
    size_t pos = 0;
    while (true) {
      size_t start = xml.find("<event>", pos);
      if (start == absl::string_view::npos) break;
      size_t end = xml.find("</event>", start);
      if (end == absl::string_view::npos) break;
      end += sizeof("</event>") - 1;
      absl::string_view chunk = xml.substr(start, end - start);
      pos = end;
      ProviderEvent e;
      e.event_id = FindElementText(chunk, "uuid");
      // The primary document's uuid is the message id (see
      // DigipostDocumentUuid).
      e.message_id = FindElementText(chunk, "document-uuid");
      e.provider = "digipost";
      const std::string type = FindElementText(chunk, "type");
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
        e.reason = absl::StrCat("unknown event type ", type);
      }
      absl::Time created;
      std::string error;
      if (absl::ParseTime(absl::RFC3339_full, FindElementText(chunk, "created"),
                          &created, &error)) {
        e.time_ms = absl::ToUnixMillis(created);
      }
      e.evidence = std::string(chunk);
      if (e.event_id.empty() || e.message_id.empty()) continue;
      out.push_back(std::move(e));
    }
    return out;
  }

  DigipostOptions options_;
  const std::unique_ptr<RequestSigner> signer_;
  HttpClient* const http_;
  const Clock* const clock_;
  std::string FeedName() const {
    return absl::StrCat("digipost:", options_.sender_id);
  }

  absl::Mutex events_mu_;
  int64_t events_from_ms_ ABSL_GUARDED_BY(events_mu_);
  int64_t events_offset_ ABSL_GUARDED_BY(events_mu_) = 0;
  // The position as last read from or written to `positions`.
  std::string saved_position_ ABSL_GUARDED_BY(events_mu_);
};

}  // namespace

std::string DigipostDocumentUuid(const std::string& message_id, int index) {
  if (index == 0 && IsLowercaseUuid(message_id)) return message_id;
  return NameBasedUuid(
      absl::StrCat("digipost-document\n", message_id, "\n", index));
}

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
  ASSIGN_OR_RETURN(std::unique_ptr<RequestSigner> signer,
                   RequestSigner::FromKeyFile(
                       options.signing_key_file, options.sender_id,
                       options.clock != nullptr ? options.clock : RealClock()));
  return std::make_unique<DigipostChannel>(options, std::move(signer), http);
}

}  // namespace utpost::adapters
