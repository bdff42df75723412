#include "adapters/registry/business_registry.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

using nlohmann::json;

// Altinn.Common.AccessToken's AccessTokenSettings.AccessTokenHeaderId.
constexpr char kPlatformAccessTokenHeader[] = "PlatformAccessToken";

absl::Status ErrorFromStatus(absl::string_view who, int status,
                             const std::string& body) {
  std::string message =
      absl::StrCat(who, " answered HTTP ", status, ": ", body.substr(0, 300));
  if (status >= 500 || status == 429) return absl::UnavailableError(message);
  if (status == 401 || status == 403) {
    return absl::PermissionDeniedError(message);
  }
  return absl::FailedPreconditionError(message);
}

std::string Text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

PostalAddress AddressOf(const json& a, const std::string& name) {
  PostalAddress out;
  out.name = name;
  if (auto lines = a.find("adresse"); lines != a.end() && lines->is_array()) {
    for (const json& line : *lines) {
      if (line.is_string() && !line.get<std::string>().empty()) {
        out.lines.push_back(line.get<std::string>());
      }
    }
  }
  out.postal_code = Text(a, "postnummer");
  out.city = Text(a, "poststed");
  out.country_code = Text(a, "landkode");
  if (out.country_code == "NO") out.country_code.clear();
  return out;
}

class BusinessRegistry final : public OrganisationRegistry {
 public:
  BusinessRegistry(BusinessRegistryOptions options, HttpClient* http,
                   std::shared_ptr<TokenSource> tokens_owner)
      : options_(std::move(options)),
        http_(http),
        tokens_owner_(std::move(tokens_owner)) {
    for (std::string* url : {&options_.base_url, &options_.altinn_url}) {
      while (!url->empty() && url->back() == '/') url->pop_back();
    }
  }

  absl::StatusOr<OrganisationContact> LookupOrganisation(
      const std::string& number) override {
    bool digits = number.size() == 9;
    for (char c : number) {
      digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
    }
    if (!digits) {
      return absl::InvalidArgumentError(
          "organisation_number: must be 9 digits");
    }
    OrganisationContact contact;
    contact.organisation_number = number;
    HttpRequest request;
    request.url = absl::StrCat(options_.base_url,
                               "/enhetsregisteret/api/enheter/", number);
    request.headers = {{"Accept", "application/json"}};
    ASSIGN_OR_RETURN(HttpResponse response, http_->Do(request));
    if (response.status == 404) return contact;  // kNotRegistered.
    if (response.status != 200 && response.status != 410) {
      return ErrorFromStatus("business registry", response.status,
                             response.body);
    }
    json e = json::parse(response.body, nullptr, false);
    if (!e.is_object()) {
      if (response.status == 410) {
        contact.status = OrganisationContact::Status::kDeleted;
        return contact;
      }
      return absl::UnavailableError("business registry reply is not JSON");
    }
    contact.name = Text(e, "navn");
    if (response.status == 410 || !Text(e, "slettedato").empty()) {
      contact.status = OrganisationContact::Status::kDeleted;
      return contact;
    }
    contact.status = OrganisationContact::Status::kActive;
    for (const char* key : {"postadresse", "forretningsadresse"}) {
      auto a = e.find(key);
      if (a != e.end() && a->is_object()) {
        contact.postal_address = AddressOf(*a, contact.name);
        break;
      }
    }
    if (!options_.altinn_url.empty()) {
      contact.has_inbox = true;  // Every active unit is an Altinn party.
      if (!options_.platform_access_token_file.empty()) {
        ASSIGN_OR_RETURN(contact.has_inbox, IsAltinnParty(number));
      }
    }
    return contact;
  }

 private:
  absl::StatusOr<std::string> PlatformAccessToken() const {
    std::ifstream in(options_.platform_access_token_file, std::ios::binary);
    std::stringstream text;
    if (in) text << in.rdbuf();
    std::string token(absl::StripAsciiWhitespace(text.str()));
    if (token.empty() || token.size() > 16384 ||
        token.find_first_of(" \t\r\n") != std::string::npos) {
      return absl::FailedPreconditionError(absl::StrCat(
          "platform_access_token_file ", options_.platform_access_token_file,
          ": no readable token"));
    }
    return token;
  }

  // Altinn's register: 200 a party, 404 none.
  absl::StatusOr<bool> IsAltinnParty(const std::string& number) {
    ASSIGN_OR_RETURN(std::string token, PlatformAccessToken());
    HttpRequest request;
    request.url = absl::StrCat(options_.altinn_url,
                               "/register/api/v1/organizations/", number);
    request.headers = {{"Accept", "application/json"},
                       {kPlatformAccessTokenHeader, std::move(token)}};
    ASSIGN_OR_RETURN(HttpResponse response, http_->Do(request));
    if (response.status == 200) return true;
    if (response.status == 404) return false;
    return ErrorFromStatus("Altinn register", response.status, response.body);
  }

  BusinessRegistryOptions options_;
  HttpClient* const http_;
  const std::shared_ptr<TokenSource> tokens_owner_;
};

}  // namespace

std::unique_ptr<OrganisationRegistry> NewBusinessRegistry(
    BusinessRegistryOptions options, HttpClient* http,
    std::shared_ptr<TokenSource> tokens_owner) {
  return std::make_unique<BusinessRegistry>(std::move(options), http,
                                            std::move(tokens_owner));
}

}  // namespace utpost::adapters
