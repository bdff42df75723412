#include "gateway/api/letter_validator.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/mask.h"
#include "common/status_macros.h"
#include "common/text.h"
#include "gateway/api/countries.h"
#include "gateway/api/identifiers.h"
#include "gateway/inspect/printability.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {
namespace {

using ::utpost::v1::DeliveryPolicy;
using ::utpost::v1::Document;
using ::utpost::v1::PostalAddress;
using ::utpost::v1::PrintOptions;
using ::utpost::v1::Recipient;
using ::utpost::v1::SubmitLetterRequest;

// Text that comes from the client (file names, what the PDF parser quotes)
// may hold a person number; it is masked before it enters a message.
std::string Mask(absl::string_view text) {
  return MaskPersonNumbersIn(std::string_view(text.data(), text.size()));
}

std::string Quote(absl::string_view text) {
  return absl::StrCat("\"", Mask(text), "\"");
}

std::string_view View(absl::string_view text) {
  return std::string_view(text.data(), text.size());
}

bool IsBlank(absl::string_view text) {
  return absl::StripAsciiWhitespace(text).empty();
}

// One line of text a person reads: at most `max_chars` characters, valid
// UTF-8 (the request parser has checked; checked again for callers that
// built the message themselves), no control or bidirectional characters.
// The length comes first: a huge field costs one counting pass and is
// refused before anything else looks at it.
absl::Status CheckLine(absl::string_view field, absl::string_view text,
                       size_t max_chars) {
  if (size_t n = CountCodePoints(View(text)); n > max_chars) {
    return InvalidField(
        field, absl::StrCat("at most ", max_chars, " characters, got ", n));
  }
  if (!IsValidUtf8(View(text))) return InvalidField(field, "not valid UTF-8");
  if (auto bad = FindForbiddenCharacter(View(text))) {
    return InvalidField(field, absl::StrCat("character ", bad->position, " is ",
                                            bad->description, ", not allowed"));
  }
  return absl::OkStatus();
}

absl::Status CheckText(absl::string_view field, absl::string_view text,
                       size_t max_chars) {
  if (IsBlank(text)) return InvalidField(field, "required");
  return CheckLine(field, text, max_chars);
}

bool IsDigits(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// A foreign postal code: letters, digits, spaces and hyphens (UK "SW1A 1AA",
// Sweden "114 55", Netherlands "1012 AB", Portugal "1000-001").
bool IsPostalCodeText(absl::string_view code) {
  for (char c : code) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != ' ' &&
        c != '-') {
      return false;
    }
  }
  return !IsBlank(code);
}

absl::Status CheckPostalAddress(const PostalAddress& address) {
  constexpr absl::string_view kField = "recipient.postal_address";
  RETURN_IF_ERROR(CheckText(absl::StrCat(kField, ".name"), address.name(),
                            kMaxPostalNameChars));
  const std::string lines_field = absl::StrCat(kField, ".address_lines");
  if (address.address_lines_size() > kMaxAddressLines) {
    return InvalidField(
        lines_field, absl::StrCat("at most ", kMaxAddressLines, " lines, got ",
                                  address.address_lines_size()));
  }
  bool any_line = false;
  for (int i = 0; i < address.address_lines_size(); ++i) {
    const std::string& line = address.address_lines(i);
    RETURN_IF_ERROR(CheckLine(absl::StrCat(lines_field, "[", i, "]"), line,
                              kMaxAddressLineChars));
    any_line = any_line || !IsBlank(line);
  }
  if (!any_line)
    return InvalidField(lines_field, "at least one line is required");
  RETURN_IF_ERROR(
      CheckText(absl::StrCat(kField, ".city"), address.city(), kMaxCityChars));

  const std::string& country = address.country_code();
  if (!country.empty() && !IsIsoCountryCode(country)) {
    return InvalidField(absl::StrCat(kField, ".country_code"),
                        "must be an ISO 3166-1 alpha-2 code such as NO or SE");
  }
  const std::string code_field = absl::StrCat(kField, ".postal_code");
  const std::string& code = address.postal_code();
  if (country.empty() || country == "NO") {
    if (code.size() != 4 || !IsDigits(code)) {
      return InvalidField(code_field,
                          "must be 4 digits for a Norwegian address");
    }
    return absl::OkStatus();
  }
  // Foreign codes vary too much to check further here; the print provider
  // has the country's rules. Some countries have none.
  if (!code.empty() &&
      (code.size() > kMaxPostalCodeChars || !IsPostalCodeText(code))) {
    return InvalidField(code_field,
                        absl::StrCat("at most ", kMaxPostalCodeChars,
                                     " letters, digits, spaces or hyphens"));
  }
  return absl::OkStatus();
}

