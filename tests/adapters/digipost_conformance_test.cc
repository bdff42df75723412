// The Digipost adapter's documents judged by the published schema itself,
// not by the simulator: tests/published/digipost/api_v8.xsd, transcribed
// from digipost/digipost-api-client-java src/main/resources/xsd/api_v8.xsd
// @ 646ebf8784c568fad623fbd8ee6d29d711e1c21a, read here with libxml2.
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include <string>
#include <vector>

#include "adapters/digipost/digipost_protocol.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::adapters {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

constexpr char kSchema[] = "tests/published/digipost/api_v8.xsd";
constexpr char kLetterId[] = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

void CollectError(void* out, xmlError* error) {
  auto* errors = static_cast<std::vector<std::string>*>(out);
  if (error != nullptr && error->message != nullptr) {
    errors->push_back("line " + std::to_string(error->line) + ": " +
                      error->message);
  }
}

// The schema's verdict on `xml`: the violations, none when valid.
std::vector<std::string> Violations(const std::string& xml) {
  std::vector<std::string> errors;
  xmlSchemaParserCtxt* parser = xmlSchemaNewParserCtxt(kSchema);
  xmlSchema* schema = xmlSchemaParse(parser);
  xmlSchemaFreeParserCtxt(parser);
  if (schema == nullptr) return {"the schema does not compile"};
  xmlDoc* doc =
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "document.xml",
                    nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR);
  if (doc == nullptr) {
    xmlSchemaFree(schema);
    return {"not well-formed"};
  }
  xmlSchemaValidCtxt* ctxt = xmlSchemaNewValidCtxt(schema);
  xmlSchemaSetValidStructuredErrors(ctxt, CollectError, &errors);
  if (xmlSchemaValidateDoc(ctxt, doc) != 0 && errors.empty()) {
    errors.push_back("invalid");
  }
  xmlSchemaFreeValidCtxt(ctxt);
  xmlFreeDoc(doc);
  xmlSchemaFree(schema);
  return errors;
}

OutgoingLetter PersonLetter() {
  OutgoingLetter letter;
  letter.message_id = kLetterId;
  letter.tenant = "964338531";
  letter.person_number = "01817010055";
  letter.title = "Vedtak om skatt";
  letter.documents = {{"vedtak.pdf", "application/pdf", "%PDF-1.7", ""}};
  return letter;
}

TEST(DigipostConformanceTest, TheSchemaRefusesWhatItShould) {
  // The oracle itself can fail: a message without recipient is refused.
  EXPECT_THAT(Violations("<message xmlns=\"http://api.digipost.no/schema/v8\">"
                         "<message-id>x</message-id></message>"),
              Not(::testing::IsEmpty()));
}

TEST(DigipostConformanceTest, PersonMessageIsValid) {
  std::string xml = DigipostMessageXml(PersonLetter(), "123456");
  EXPECT_THAT(Violations(xml), ::testing::IsEmpty()) << xml;
}

TEST(DigipostConformanceTest, OrganisationMessageIsValid) {
  OutgoingLetter letter = PersonLetter();
  letter.person_number.clear();
  letter.organisation_number = "958935420";
  std::string xml = DigipostMessageXml(letter, "123456");
  EXPECT_THAT(Violations(xml), ::testing::IsEmpty()) << xml;
}

TEST(DigipostConformanceTest, MessageWithAttachmentsIsValid) {
  OutgoingLetter letter = PersonLetter();
  letter.documents.push_back({"vedlegg.pdf", "application/pdf", "%PDF", ""});
  letter.documents.push_back({"kart.PNG", "image/png", "png", ""});
  std::string xml = DigipostMessageXml(letter, "123456");
  EXPECT_THAT(Violations(xml), ::testing::IsEmpty()) << xml;
  EXPECT_THAT(xml, HasSubstr("<file-type>png</file-type>"));
}

TEST(DigipostConformanceTest, ConfidentialMessageIsValid) {
  OutgoingLetter letter = PersonLetter();
  letter.confidential = true;
  letter.documents.push_back({"vedlegg.pdf", "application/pdf", "%PDF", ""});
  std::string xml = DigipostMessageXml(letter, "123456");
  EXPECT_THAT(Violations(xml), ::testing::IsEmpty()) << xml;
  EXPECT_THAT(xml, HasSubstr("<authentication-level>TWO_FACTOR<"));
  EXPECT_THAT(xml, HasSubstr("<sensitivity-level>SENSITIVE<"));
  EXPECT_THAT(xml, Not(HasSubstr("NORMAL")));
}

TEST(DigipostConformanceTest, HostileTextStaysValid) {
  // Markup, control characters and an over-long subject (the schema allows
  // 255 characters) must not break the document.
  OutgoingLetter letter = PersonLetter();
  letter.title = "<b>&amp;\x01\x1f \"Vedtak\" æøå " + std::string(300, 'x');
  letter.documents.push_back(
      {std::string(260, 'y') + ".pdf", "application/pdf", "%PDF", ""});
  std::string xml = DigipostMessageXml(letter, "123456");
  EXPECT_THAT(Violations(xml), ::testing::IsEmpty()) << xml;
}

TEST(DigipostConformanceTest, NonUuidMessageIdsStillGiveSchemaUuids) {
  OutgoingLetter letter = PersonLetter();
  letter.message_id = "Sak 2026/17";
  std::string xml = DigipostMessageXml(letter, "123456");
  EXPECT_THAT(Violations(xml), ::testing::IsEmpty()) << xml;
}

