// The simulated Digipost's check of the `message` it receives against the
// published schema: tests/published/digipost/api_v8.xsd (the part of
// digipost/digipost-api-client-java src/main/resources/xsd/api_v8.xsd that
// Utpost's documents touch), compiled into the simulator at build time.
#ifndef UTPOST_SIM_DIGIPOST_SCHEMA_H_
#define UTPOST_SIM_DIGIPOST_SCHEMA_H_

#include <string_view>

#include "absl/status/status.h"

namespace utpost::sim {

// OK when `xml` is valid against the schema (any of its global elements:
// message, message-delivery, entrypoint, document-events, error);
// otherwise INVALID_ARGUMENT quoting the first violation with its line.
// Thread-safe.
absl::Status ValidateDigipostXml(std::string_view xml);

// The schema's text.
std::string_view DigipostSchemaText();

}  // namespace utpost::sim

#endif  // UTPOST_SIM_DIGIPOST_SCHEMA_H_
