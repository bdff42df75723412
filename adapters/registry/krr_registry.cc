#include "adapters/registry/krr_registry.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <exception>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/mask.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

constexpr int kRegistryMaxBatch = 1000;
// Enough of an error body to say what went wrong, little enough to log.
constexpr size_t kMaxErrorExcerpt = 300;

absl::Status ErrorFromStatus(int status, const std::string& body) {
  // Masked before it is cut: a cut through a number would leave a shorter
  // run of digits, which the mask no longer recognises.
  std::string message =
      absl::StrCat("registry answered HTTP ", status, ": ",
                   MaskPersonNumbersIn(body).substr(0, kMaxErrorExcerpt));
  if (status >= 500 || status == 429) return absl::UnavailableError(message);
  if (status == 408) return absl::DeadlineExceededError(message);
  if (status == 401 || status == 403) {
    return absl::PermissionDeniedError(message);
  }
  // The registry refuses the numbers asked about.
  if (status == 400) return absl::InvalidArgumentError(message);
  // 404 and the rest: the address or the request's shape is wrong, which
  // is the gateway's set-up.
  return absl::FailedPreconditionError(message);
}

// The mailbox's encryption certificate from the reply's "sertifikat"
// (base64 of DER, or PEM) as DER; "" when absent or not a certificate, so
// that a channel that needs one refuses the letter rather than the whole
// look-up failing.
std::string MailboxCertificateDer(const nlohmann::json& person) {
  auto it = person.find("sertifikat");
  if (it == person.end() || !it->is_string()) return "";
  const std::string value = it->get<std::string>();
  absl::string_view text = absl::StripAsciiWhitespace(value);
  X509* cert = nullptr;
  if (absl::StartsWith(text, "-----BEGIN")) {
    BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
    if (bio != nullptr) {
      cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      BIO_free(bio);
    }
  } else {
    std::string der;
    if (absl::Base64Unescape(text, &der)) {
      const auto* p = reinterpret_cast<const unsigned char*>(der.data());
      cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    }
  }
  std::string out;
  unsigned char* der = nullptr;
  int len = cert == nullptr ? 0 : i2d_X509(cert, &der);
  if (len > 0) out.assign(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  X509_free(cert);
  ERR_clear_error();
  return out;
}

PersonContact::Status ParseStatus(absl::string_view status) {
  if (status == "AKTIV") return PersonContact::Status::kActive;
  if (status == "SLETTET") return PersonContact::Status::kDeleted;
  return PersonContact::Status::kNotRegistered;
}

// Reads the reply's "personer" into `found`, keyed by number.
absl::Status ParseReply(
    absl::string_view body,
    absl::flat_hash_map<std::string, PersonContact>* found) {
  nlohmann::json reply = nlohmann::json::parse(body, nullptr,
                                               /*allow_exceptions=*/false);
  if (reply.is_discarded() || !reply.is_object()) {
    return absl::UnavailableError("registry reply is not a JSON object");
  }
  // The library throws on a value of the wrong type; a malformed reply is
  // the registry's fault and must not escape as an exception.
  try {
    auto persons = reply.find("personer");
    if (persons == reply.end() || !persons->is_array()) {
      return absl::UnavailableError("registry reply has no \"personer\" list");
    }
    for (const nlohmann::json& person : *persons) {
      PersonContact contact;
      contact.person_number =
          person.at("personidentifikator").get<std::string>();
      contact.status = ParseStatus(person.value("status", ""));
      contact.reserved = person.value("reservasjon", "") == "JA";
      if (auto post = person.find("digital_post");
          post != person.end() && post->is_object()) {
        contact.mailbox_address = post->value("postkasseadresse", "");
        contact.mailbox_provider =
            post->value("postkasseleverandoeradresse", "");
      }
      contact.mailbox_certificate = MailboxCertificateDer(person);
      // Where the mailbox provider sends its notices (DPI "varsler").
      if (auto info = person.find("kontaktinformasjon");
          info != person.end() && info->is_object()) {
        contact.email = info->value("epostadresse", "");
        contact.mobile = info->value("mobiltelefonnummer", "");
      }
      std::string key = contact.person_number;
      (*found)[key] = std::move(contact);
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("registry reply is malformed: ", e.what()));
  }
  return absl::OkStatus();
}

class KrrRegistry final : public Registry {
 public:
  KrrRegistry(KrrRegistryOptions options, HttpClient* http)
      : options_(std::move(options)), http_(http) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') {
      options_.base_url.pop_back();
    }
    if (options_.max_batch <= 0 || options_.max_batch > kRegistryMaxBatch) {
      options_.max_batch = kRegistryMaxBatch;
    }
  }

  absl::StatusOr<std::vector<PersonContact>> LookupPersons(
      const std::vector<std::string>& person_numbers) override {
    absl::flat_hash_map<std::string, PersonContact> found;
    for (size_t start = 0; start < person_numbers.size();
         start += options_.max_batch) {
      size_t end = std::min(person_numbers.size(),
                            start + static_cast<size_t>(options_.max_batch));
      RETURN_IF_ERROR(LookupBatch(person_numbers.begin() + start,
                                  person_numbers.begin() + end, &found));
    }
    std::vector<PersonContact> result;
    result.reserve(person_numbers.size());
    for (const std::string& number : person_numbers) {
      auto it = found.find(number);
      if (it != found.end()) {
        result.push_back(it->second);
      } else {
        PersonContact unknown;
        unknown.person_number = number;
        unknown.status = PersonContact::Status::kNotRegistered;
        result.push_back(std::move(unknown));
      }
    }
    return result;
  }

 private:
  absl::Status LookupBatch(
      std::vector<std::string>::const_iterator begin,
      std::vector<std::string>::const_iterator end,
      absl::flat_hash_map<std::string, PersonContact>* found) {
    nlohmann::json body = {{"personidentifikatorer", nlohmann::json::array()}};
    for (auto it = begin; it != end; ++it) {
      body["personidentifikatorer"].push_back(*it);
    }
    HttpRequest request;
    request.method = "POST";
    request.url = absl::StrCat(options_.base_url, "/rest/v1/personer");
    request.headers = {{"Content-Type", "application/json"},
                       {"Accept", "application/json"}};
    // Replace, not throw, should a number not be valid UTF-8: the registry
    // then answers it as unknown.
    request.body =
        body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (options_.tokens == nullptr) {
      if (!options_.bearer_token.empty()) {
        request.headers.emplace_back(
            "Authorization", absl::StrCat("Bearer ", options_.bearer_token));
      }
      ASSIGN_OR_RETURN(HttpResponse response, http_->Do(request));
      if (response.status != 200) {
        return ErrorFromStatus(response.status, response.body);
      }
      return ParseReply(response.body, found);
    }
    HttpResponse response;
    // A token the registry no longer accepts (expired early, revoked) is
    // replaced once; a second 401 is the set-up's problem.
    for (int attempt = 0; attempt < 2; ++attempt) {
      ASSIGN_OR_RETURN(std::string token,
                       options_.tokens->Token(options_.scope));
      SetHeader(&request.headers, "Authorization",
                absl::StrCat("Bearer ", token));
      ASSIGN_OR_RETURN(response, http_->Do(request));
      if (response.status != 401) break;
      options_.tokens->Invalidate(options_.scope, token);
    }
    if (response.status != 200) {
      return ErrorFromStatus(response.status, response.body);
    }
    return ParseReply(response.body, found);
  }

  KrrRegistryOptions options_;
  HttpClient* const http_;
};

}  // namespace

std::unique_ptr<Registry> NewKrrRegistry(KrrRegistryOptions options,
                                         HttpClient* http) {
  return std::make_unique<KrrRegistry>(std::move(options), http);
}

}  // namespace utpost::adapters
