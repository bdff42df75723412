#include "gateway/api/letter_validator.h"

#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/mask.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/pdf_fixtures.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::utpost::testing::IsOk;
using ::utpost::testing::MakeTestPdf;
using ::utpost::testing::StatusIs;
using ::utpost::v1::Document;
using ::utpost::v1::SubmitLetterRequest;

constexpr char kPerson[] = "01017012343";

// What SubmitLetter checks: the fields, then the documents (in process).
absl::Status ValidateAndInspect(const SubmitLetterRequest& request,
                                const ValidationLimits& limits) {
  if (absl::Status s = ValidateSubmitLetter(request, limits); !s.ok()) {
    return s;
  }
  return inspect::InspectDocuments(InspectionFor(request, limits));
}

// Made once: every test letter shares the same small PDF.
const std::string& Pdf() {
  static const std::string* const pdf = new std::string(MakeTestPdf());
  return *pdf;
}

Document* AddDocument(SubmitLetterRequest& request, std::string file_name,
                      std::string content) {
  Document* doc = request.add_documents();
  doc->set_file_name(std::move(file_name));
  doc->set_media_type("application/pdf");
  doc->set_content(std::move(content));
  return doc;
}

SubmitLetterRequest ValidRequest() {
  SubmitLetterRequest request;
  request.set_client_reference("case-2024-0001");
  request.mutable_recipient()->set_person(kPerson);
  request.set_title("Vedtak om tilskudd");
  AddDocument(request, "vedtak.pdf", Pdf());
  return request;
}

void SetNorwegianAddress(SubmitLetterRequest& request) {
  auto* address = request.mutable_recipient()->mutable_postal_address();
  address->set_name("Kari Nordmann");
  address->add_address_lines("Storgata 1");
  address->set_postal_code("0155");
  address->set_city("OSLO");
}

const ValidationLimits& NotBeforeLimits() {
  static FakeClock* clock = new FakeClock(int64_t{1700000000} * 1000);
  static ValidationLimits* limits = [] {
    auto* l = new ValidationLimits;
    l->clock = clock;
    return l;
  }();
  return *limits;
}

TEST(ValidateSubmitLetterTest, AcceptsPrintIfUnreadAndNotBefore) {
  SubmitLetterRequest request = ValidRequest();
  SetNorwegianAddress(request);
  request.mutable_delivery_policy()
      ->mutable_print_if_unread_after()
      ->set_seconds(40 * 3600);
  request.mutable_not_before()->set_seconds(1700000000 + 30 * 24 * 3600);
  EXPECT_THAT(ValidateAndInspect(request, NotBeforeLimits()), IsOk());
  // An organisation may be printed to at the business registry's address.
  request.mutable_recipient()->set_organisation("974760673");
  request.mutable_recipient()->clear_postal_address();
  EXPECT_THAT(ValidateAndInspect(request, NotBeforeLimits()), IsOk());
}

TEST(ValidateSubmitLetterTest, AcceptsValidLetterToPerson) {
  EXPECT_THAT(ValidateAndInspect(ValidRequest(), {}), IsOk());
}

TEST(ValidateSubmitLetterTest, AcceptsValidLetterToOrganisation) {
  SubmitLetterRequest request = ValidRequest();
  request.mutable_recipient()->set_organisation("974760673");
  EXPECT_THAT(ValidateAndInspect(request, {}), IsOk());
}

TEST(ValidateSubmitLetterTest, AcceptsNumbersIssuedUnderThe2032Rule) {
  SubmitLetterRequest request = ValidRequest();
  request.mutable_recipient()->set_person("30108299939");
  EXPECT_THAT(ValidateAndInspect(request, {}), IsOk());
}

TEST(ValidateSubmitLetterTest, AcceptsPostalAddresses) {
  SubmitLetterRequest request = ValidRequest();
  SetNorwegianAddress(request);
  EXPECT_THAT(ValidateAndInspect(request, {}), IsOk());

  auto* address = request.mutable_recipient()->mutable_postal_address();
  address->set_country_code("SE");
  address->set_postal_code("123 45");
  EXPECT_THAT(ValidateAndInspect(request, {}), IsOk());
}

// A US Letter page: the fixture's A4 box with numbers of the same length,
// so the cross-reference offsets stay right.
std::string LetterSizePdf() {
  std::string pdf = MakeTestPdf();
  size_t at = pdf.find("595 842");
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) pdf.replace(at, 7, "612 792");
  return pdf;
}