absl::Status CheckRecipient(const SubmitLetterRequest& request) {
  const Recipient& recipient = request.recipient();
  switch (recipient.id_case()) {
    case Recipient::kPerson:
      if (absl::Status s = ValidatePersonNumber(recipient.person()); !s.ok()) {
        return InvalidField("recipient.person", s.message());
      }
      break;
    case Recipient::kOrganisation:
      if (absl::Status s = ValidateOrganisationNumber(recipient.organisation());
          !s.ok()) {
        return InvalidField("recipient.organisation", s.message());
      }
      break;
    case Recipient::ID_NOT_SET:
      return InvalidField("recipient", "required (person or organisation)");
  }
  if (recipient.has_postal_address()) {
    RETURN_IF_ERROR(CheckPostalAddress(recipient.postal_address()));
  }
  return absl::OkStatus();
}

constexpr int64_t kMaxPrintIfUnreadSeconds = int64_t{365} * 24 * 3600;
constexpr int64_t kMaxNotBeforeAheadSeconds = int64_t{366} * 24 * 3600;

absl::Status CheckDeliveryPolicy(const DeliveryPolicy& policy) {
  // Proto3 enums are open: a newer client may send a value this gateway does
  // not know, and guessing what it meant could send a letter the wrong way.
  if (!DeliveryPolicy::Mode_IsValid(policy.mode())) {
    return InvalidField("delivery_policy.mode",
                        absl::StrCat("unknown value ", policy.mode()));
  }
  if (policy.has_print_if_unread_after()) {
    const auto& after = policy.print_if_unread_after();
    if (after.nanos() < -999999999 || after.nanos() > 999999999) {
      return InvalidField("delivery_policy.print_if_unread_after",
                          "nanos must be within -999999999 and 999999999");
    }
    if (after.seconds() < 0 || after.nanos() < 0) {
      return InvalidField("delivery_policy.print_if_unread_after",
                          "must not be negative");
    }
    if (after.seconds() > kMaxPrintIfUnreadSeconds) {
      return InvalidField("delivery_policy.print_if_unread_after",
                          "must be at most 365 days");
    }
    const bool set = after.seconds() > 0 || after.nanos() > 0;
    const auto mode = policy.mode() == DeliveryPolicy::MODE_UNSPECIFIED
                          ? DeliveryPolicy::DIGITAL_THEN_PRINT
                          : policy.mode();
    // Refused rather than ignored: a deadline that cannot lead to print
    // would only look kept.
    if (set && mode != DeliveryPolicy::DIGITAL_THEN_PRINT) {
      return InvalidField("delivery_policy.print_if_unread_after",
                          absl::StrCat("only with DIGITAL_THEN_PRINT, not ",
                                       DeliveryPolicy::Mode_Name(mode)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNotBefore(const SubmitLetterRequest& request,
                            const ValidationLimits& limits) {
  if (!request.has_not_before()) return absl::OkStatus();
  const auto& t = request.not_before();
  if (t.seconds() < 0 || t.nanos() < 0 || t.nanos() > 999999999) {
    return InvalidField("not_before", "not a valid time");
  }
  const Clock* clock = limits.clock != nullptr ? limits.clock : RealClock();
  const int64_t now_s = clock->NowMillis() / 1000;
  if (t.seconds() > now_s + kMaxNotBeforeAheadSeconds) {
    return InvalidField("not_before", "must be at most 366 days ahead");
  }
  return absl::OkStatus();
}

absl::Status CheckPrintOptions(const PrintOptions& options) {
  if (!PrintOptions::Color_IsValid(options.color())) {
    return InvalidField("print_options.color",
                        absl::StrCat("unknown value ", options.color()));
  }
  if (!PrintOptions::PostType_IsValid(options.post_type())) {
    return InvalidField("print_options.post_type",
                        absl::StrCat("unknown value ", options.post_type()));
  }
  if (!PrintOptions::ReturnHandling_IsValid(options.return_handling())) {
    return InvalidField(
        "print_options.return_handling",
        absl::StrCat("unknown value ", options.return_handling()));
  }
  return absl::OkStatus();
}

// A file name travels to providers and into archives; it must name a file,
// not a path. Control and bidirectional characters are refused by
// CheckLine.
bool IsPlainFileName(absl::string_view name) {
  for (char c : name) {
    if (c == '/' || c == '\\') return false;
  }
  return name != "." && name != "..";
}

// Everything about the documents that needs no parsing: count, names, media
// types and sizes (of the documents sent along; an upload's once it is
// found).
absl::Status CheckDocumentMetadata(const SubmitLetterRequest& request,
                                   const ValidationLimits& limits) {
  const int count = request.documents_size();
  if (count == 0) {
    return InvalidField("documents", "at least one document is required");
  }
  if (count > limits.max_documents) {
    return InvalidField("documents",
                        absl::StrCat("at most ", limits.max_documents,
                                     " documents, got ", count));
  }
  absl::flat_hash_map<absl::string_view, int> first_use;
  int64_t total_bytes = 0;
  for (int i = 0; i < count; ++i) {
    const Document& doc = request.documents(i);
    const std::string field = absl::StrCat("documents[", i, "]");
    const std::string name_field = absl::StrCat(field, ".file_name");
    if (IsBlank(doc.file_name())) return InvalidField(name_field, "required");
    // File systems and providers count bytes, so this limit does too.
    if (doc.file_name().size() > kMaxFileNameBytes) {
      return InvalidField(
          name_field,
          absl::StrCat("at most ", kMaxFileNameBytes, " bytes (UTF-8), got ",
                       doc.file_name().size()));
    }
    RETURN_IF_ERROR(CheckLine(name_field, doc.file_name(), kMaxFileNameBytes));
    if (!IsPlainFileName(doc.file_name())) {
      return InvalidField(
          name_field, absl::StrCat(Quote(doc.file_name()),
                                   " must be a plain file name without path "
                                   "separators"));
    }
    auto [it, inserted] = first_use.emplace(doc.file_name(), i);
    if (!inserted) {
      return InvalidField(name_field, absl::StrCat(Quote(doc.file_name()),
                                                   " is used by documents[",
                                                   it->second, "] too"));
    }
    // Empty means the only type there is today.
    if (!doc.media_type().empty() &&
        !absl::EqualsIgnoreCase(doc.media_type(), kPdfMediaType)) {
      return InvalidField(absl::StrCat(field, ".media_type"),
                          absl::StrCat("must be ", kPdfMediaType));
    }
    const std::string content_field = absl::StrCat(field, ".content");
    if (!doc.upload_sha256().empty()) {
      // Its size is checked once the upload is found (ResolveUploads).
      if (!doc.content().empty()) {
        return InvalidField(field,
                            "content and upload_sha256 are both set; "
                            "set one");
      }
      if (!IsSha256Hex(doc.upload_sha256())) {
        return InvalidField(absl::StrCat(field, ".upload_sha256"),
                            "expected 64 lowercase hex digits (a SHA-256)");
      }
      continue;
    }
    const int64_t size = static_cast<int64_t>(doc.content().size());
    if (size == 0) return InvalidField(content_field, "empty document");
    if (size > limits.max_document_bytes) {
      return InvalidField(content_field,
                          absl::StrCat(size, " bytes, the limit is ",
                                       limits.max_document_bytes));
    }
    total_bytes += size;
  }
  if (total_bytes > limits.max_letter_bytes) {
    return InvalidField(
        "documents", absl::StrCat(total_bytes, " bytes in all, the limit is ",
                                  limits.max_letter_bytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status InvalidField(absl::string_view field, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", reason));
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status ValidateSubmitLetter(const SubmitLetterRequest& request,
                                  const ValidationLimits& limits) {
  RETURN_IF_ERROR(CheckText("client_reference", request.client_reference(),
                            limits.max_client_reference_chars));
  RETURN_IF_ERROR(CheckRecipient(request));
  RETURN_IF_ERROR(CheckText("title", request.title(), limits.max_title_chars));
  RETURN_IF_ERROR(CheckDeliveryPolicy(request.delivery_policy()));
  RETURN_IF_ERROR(CheckNotBefore(request, limits));
  const auto& unread = request.delivery_policy().print_if_unread_after();
  if ((unread.seconds() > 0 || unread.nanos() > 0) &&
      request.recipient().has_person() &&
      !request.recipient().has_postal_address()) {
    return InvalidField(
        "recipient.postal_address",
        "required when delivery_policy.print_if_unread_after is "
        "set");
  }
  // Known now, so refused now rather than failing after it was accepted.
  if (request.delivery_policy().mode() == DeliveryPolicy::PRINT_ONLY &&
      !request.recipient().has_postal_address()) {
    return InvalidField("recipient.postal_address",
                        "required when delivery_policy.mode is PRINT_ONLY");
  }
  RETURN_IF_ERROR(CheckPrintOptions(request.print_options()));
  RETURN_IF_ERROR(CheckDocumentMetadata(request, limits));
  return absl::OkStatus();
}

inspect::InspectionRequest InspectionFor(const SubmitLetterRequest& request,
                                         const ValidationLimits& limits) {
  inspect::InspectionRequest inspection;
  for (const Document& doc : request.documents()) {
    inspection.documents.push_back({doc.file_name(), doc.content()});
  }
  // A DIGITAL_ONLY letter never reaches paper; any other may.
  inspection.may_print =
      request.delivery_policy().mode() != DeliveryPolicy::DIGITAL_ONLY;
  inspection.print.max_sheets = limits.max_print_sheets;
  inspection.print.duplex = request.print_options().duplex();
  inspection.print.cover_page = limits.print_cover_page;
  return inspection;
}

int PrintSheetsOf(const SubmitLetterRequest& request,
                  const std::vector<int>& page_counts,
                  const ValidationLimits& limits) {
  // The counts come from the sandbox; one that no document within the size
  // limits can have must not overflow the sum.
  constexpr int kMostPages = 1 << 20;
  std::vector<int> pages;
  pages.reserve(page_counts.size());
  for (int n : page_counts) pages.push_back(std::clamp(n, 0, kMostPages));
  return inspect::SheetsFor(pages, request.print_options().duplex(),
                            limits.print_cover_page);
}

}  // namespace utpost::api
