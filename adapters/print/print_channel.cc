#include "adapters/print/print_channel.h"

#include <exception>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/http/digest.h"
#include "common/digest.h"
#include "common/mask.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

constexpr size_t kMaxQuoted = 300;

nlohmann::json AddressJson(const PostalAddress& address) {
  return {{"name", address.name},
          {"address_lines", address.lines},
          {"postal_code", address.postal_code},
          {"city", address.city},
          {"country_code",
           address.country_code.empty() ? "NO" : address.country_code}};
}

// Quotes of file names and addresses go into header parameters: a quote or
// line break there would end the header early.
std::string HeaderSafe(absl::string_view text) {
  std::string out;
  for (char c : text) {
    out.push_back(c == '"' || c == '\r' || c == '\n' ? '_' : c);
  }
  return out;
}

class PrintChannel final : public Channel {
 public:
  PrintChannel(PrintOptions options, HttpClient* http)
      : options_(std::move(options)), http_(http) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') {
      options_.base_url.pop_back();
    }
  }

  std::string name() const override { return "print"; }

  absl::StatusOr<SendResult> Send(const OutgoingLetter& letter) override {
    if (letter.message_id.empty()) {
      return absl::InvalidArgumentError("letter has no message id");
    }
    if (letter.documents.empty()) {
      return absl::InvalidArgumentError("letter has no documents");
    }
    if (letter.recipient_address.name.empty()) {
      return absl::InvalidArgumentError("letter has no recipient address");
    }
    // The library throws on text that is not UTF-8; addresses come from
    // outside, so bad bytes are replaced instead.
    std::string manifest_text = Manifest(letter).dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);

    std::string boundary = absl::StrCat(
        "utpost-",
        utpost::Sha256Hex(absl::StrCat(letter.message_id, "\n", manifest_text))
            .substr(0, 32));
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
                    "Content-Type: application/json\r\n\r\n", manifest_text,
                    "\r\n");
    for (const OutgoingDocument& document : letter.documents) {
      absl::StrAppend(&body, "--", boundary, "\r\n",
                      "Content-Disposition: form-data; name=\"document\"; "
                      "filename=\"",
                      HeaderSafe(document.file_name), "\"\r\n",
                      "Content-Type: application/pdf\r\n\r\n");
      body.append(document.content);
      body.append("\r\n");
    }
    absl::StrAppend(&body, "--", boundary, "--\r\n");

    absl::StatusOr<HttpResponse> response = http_->Do(request);
    if (!response.ok()) {
      // The client's INVALID_ARGUMENT is about the URL, from configuration:
      // not a refusal of the letter.
      if (absl::IsInvalidArgument(response.status())) {
        return absl::FailedPreconditionError(response.status().message());
      }
      return response.status();
    }
    return Interpret(*response);
  }

 private:
  static nlohmann::json Manifest(const OutgoingLetter& letter) {
    nlohmann::json documents = nlohmann::json::array();
    for (const OutgoingDocument& document : letter.documents) {
      documents.push_back({{"file_name", HeaderSafe(document.file_name)},
                           {"sha256", document.sha256_hex.empty()
                                          ? utpost::Sha256Hex(document.content)
                                          : document.sha256_hex}});
    }
    return {
        {"job_id", letter.message_id},
        {"sender", {{"organisation_number", letter.tenant}}},
        {"recipient", AddressJson(letter.recipient_address)},
        {"return_address", AddressJson(letter.return_address)},
        {"colour", letter.color ? "COLORS" : "MONOCHROME"},
        {"duplex", letter.duplex},
        {"post_type", letter.a_post ? "A" : "B"},
        {"return_handling",
         letter.shred_if_undeliverable ? "SHRED" : "RETURN_TO_SENDER"},
        {"documents", std::move(documents)},
    };
  }

  static absl::StatusOr<SendResult> Interpret(const HttpResponse& response) {
    nlohmann::json reply = nlohmann::json::parse(response.body, nullptr,
                                                 /*allow_exceptions=*/false);
    std::string provider_status;
    std::string error_code;
    std::string error_message;
    // Wrong types in the reply are the provider's fault and only cost
    // detail in the result; they must not escape as exceptions.
    try {
      if (reply.is_object()) {
        provider_status = reply.value("status", "");
        if (auto error = reply.find("error");
            error != reply.end() && error->is_object()) {
          error_code = error->value("code", "");
          error_message = error->value("message", "");
        }
      }
    } catch (const std::exception&) {
    }
    if (response.status >= 200 && response.status < 300) {
      SendResult result;
      result.outcome = SendResult::Outcome::kAccepted;
      result.provider_reference = provider_status;
      return result;
    }
    // Any other conflict says nothing of whether the provider has the job.
    if (response.status == 409 && error_code == "DUPLICATE_JOB") {
      SendResult result;
      result.outcome = SendResult::Outcome::kDuplicate;
      result.provider_reference = error_code;
      return result;
    }
    // Masked before it is cut: a cut through a number would leave a
    // shorter run of digits, which the mask no longer recognises.
    std::string quoted =
        MaskPersonNumbersIn(error_message).substr(0, kMaxQuoted);
    std::string message = MaskPersonNumbersIn(
        absl::StrCat("print provider answered HTTP ", response.status,
                     error_code.empty() ? "" : " ", error_code,
                     quoted.empty() ? "" : ": ", quoted));
    if (response.status >= 500) return absl::UnavailableError(message);
    if (response.status == 408) return absl::DeadlineExceededError(message);
    if (response.status == 429) return absl::ResourceExhaustedError(message);
    if (response.status == 401 || response.status == 403) {
      return absl::PermissionDeniedError(message);
    }
    // 400 is the provider's refusal of this job: its manifest, documents
    // or recipient. Anything else (404 for a wrong base URL, 415, a
    // conflict other than a duplicate) is the gateway's set-up or needs an
    // operator.
    if (response.status == 400) return absl::InvalidArgumentError(message);
    return absl::FailedPreconditionError(message);
  }

  PrintOptions options_;
  HttpClient* const http_;
};

}  // namespace

std::unique_ptr<Channel> NewPrintChannel(PrintOptions options,
                                         HttpClient* http) {
  return std::make_unique<PrintChannel>(std::move(options), http);
}

}  // namespace utpost::adapters