TEST(ValidateSubmitLetterTest, AnUploadIsReferencedByItsDigestAlone) {
  SubmitLetterRequest request = ValidRequest();
  auto* doc = request.add_documents();
  doc->set_file_name("plan.pdf");
  doc->set_upload_sha256(std::string(64, 'a'));
  // Its size is not known here, so no size limit applies yet.
  EXPECT_THAT(ValidateSubmitLetter(request, ValidationLimits()), IsOk());

  doc->set_upload_sha256(std::string(64, 'A'));
  EXPECT_THAT(ValidateSubmitLetter(request, ValidationLimits()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents[1].upload_sha256: expected 64 "
                                 "lowercase hex digits")));
  doc->set_upload_sha256(std::string(63, 'a'));
  EXPECT_THAT(ValidateSubmitLetter(request, ValidationLimits()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents[1].upload_sha256")));
  doc->set_upload_sha256(std::string(64, 'a'));
  doc->set_content("%PDF-1.4");
  EXPECT_THAT(ValidateSubmitLetter(request, ValidationLimits()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents[1]: content and upload_sha256 "
                                 "are both set")));
}

TEST(ValidateSubmitLetterTest, RejectsUnprintableLetterThatMayGoToPrint) {
  for (auto mode : {v1::DeliveryPolicy::MODE_UNSPECIFIED,
                    v1::DeliveryPolicy::DIGITAL_THEN_PRINT,
                    v1::DeliveryPolicy::PRINT_ONLY}) {
    SubmitLetterRequest request = ValidRequest();
    SetNorwegianAddress(request);
    request.mutable_delivery_policy()->set_mode(mode);
    AddDocument(request, "vedlegg.pdf", LetterSizePdf());
    EXPECT_THAT(ValidateAndInspect(request, {}),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("documents: not printable: documents[1] "
                                   "(vedlegg.pdf) page 1: 215.9 x 279.4 mm")))
        << mode;
  }
}

TEST(ValidateSubmitLetterTest, DigitalOnlyLetterNeedNotBePrintable) {
  SubmitLetterRequest request = ValidRequest();
  request.mutable_delivery_policy()->set_mode(v1::DeliveryPolicy::DIGITAL_ONLY);
  AddDocument(request, "vedlegg.pdf", LetterSizePdf());
  EXPECT_THAT(ValidateAndInspect(request, {}), IsOk());
}

TEST(ValidateSubmitLetterTest, PrintSheetLimitComesFromLimits) {
  SubmitLetterRequest request = ValidRequest();
  request.mutable_documents(0)->set_content(MakeTestPdf(3));
  ValidationLimits limits;
  limits.max_print_sheets = 3;
  EXPECT_THAT(ValidateAndInspect(request, limits), IsOk());
  limits.print_cover_page = true;
  EXPECT_THAT(ValidateAndInspect(request, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("4 sheets with the address cover page")));
}

TEST(PrintSheetsOfTest, CountsTheInspectedPagesAsTheSheetLimitDoes) {
  SubmitLetterRequest request = ValidRequest();
  request.mutable_documents(0)->set_content(MakeTestPdf(3));
  AddDocument(request, "vedlegg.pdf", MakeTestPdf(2));
  std::vector<int> pages;
  inspect::InspectionRequest inspection = InspectionFor(request, {});
  inspection.page_counts = &pages;
  ASSERT_THAT(inspect::InspectDocuments(inspection), IsOk());
  EXPECT_EQ(pages, (std::vector<int>{3, 2}));
  ValidationLimits limits;
  EXPECT_EQ(PrintSheetsOf(request, pages, limits), 5);
  // Duplex halves each document, rounded up: 2 + 1.
  request.mutable_print_options()->set_duplex(true);
  EXPECT_EQ(PrintSheetsOf(request, pages, limits), 3);
  limits.print_cover_page = true;
  EXPECT_EQ(PrintSheetsOf(request, pages, limits), 4);
  // The sheet limit counts the same: 4 sheets is one too many for 3.
  limits.max_print_sheets = 3;
  EXPECT_THAT(ValidateAndInspect(request, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("4 sheets (duplex) with the address cover")));
}

