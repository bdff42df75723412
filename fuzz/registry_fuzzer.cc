// The registry adapters' parsing of what the registries answer: the contact
// registry's (KRR) person look-up and the business registry's organisation
// answer with Altinn's register answer. The input is a script of responses
// (scripted_http.h): the first answers the KRR look-up, the next ones the
// business registry and Altinn's register.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adapters/http/token_source.h"
#include "adapters/registry/business_registry.h"
#include "adapters/registry/krr_registry.h"
#include "fuzz/scripted_http.h"

namespace utpost::fuzz {
namespace {

int Run(const uint8_t* data, size_t size) {
  static adapters::StaticTokenSource* const tokens =
      new adapters::StaticTokenSource("registry-token");
  auto http = ScriptedClient(ParseScript(data, size));
  adapters::KrrRegistryOptions krr;
  krr.base_url = "https://krr.fuzz";
  krr.tokens = tokens;
  auto persons = adapters::NewKrrRegistry(krr, http.get());
  auto found =
      persons->LookupPersons({"30925910089", "04847910181", "30925910089"});
  Note("persons", found.status(), found.ok() ? found->size() : 0);
  adapters::BusinessRegistryOptions business;
  business.base_url = "https://brreg.fuzz";
  business.altinn_url = "https://altinn.fuzz";
  business.altinn_tokens = tokens;
  auto organisations = adapters::NewBusinessRegistry(business, http.get());
  auto organisation = organisations->LookupOrganisation("910000004");
  Note("organisation", organisation.status(),
       organisation.ok() && organisation->has_inbox ? 1 : 0);
  return 0;
}

}  // namespace
}  // namespace utpost::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return utpost::fuzz::Run(data, size);
}
