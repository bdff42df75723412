#include "sim/digipost_schema.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace utpost::sim {
namespace internal {
// Defined in the generated digipost_schema_text.cc.
extern const char kDigipostSchema[];
}  // namespace internal

namespace {

void Collect(void* out, xmlError* error) {
  auto* first = static_cast<std::string*>(out);
  if (!first->empty() || error == nullptr) return;
  std::string message = error->message != nullptr ? error->message : "";
  while (!message.empty() && message.back() == '\n') message.pop_back();
  *first = absl::StrCat("line ", error->line, ": ", message);
}

// Parsed once; a parsed schema may be shared by validations on many
// threads, each with its own context.
xmlSchema* Schema() {
  static xmlSchema* const schema = [] {
    xmlInitParser();
    std::string_view text = DigipostSchemaText();
    xmlSchemaParserCtxt* parser =
        xmlSchemaNewMemParserCtxt(text.data(), static_cast<int>(text.size()));
    std::string ignored;
    xmlSchemaSetParserStructuredErrors(parser, Collect, &ignored);
    xmlSchema* parsed = xmlSchemaParse(parser);
    xmlSchemaFreeParserCtxt(parser);
    return parsed;
  }();
  return schema;
}

}  // namespace

std::string_view DigipostSchemaText() { return internal::kDigipostSchema; }

absl::Status ValidateDigipostXml(std::string_view xml) {
  xmlSchema* schema = Schema();
  if (schema == nullptr) {
    return absl::InternalError("the Digipost schema does not compile");
  }
  xmlDoc* doc = xmlReadMemory(
      xml.data(), static_cast<int>(xml.size()), "message.xml", nullptr,
      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == nullptr) {
    return absl::InvalidArgumentError("not well-formed XML");
  }
  xmlSchemaValidCtxt* ctxt = xmlSchemaNewValidCtxt(schema);
  std::string first;
  xmlSchemaSetValidStructuredErrors(ctxt, Collect, &first);
  int result = xmlSchemaValidateDoc(ctxt, doc);
  xmlSchemaFreeValidCtxt(ctxt);
  xmlFreeDoc(doc);
  if (result != 0) {
    return absl::InvalidArgumentError(
        first.empty() ? "not valid against api_v8.xsd"
                      : absl::StrCat("not valid against api_v8.xsd: ", first));
  }
  return absl::OkStatus();
}

}  // namespace utpost::sim