TEST(PrintSheetsOfTest, ACountNoDocumentCanHaveDoesNotOverflow) {
  SubmitLetterRequest request = ValidRequest();
  const std::vector<int> hostile(1000, std::numeric_limits<int>::max());
  const int sheets = PrintSheetsOf(request, hostile, {});
  EXPECT_GT(sheets, 0);
  EXPECT_EQ(sheets, 1000 * (1 << 20));
}

TEST(ValidateSubmitLetterTest, EmptyMediaTypeMeansPdf) {
  SubmitLetterRequest request = ValidRequest();
  request.mutable_documents(0)->clear_media_type();
  EXPECT_THAT(ValidateAndInspect(request, {}), IsOk());
}

TEST(ValidateSubmitLetterTest, AcceptsLimitsExactly) {
  SubmitLetterRequest request = ValidRequest();
  request.set_client_reference(std::string(100, 'r'));
  // 200 two-byte characters: the limit counts characters, not bytes.
  std::string title;
  for (int i = 0; i < 200; ++i) title += "\xC3\xB8";  // "ø"
  request.set_title(title);
  for (int i = 1; i < 10; ++i) {
    AddDocument(request, "vedlegg" + std::to_string(i) + ".pdf", Pdf());
  }
  request.mutable_delivery_policy()
      ->mutable_print_if_unread_after()
      ->set_seconds(0);
  EXPECT_THAT(ValidateAndInspect(request, {}), IsOk());
}

struct BadLetterCase {
  std::string name;
  std::function<void(SubmitLetterRequest&)> mutate;
  std::string message_prefix;
  ValidationLimits limits = {};

  // Names the case in test output instead of dumping its bytes.
  void PrintTo(const BadLetterCase& c, std::ostream* os) { *os << c.name; }
};

class BadLetterTest : public ::testing::TestWithParam<BadLetterCase> {};

TEST_P(BadLetterTest, FailsWithFieldPath) {
  const BadLetterCase& c = GetParam();
  SubmitLetterRequest request = ValidRequest();
  c.mutate(request);
  absl::Status status = ValidateAndInspect(request, c.limits);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               StartsWith(c.message_prefix)));
  // No full person number, whatever the client sent.
  const std::string message(status.message());
  EXPECT_EQ(MaskPersonNumbersIn(message), message);
}

std::string Repeat(char c, size_t n) { return std::string(n, c); }