// A feed page written from the schema's `document-events` and `event`
// types (every field an attribute), as Digipost publishes it.
constexpr char kFeed[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<document-events xmlns="http://api.digipost.no/schema/v8">
  <event uuid="7c9e6679-7425-40de-944b-e07fc1f90ae7" type="OPENED"
         created="2026-11-23T12:00:00.500+01:00"
         document-created="2026-11-23T10:00:00+01:00"/>
  <event uuid="0b2c7d9e-1111-4222-9333-444455556666" type="POSTMARKED"
         created="2026-11-24T08:30:00Z" document-created="2026-11-23T10:00:00Z"/>
  <event uuid="0b2c7d9e-1111-4222-9333-444455556667" type="EMAIL_NOTIFICATION_FAILED"
         created="2026-11-24T08:30:00.123Z" document-created="2026-11-23T10:00:00Z"/>
</document-events>
)";

TEST(DigipostConformanceTest, ParsesAFeedPageInThePublishedShape) {
  ASSERT_THAT(Violations(kFeed), ::testing::IsEmpty());
  absl::StatusOr<std::vector<DigipostDocumentEvent>> events =
      ParseDigipostDocumentEvents(kFeed);
  ASSERT_THAT(events, IsOk());
  ASSERT_THAT(*events, SizeIs(3));
  EXPECT_EQ((*events)[0].uuid, kLetterId);
  EXPECT_EQ((*events)[0].type, "OPENED");
  EXPECT_EQ((*events)[0].created_ms, 1795431600500);  // 11:00:00.5 UTC.
  EXPECT_EQ((*events)[0].document_created_ms, 1795424400000);
  EXPECT_EQ((*events)[1].type, "POSTMARKED");
  EXPECT_EQ((*events)[2].type, "EMAIL_NOTIFICATION_FAILED");
  EXPECT_EQ((*events)[2].created_ms % 1000, 123);
}

TEST(DigipostConformanceTest, AnEmptyFeedPageIsValidAndEmpty) {
  const char page[] =
      "<document-events xmlns=\"http://api.digipost.no/schema/v8\"/>";
  ASSERT_THAT(Violations(page), ::testing::IsEmpty());
  EXPECT_THAT(ParseDigipostDocumentEvents(page),
              ::utpost::testing::IsOkAndHolds(::testing::IsEmpty()));
}

TEST(DigipostConformanceTest, ThePreviousChildElementShapeIsNotTheFeed) {
  // What Utpost read before: the schema refuses it, and so a real feed in
  // the published shape is what the parser must read.
  const char old[] =
      "<document-events xmlns=\"http://api.digipost.no/schema/v8\"><event>"
      "<uuid>7c9e6679-7425-40de-944b-e07fc1f90ae7</uuid><type>OPENED</type>"
      "</event></document-events>";
  EXPECT_THAT(Violations(old), Not(::testing::IsEmpty()));
  EXPECT_THAT(ParseDigipostDocumentEvents(old),
              ::utpost::testing::IsOkAndHolds(::testing::IsEmpty()));
}

// An entry point written from the schema's `entrypoint` and `link` types,
// rels as the Java client's Link writes them (<base>/relations/<name>).
constexpr char kEntryPoint[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<entrypoint xmlns="http://api.digipost.no/schema/v8">
  <certificate>-----BEGIN CERTIFICATE-----
MIIB
-----END CERTIFICATE-----</certificate>
  <link rel="https://api.digipost.no/relations/create_message"
        uri="https://api.digipost.no/messages"
        media-type="application/vnd.digipost-v8+xml"/>
  <link rel="https://api.digipost.no/relations/search"
        uri="https://api.digipost.no/recipients/search"/>
  <link rel="https://api.digipost.no/relations/document_events"
        uri="https://api.digipost.no/documents/events"
        media-type="application/vnd.digipost-v8+xml"/>
</entrypoint>
)";

TEST(DigipostConformanceTest, ParsesAnEntryPointInThePublishedShape) {
  ASSERT_THAT(Violations(kEntryPoint), ::testing::IsEmpty());
  absl::StatusOr<DigipostEntryPoint> entry =
      ParseDigipostEntryPoint(kEntryPoint);
  ASSERT_THAT(entry, IsOk());
  EXPECT_THAT(entry->certificate, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_THAT(entry->links, SizeIs(3));
  EXPECT_EQ(entry->LinkFor("create_message"),
            "https://api.digipost.no/messages");
  EXPECT_EQ(entry->LinkFor("document_events"),
            "https://api.digipost.no/documents/events");
  EXPECT_EQ(entry->LinkFor("CREATE_MESSAGE"),
            "https://api.digipost.no/messages");
  EXPECT_EQ(entry->LinkFor("get_inbox"), "");
}

TEST(DigipostConformanceTest, RefusesWhatIsNotAnEntryPoint) {
  EXPECT_THAT(
      ParseDigipostEntryPoint("<entrypoint/>"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("entrypoint")));
  EXPECT_THAT(
      ParseDigipostEntryPoint("not xml"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("well-formed")));
  EXPECT_THAT(ParseDigipostEntryPoint(
                  "<entrypoint xmlns=\"http://api.digipost.no/schema/v8\">"
                  "<link rel=\"x/relations/create_message\"/></entrypoint>"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("uri")));
}

TEST(DigipostConformanceTest, CanonicalResponseStringFollowsTheJavaClient) {
  HttpHeaders headers = {{"X-Content-SHA256", "abc="},
                         {"Content-Type", "application/vnd.digipost-v8+xml"},
                         {"Date", "Fri, 15 Jan 2027 08:00:00 GMT"},
                         {"X-Digipost-Signature", "sig"}};
  EXPECT_EQ(CanonicalResponseString(200, "/Documents/Events", headers),
            "200\n/documents/events\n"
            "date: Fri, 15 Jan 2027 08:00:00 GMT\n"
            "x-content-sha256: abc=\n");
}

}  // namespace
}  // namespace utpost::adapters