ValidationLimits AtMostTwoDocuments() {
  ValidationLimits limits;
  limits.max_documents = 2;
  return limits;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, BadLetterTest,
    ::testing::Values(
        BadLetterCase{
            "MissingClientReference",
            [](SubmitLetterRequest& r) { r.clear_client_reference(); },
            "client_reference: required"},
        BadLetterCase{
            "BlankClientReference",
            [](SubmitLetterRequest& r) { r.set_client_reference(" \t"); },
            "client_reference: required"},
        BadLetterCase{"LongClientReference",
                      [](SubmitLetterRequest& r) {
                        r.set_client_reference(Repeat('r', 101));
                      },
                      "client_reference: at most 100 characters, got 101"},
        BadLetterCase{"MissingRecipient",
                      [](SubmitLetterRequest& r) { r.clear_recipient(); },
                      "recipient: required (person or organisation)"},
        BadLetterCase{"PrintOnlyWithoutAddress",
                      [](SubmitLetterRequest& r) {
                        r.mutable_recipient()->clear_postal_address();
                        r.mutable_delivery_policy()->set_mode(
                            utpost::v1::DeliveryPolicy::PRINT_ONLY);
                      },
                      "recipient.postal_address: required when "
                      "delivery_policy.mode is PRINT_ONLY"},
        BadLetterCase{"RecipientWithAddressOnly",
                      [](SubmitLetterRequest& r) {
                        r.mutable_recipient()->clear_person();
                        SetNorwegianAddress(r);
                      },
                      "recipient: required (person or organisation)"},
        BadLetterCase{"PersonBadFirstCheckDigit",
                      [](SubmitLetterRequest& r) {
                        r.mutable_recipient()->set_person("01017012393");
                      },
                      "recipient.person: check digit at position 10 is wrong"},
        BadLetterCase{"PersonBadSecondCheckDigit",
                      [](SubmitLetterRequest& r) {
                        r.mutable_recipient()->set_person("01017012344");
                      },
                      "recipient.person: check digit at position 11 is wrong"},
        BadLetterCase{"PersonBadDate",
                      [](SubmitLetterRequest& r) {
                        r.mutable_recipient()->set_person("32017012343");
                      },
                      "recipient.person: digits 1-6 are not a valid date "
                      "(day 32)"},
        BadLetterCase{"PersonTooShort",
                      [](SubmitLetterRequest& r) {
                        r.mutable_recipient()->set_person("0101701234");
                      },
                      "recipient.person: must be 11 digits"},
        BadLetterCase{"OrganisationBadCheckDigit",
                      [](SubmitLetterRequest& r) {
                        r.mutable_recipient()->set_organisation("974760672");
                      },
                      "recipient.organisation: check digit at position 9 is "
                      "wrong"},
        BadLetterCase{"OrganisationGivenPersonNumber",
                      [](SubmitLetterRequest& r) {
                        r.mutable_recipient()->set_organisation(kPerson);
                      },
                      "recipient.organisation: must be 9 digits"},
        BadLetterCase{
            "AddressWithoutName",
            [](SubmitLetterRequest& r) {
              SetNorwegianAddress(r);
              r.mutable_recipient()->mutable_postal_address()->clear_name();
            },
            "recipient.postal_address.name: required"},
        BadLetterCase{"AddressWithoutLines",
                      [](SubmitLetterRequest& r) {
                        SetNorwegianAddress(r);
                        auto* a =
                            r.mutable_recipient()->mutable_postal_address();
                        a->clear_address_lines();
                        a->add_address_lines(" ");
                      },
                      "recipient.postal_address.address_lines: at least one "
                      "line is required"},
        BadLetterCase{"AddressWithFiveLines",
                      [](SubmitLetterRequest& r) {
                        SetNorwegianAddress(r);
                        auto* a =
                            r.mutable_recipient()->mutable_postal_address();
                        for (int i = 0; i < 4; ++i) a->add_address_lines("x");
                      },
                      "recipient.postal_address.address_lines: at most 4 "
                      "lines, got 5"},
        BadLetterCase{
            "NorwegianPostalCodeTooShort",
            [](SubmitLetterRequest& r) {
              SetNorwegianAddress(r);
              r.mutable_recipient()->mutable_postal_address()->set_postal_code(
                  "155");
            },
            "recipient.postal_address.postal_code: must be 4 digits"},
        BadLetterCase{"NorwegianPostalCodeNotDigits",
                      [](SubmitLetterRequest& r) {
                        SetNorwegianAddress(r);
                        auto* a =
                            r.mutable_recipient()->mutable_postal_address();
                        a->set_country_code("NO");
                        a->set_postal_code("O155");
                      },
                      "recipient.postal_address.postal_code: must be 4 digits"},
        BadLetterCase{
            "BadCountryCode",
            [](SubmitLetterRequest& r) {
              SetNorwegianAddress(r);
              r.mutable_recipient()->mutable_postal_address()->set_country_code(
                  "nor");
            },
            "recipient.postal_address.country_code: "},
        BadLetterCase{"MissingTitle",
                      [](SubmitLetterRequest& r) { r.clear_title(); },
                      "title: required"},
        BadLetterCase{
            "LongTitle",
            [](SubmitLetterRequest& r) { r.set_title(Repeat('t', 201)); },
            "title: at most 200 characters, got 201"},
        BadLetterCase{"NegativePrintIfUnreadAfter",
                      [](SubmitLetterRequest& r) {
                        r.mutable_delivery_policy()
                            ->mutable_print_if_unread_after()
                            ->set_seconds(-3600);
                      },
                      "delivery_policy.print_if_unread_after: must not be "
                      "negative"},
        BadLetterCase{"PrintIfUnreadAfterWithDigitalOnly",
                      [](SubmitLetterRequest& r) {
                        SetNorwegianAddress(r);
                        r.mutable_delivery_policy()->set_mode(
                            v1::DeliveryPolicy::DIGITAL_ONLY);
                        r.mutable_delivery_policy()
                            ->mutable_print_if_unread_after()
                            ->set_seconds(3600);
                      },
                      "delivery_policy.print_if_unread_after: only with "
                      "DIGITAL_THEN_PRINT, not DIGITAL_ONLY"},
        BadLetterCase{"PrintIfUnreadAfterWithPrintOnly",
                      [](SubmitLetterRequest& r) {
                        SetNorwegianAddress(r);
                        r.mutable_delivery_policy()->set_mode(
                            v1::DeliveryPolicy::PRINT_ONLY);
                        r.mutable_delivery_policy()
                            ->mutable_print_if_unread_after()
                            ->set_seconds(3600);
                      },
                      "delivery_policy.print_if_unread_after: only with "
                      "DIGITAL_THEN_PRINT"},
        BadLetterCase{"PrintIfUnreadAfterOverAYear",
                      [](SubmitLetterRequest& r) {
                        SetNorwegianAddress(r);
                        r.mutable_delivery_policy()
                            ->mutable_print_if_unread_after()
                            ->set_seconds(366 * 24 * 3600);
                      },
                      "delivery_policy.print_if_unread_after: must be at "
                      "most 365 days"},
        BadLetterCase{"PrintIfUnreadAfterWithoutAddress",
                      [](SubmitLetterRequest& r) {
                        r.mutable_delivery_policy()
                            ->mutable_print_if_unread_after()
                            ->set_seconds(3600);
                      },
                      "recipient.postal_address: required when "
                      "delivery_policy.print_if_unread_after"},
        BadLetterCase{
            "NotBeforeTooFarAhead",
            [](SubmitLetterRequest& r) {
              r.mutable_not_before()->set_seconds(1700000000 + 367 * 24 * 3600);
            },
            "not_before: must be at most 366 days ahead", NotBeforeLimits()},
        BadLetterCase{"UnknownDeliveryMode",
                      [](SubmitLetterRequest& r) {
                        r.mutable_delivery_policy()->set_mode(
                            static_cast<v1::DeliveryPolicy::Mode>(7));
                      },
                      "delivery_policy.mode: unknown value 7"},
        BadLetterCase{"UnknownColor",
                      [](SubmitLetterRequest& r) {
                        r.mutable_print_options()->set_color(
                            static_cast<v1::PrintOptions::Color>(9));
                      },
                      "print_options.color: unknown value 9"},
        BadLetterCase{"NoDocuments",
                      [](SubmitLetterRequest& r) { r.clear_documents(); },
                      "documents: at least one document is required"},
        BadLetterCase{"ElevenDocuments",
                      [](SubmitLetterRequest& r) {
                        for (int i = 1; i <= 10; ++i) {
                          AddDocument(r, std::to_string(i) + ".pdf", Pdf());
                        }
                      },
                      "documents: at most 10 documents, got 11"},
        BadLetterCase{"ConfiguredDocumentLimit",
                      [](SubmitLetterRequest& r) {
                        AddDocument(r, "b.pdf", Pdf());
                        AddDocument(r, "c.pdf", Pdf());
                      },
                      "documents: at most 2 documents, got 3",
                      AtMostTwoDocuments()},
        BadLetterCase{"MissingFileName",
                      [](SubmitLetterRequest& r) {
                        r.mutable_documents(0)->clear_file_name();
                      },
                      "documents[0].file_name: required"},
        BadLetterCase{"FileNameWithPath",
                      [](SubmitLetterRequest& r) {
                        r.mutable_documents(0)->set_file_name("../vedtak.pdf");
                      },
                      "documents[0].file_name: \"../vedtak.pdf\" must be a "
                      "plain file name"},
        BadLetterCase{"DuplicateFileName",
                      [](SubmitLetterRequest& r) {
                        r.mutable_documents(0)->set_file_name("a.pdf");
                        AddDocument(r, "a.pdf", Pdf());
                      },
                      "documents[1].file_name: \"a.pdf\" is used by "
                      "documents[0] too"},
        // The file name quotes a person number; the message masks it.
        BadLetterCase{"DuplicateFileNameWithPersonNumber",
                      [](SubmitLetterRequest& r) {
                        r.mutable_documents(0)->set_file_name(
                            std::string(kPerson) + ".pdf");
                        AddDocument(r, std::string(kPerson) + ".pdf", Pdf());
                      },
                      "documents[1].file_name: \"010170*****.pdf\" is used by "
                      "documents[0] too"},
        BadLetterCase{"WrongMediaType",
                      [](SubmitLetterRequest& r) {
                        r.mutable_documents(0)->set_media_type("text/plain");
                      },
                      "documents[0].media_type: must be application/pdf"},
        BadLetterCase{"EmptyDocument",
                      [](SubmitLetterRequest& r) {
                        AddDocument(r, "b.pdf", Pdf());
                        AddDocument(r, "c.pdf", "");
                      },
                      "documents[2].content: empty document"},
        BadLetterCase{"NotAPdf",
                      [](SubmitLetterRequest& r) {
                        AddDocument(r, "b.pdf", "Dear recipient");
                      },
                      "documents[1].content: not a PDF: does not start with "
                      "%PDF-"},
        BadLetterCase{"GarbageAfterPdfHeader",
                      [](SubmitLetterRequest& r) {
                        AddDocument(r, "b.pdf", "%PDF-1.7\ngarbage");
                      },
                      "documents[1].content: not a PDF: cannot be opened: "},
        BadLetterCase{"PdfWithoutPages",
                      [](SubmitLetterRequest& r) {
                        r.mutable_documents(0)->set_content(MakeTestPdf(0));
                      },
                      "documents[0].content: not a PDF: has no pages"},
        // Not a PDF either, but the size is checked first.
        BadLetterCase{"DocumentTooLarge",
                      [](SubmitLetterRequest& r) {
                        AddDocument(r, "b.pdf", Pdf());
                        AddDocument(r, "c.pdf", Pdf());
                        AddDocument(r, "d.pdf", Repeat('x', 12 << 20));
                      },
                      "documents[3].content: 12582912 bytes, the limit is "
                      "10485760"},
        BadLetterCase{"LetterTooLarge",
                      [](SubmitLetterRequest& r) {
                        r.clear_documents();
                        AddDocument(r, "a.pdf", Repeat('a', 10 << 20));
                        AddDocument(r, "b.pdf", Repeat('b', 10 << 20));
                        AddDocument(r, "c.pdf", Repeat('c', 10 << 20));
                        AddDocument(r, "d.pdf", "d");
                      },
                      "documents: 31457281 bytes in all, the limit is "
                      "31457280"},
        // A duplicate name is found before the bad PDF in front of it is
        // parsed.
        BadLetterCase{"CheapChecksBeforeParsing",
                      [](SubmitLetterRequest& r) {
                        r.mutable_documents(0)->set_content("%PDF-1.7\nbad");
                        AddDocument(r, "vedtak.pdf", Pdf());
                      },
                      "documents[1].file_name: "},
        // Text a person reads holds no control or bidirectional characters.
        BadLetterCase{"NulInTitle",
                      [](SubmitLetterRequest& r) {
                        r.set_title(std::string("Ved\0tak", 7));
                      },
                      "title: character 4 is U+0000 (a control character)"},
        BadLetterCase{"CrLfInClientReference",
                      [](SubmitLetterRequest& r) {
                        r.set_client_reference("ref\r\nX-Injected: 1");
                      },
                      "client_reference: character 4 is U+000D"},
        BadLetterCase{
            "EscInTitle",
            [](SubmitLetterRequest& r) { r.set_title("\x1b[31mVedtak"); },
            "title: character 1 is U+001B"},
        BadLetterCase{"RightToLeftOverrideInFileName",
                      [](SubmitLetterRequest& r) {
                        // "vedtak\u202Efdp.exe" shows as "vedtakexe.pdf".
                        r.mutable_documents(0)->set_file_name(
                            "vedtak\xE2\x80\xAE"
                            "fdp.exe");
                      },
                      "documents[0].file_name: character 7 is U+202E (a "
                      "bidirectional control)"},
        BadLetterCase{
            "C1ControlInTitle",
            [](SubmitLetterRequest& r) { r.set_title("Vedtak \xC2\x85"); },
            "title: character 8 is U+0085 (a control character)"},
        BadLetterCase{
            "InvalidUtf8InTitle",
            [](SubmitLetterRequest& r) { r.set_title("Vedtak \xC3\x28"); },
            "title: not valid UTF-8"},
        BadLetterCase{"FileNameOf256Bytes",
                      [](SubmitLetterRequest& r) {
                        r.mutable_documents(0)->set_file_name(Repeat('f', 252) +
                                                              ".pdf");
                      },
                      "documents[0].file_name: at most 255 bytes (UTF-8), "
                      "got 256"},
        BadLetterCase{"FileNameOfAMegabyte",
                      [](SubmitLetterRequest& r) {
                        r.mutable_documents(0)->set_file_name(
                            Repeat('f', 1 << 20));
                      },
                      "documents[0].file_name: at most 255 bytes"},
        BadLetterCase{
            "PostalNameOfAMegabyte",
            [](SubmitLetterRequest& r) {
              SetNorwegianAddress(r);
              r.mutable_recipient()->mutable_postal_address()->set_name(
                  Repeat('n', 1 << 20));
            },
            "recipient.postal_address.name: at most 100 "
            "characters, got 1048576"},
        BadLetterCase{
            "CityOf100KB",
            [](SubmitLetterRequest& r) {
              SetNorwegianAddress(r);
              r.mutable_recipient()->mutable_postal_address()->set_city(
                  Repeat('c', 100 << 10));
            },
            "recipient.postal_address.city: at most 50 characters"},
        BadLetterCase{
            "MissingCity",
            [](SubmitLetterRequest& r) {
              SetNorwegianAddress(r);
              r.mutable_recipient()->mutable_postal_address()->clear_city();
            },
            "recipient.postal_address.city: required"},
        BadLetterCase{"LineFeedInAddressLine",
                      [](SubmitLetterRequest& r) {
                        SetNorwegianAddress(r);
                        r.mutable_recipient()
                            ->mutable_postal_address()
                            ->add_address_lines("Storgata 2\nOSLO");
                      },
                      "recipient.postal_address.address_lines[1]: "
                      "character 11 is U+000A"},
        BadLetterCase{"LongAddressLine",
                      [](SubmitLetterRequest& r) {
                        SetNorwegianAddress(r);
                        r.mutable_recipient()
                            ->mutable_postal_address()
                            ->set_address_lines(0, Repeat('a', 101));
                      },
                      "recipient.postal_address.address_lines[0]: at most "
                      "100 characters, got 101"},
        BadLetterCase{
            "UnassignedCountryCode",
            [](SubmitLetterRequest& r) {
              SetNorwegianAddress(r);
              r.mutable_recipient()->mutable_postal_address()->set_country_code(
                  "UK");
            },
            "recipient.postal_address.country_code: must be an "
            "ISO 3166-1 alpha-2 code"},
        BadLetterCase{"ForeignPostalCodeWithSymbols",
                      [](SubmitLetterRequest& r) {
                        SetNorwegianAddress(r);
                        auto* a =
                            r.mutable_recipient()->mutable_postal_address();
                        a->set_country_code("SE");
                        a->set_postal_code("114<55>");
                      },
                      "recipient.postal_address.postal_code: at most 10 "
                      "letters, digits, spaces or hyphens"},
        BadLetterCase{"FullWidthDigitsInPersonNumber",
                      [](SubmitLetterRequest& r) {
                        std::string digits;
                        for (int i = 0; i < 11; ++i) {
                          digits += "\xEF\xBC\x91";  // U+FF11
                        }
                        r.mutable_recipient()->set_person(digits);
                      },
                      "recipient.person: must be 11 digits; position 1 is "
                      "not a digit"},
        BadLetterCase{"UnreadNanosOutOfRange",
                      [](SubmitLetterRequest& r) {
                        SetNorwegianAddress(r);
                        r.mutable_delivery_policy()
                            ->mutable_print_if_unread_after()
                            ->set_nanos(2000000000);
                      },
                      "delivery_policy.print_if_unread_after: nanos must "
                      "be within"}),
    [](const ::testing::TestParamInfo<BadLetterCase>& info) {
      return info.param.name;
    });

TEST(ValidateSubmitLetterTest, AcceptsForeignAddressesAndInternationalText) {
  SubmitLetterRequest request = ValidRequest();
  request.set_title("Vedtak \xC3\xB8 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D");
  auto* address = request.mutable_recipient()->mutable_postal_address();
  address->set_name("Åse Ødegård");
  address->add_address_lines("10 Downing Street");
  address->set_postal_code("SW1A 2AA");
  address->set_city("London");
  address->set_country_code("GB");
  EXPECT_THAT(ValidateAndInspect(request, {}), IsOk());
  address->set_country_code("AX");  // Åland: assigned, and not "NO".
  address->set_postal_code("");
  EXPECT_THAT(ValidateAndInspect(request, {}), IsOk());
}

TEST(ValidateSubmitLetterTest, NeverQuotesThePersonNumber) {
  SubmitLetterRequest request = ValidRequest();
  request.mutable_recipient()->set_person("01017012344");
  absl::Status status = ValidateAndInspect(request, {});
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("01017012344")));
}

}  // namespace
}  // namespace utpost::api
