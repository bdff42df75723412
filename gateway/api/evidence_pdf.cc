#include "gateway/api/evidence_pdf.h"

#include <hpdf.h>
#include <openssl/sha.h>

#include <exception>
#include <fstream>
#include <memory>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFEFStreamObjectHelper.hh>
#include <qpdf/QPDFEmbeddedFileDocumentHelper.hh>
#include <qpdf/QPDFFileSpecObjectHelper.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <qpdf/QPDFWriter.hh>
#include <qpdf/QUtil.hh>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/haru_errors.h"
#include "common/mask.h"
#include "common/text.h"
#include "gateway/receipts/receipt_signer.h"
#include "nlohmann/json.hpp"

namespace utpost::api {
namespace {

using Json = nlohmann::json;

// The document's words in each language.
struct Words {
  const char* title;
  const char* intro1;
  const char* intro2;
  const char* intro3;
  const char* letter;
  const char* letter_id;
  const char* sender;
  const char* reference;
  const char* subject;
  const char* recipient;
  const char* person;
  const char* organisation;
  const char* submitted;
  const char* documents;
  const char* bytes;
  const char* journey;
  const char* channel;
  const char* provider;
  const char* log;
  const char* head;
  const char* signing;
  const char* fingerprint;
  const char* made;
  const char* verify;
  const char* verify1;
  const char* verify2;
  const char* verify3;
  const char* local_time;
};

constexpr Words kBokmal = {
    "Utpost: bevis for forsendelse",
    "Dette dokumentet viser hva som skjedde med brevet, steg for steg. Beviset",
    "er de signerte kvitteringene som ligger vedlagt (receipts.jsonl); de kan",
    "kontrolleres uten Utpost, se \"Slik kontrollerer du\" nederst.",
    "Brev",
    "Brev-id",
    "Avsender",
    "Saksreferanse",
    "Tittel",
    "Mottaker",
    "person",
    "organisasjon",
    "Mottatt",
    "Dokumenter",
    "byte",
    "Forløp",
    "kanal",
    "levert til",
    "Kvitteringsloggen",
    "Signert trehode: størrelse",
    "Signeringssertifikat",
    "SHA-256-fingeravtrykk",
    "Dokumentet ble laget",
    "Slik kontrollerer du",
    "1. Hent vedlegget: qpdf --show-attachment=receipts.jsonl DOKUMENT.pdf",
    "2. utpostctl audit verify DOKUMENT.pdf --ca CA.pem, eller python3",
    "   verify_export.py receipts.jsonl --ca CA.pem (docs/receipt-log.md).",
    "norsk tid",
};

constexpr Words kEnglish = {
    "Utpost: evidence of delivery",
    "This document shows what happened to the letter, step by step. The",
    "evidence is the signed receipts attached to it (receipts.jsonl); they can",
    "be checked without Utpost, see \"How to verify\" at the end.",
    "Letter",
    "Letter id",
    "Sender",
    "Case reference",
    "Title",
    "Recipient",
    "person",
    "organisation",
    "Received",
    "Documents",
    "bytes",
    "Journey",
    "channel",
    "handed to",
    "Receipt log",
    "Signed tree head: size",
    "Signing certificate",
    "SHA-256 fingerprint",
    "Document made",
    "How to verify",
    "1. Extract the attachment: qpdf --show-attachment=receipts.jsonl DOC.pdf",
    "2. utpostctl audit verify DOC.pdf --ca CA.pem, or python3",
    "   verify_export.py receipts.jsonl --ca CA.pem (docs/receipt-log.md).",
    "Norwegian time",
};

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
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
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') out += c;
    }
  }
  return out;
}

absl::StatusOr<std::string> ReadAll(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("evidence document: cannot read the ", what, " ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The JSON payload of a compact JWS; empty when it is not one.
Json PayloadOf(const std::string& jws) {
  std::vector<std::string> parts = absl::StrSplit(jws, '.');
  std::string raw;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &raw)) {
    return Json::object();
  }
  Json j = Json::parse(raw, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : Json::object();
}

// "AB:CD:..." SHA-256 of the first x5c certificate of a compact JWS, as
// `openssl x509 -fingerprint -sha256` prints it; "" when there is none.
std::string SignerFingerprint(const std::string& jws) {
  std::vector<std::string> parts = absl::StrSplit(jws, '.');
  std::string raw, der;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[0], &raw)) {
    return "";
  }
  Json header = Json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object() || !header.contains("x5c") ||
      !header["x5c"].is_array() || header["x5c"].empty() ||
      !header["x5c"][0].is_string() ||
      !absl::Base64Unescape(header["x5c"][0].get<std::string>(), &der)) {
    return "";
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(der.data()), der.size(),
         digest);
  std::vector<std::string> bytes;
  for (unsigned char b : digest) {
    bytes.push_back(absl::AsciiStrToUpper(absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(&b), 1))));
  }
  return absl::StrJoin(bytes, ":");
}

// Writes lines top-down, starting a new page when one is full.
class Writer {
 public:
  Writer(HPDF_Doc doc, HPDF_Font regular, HPDF_Font mono)
      : doc_(doc), regular_(regular), mono_(mono) {
    NewPage();
  }
  void Heading(const std::string& text) {
    Gap(6);
    Line(text, regular_, 13);
  }
  void Text(const std::string& text, float size = 10) {
    Line(text, regular_, size);
  }
  void Mono(const std::string& text, float size = 7.5) {
    Line(text, mono_, size);
  }
  void Gap(float points) { y_ -= points; }

 private:
  static constexpr float kLeft = 50;
  static constexpr float kTop = 800;
  static constexpr float kBottom = 50;

  void NewPage() {
    page_ = HPDF_AddPage(doc_);
    HPDF_Page_SetSize(page_, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
    y_ = kTop;
  }
  void Line(const std::string& text, HPDF_Font font, float size) {
    if (y_ - size < kBottom) NewPage();
    y_ -= size + 4;
    HPDF_Page_BeginText(page_);
    HPDF_Page_SetFontAndSize(page_, font, size);
    HPDF_Page_TextOut(page_, kLeft, y_, Utf8ToCp1252(text).c_str());
    HPDF_Page_EndText(page_);
  }

  HPDF_Doc doc_;
  HPDF_Page page_ = nullptr;
  HPDF_Font regular_, mono_;
  float y_ = kTop;
};

class Times {
 public:
  explicit Times(const Words& w) : words_(w) {
    oslo_ok_ = absl::LoadTimeZone("Europe/Oslo", &oslo_);
  }
  // "23.11.2026 13:00:00 norsk tid (2026-11-23T12:00:00.000Z)".
  std::string Both(int64_t ms) const {
    const std::string utc = FormatRfc3339(ms);
    if (!oslo_ok_) return utc;
    return absl::StrCat(
        absl::FormatTime("%d.%m.%Y %H:%M:%S", absl::FromUnixMillis(ms), oslo_),
        " ", words_.local_time, " (", utc, ")");
  }

 private:
  const Words& words_;
  absl::TimeZone oslo_;
  bool oslo_ok_ = false;
};

// D:YYYYMMDDHHmmSSZ, the PDF date of the Info dictionary.
std::string PdfDate(int64_t ms) {
  return absl::FormatTime("D:%Y%m%d%H%M%SZ", absl::FromUnixMillis(ms),
                          absl::UTCTimeZone());
}

// The page content made by libharu, with embedded TrueType fonts.
absl::StatusOr<std::string> Layout(const EvidenceDocument& doc,
                                   const Words& w) {
  const store::LetterRecord& letter = *doc.letter;
  HaruErrors error;
  std::unique_ptr<std::remove_pointer_t<HPDF_Doc>, void (*)(HPDF_Doc)> pdf(
      HPDF_New(HaruErrors::Record, &error), HPDF_Free);
  if (pdf == nullptr) {
    return absl::InternalError("PDF: cannot start a document");
  }
  // Fonts are compressed; page text stays readable in the file.
  HPDF_SetCompressionMode(pdf.get(), HPDF_COMP_METADATA);
  const char* regular_name =
      HPDF_LoadTTFontFromFile(pdf.get(), doc.font_file.c_str(), HPDF_TRUE);
  const char* mono_name =
      HPDF_LoadTTFontFromFile(pdf.get(), doc.mono_font_file.c_str(), HPDF_TRUE);
  if (regular_name == nullptr || mono_name == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("evidence document: cannot load the fonts ", doc.font_file,
                     " and ", doc.mono_font_file));
  }
  HPDF_Font regular = HPDF_GetFont(pdf.get(), regular_name, "CP1252");
  HPDF_Font mono = HPDF_GetFont(pdf.get(), mono_name, "CP1252");
  const Times times(w);
  {
    Writer out(pdf.get(), regular, mono);
    out.Heading(w.title);
    out.Text(w.intro1);
    out.Text(w.intro2);
    out.Text(w.intro3);
    out.Heading(w.letter);
    out.Text(absl::StrCat(w.letter_id, ": ", letter.id));
    out.Text(absl::StrCat(
        w.sender, ": ",
        doc.sender_name.empty()
            ? letter.tenant
            : absl::StrCat(doc.sender_name, " (", letter.tenant, ")")));
    out.Text(absl::StrCat(w.reference, ": ", letter.client_reference));
    out.Text(absl::StrCat(w.subject, ": ", letter.spec.title()));
    const auto& r = letter.spec.recipient();
    out.Text(absl::StrCat(
        w.recipient, ": ",
        r.has_person()
            ? absl::StrCat(w.person, " ", MaskPersonNumber(r.person()))
            : absl::StrCat(w.organisation, " ", r.organisation())));
    out.Text(
        absl::StrCat(w.submitted, ": ", times.Both(letter.create_time_ms)));
    out.Heading(w.documents);
    for (const auto& d : letter.documents) {
      out.Text(absl::StrCat(d.file_name(), " (", d.media_type(), ", ",
                            d.size_bytes(), " ", w.bytes, ")"));
      out.Mono("  SHA-256 " + d.sha256());
    }
    out.Heading(w.journey);
    for (const auto& rec : *doc.receipts) {
      const Json p = PayloadOf(rec.jws);
      const std::string provider =
          p.contains("provider") && p["provider"].is_string()
              ? p["provider"].get<std::string>()
              : "";
      out.Text(absl::StrCat(rec.sequence, ". ", times.Both(rec.time_ms)));
      out.Text(
          absl::StrCat("     ", v1::Letter::State_Name(rec.state), " (",
                       receipts::EvidenceTypeOf(rec.state), ")",
                       rec.channel.empty()
                           ? ""
                           : absl::StrCat(", ", w.channel, " ", rec.channel),
                       provider.empty()
                           ? ""
                           : absl::StrCat(", ", w.provider, " ", provider)),
          9);
      if (!rec.reason.empty()) out.Text("     " + rec.reason, 9);
      out.Mono(absl::StrCat("     SHA-256 ", rec.sha256_hex, "  leaf ",
                            rec.leaf_index));
    }
    out.Heading(w.log);
    out.Text(absl::StrCat(w.head, " ", doc.head.tree_size, ", ",
                          times.Both(doc.head.time_ms)));
    out.Mono("Root hash " + absl::BytesToHexString(doc.head.root_hash));
    if (!doc.receipts->empty()) {
      const std::string fp = SignerFingerprint(doc.receipts->back().jws);
      out.Text(absl::StrCat(w.signing, ", ", w.fingerprint, ":"));
      out.Mono(fp.empty() ? "-" : fp);
    }
    out.Text(absl::StrCat(w.made, ": ", times.Both(doc.now_ms)));
    out.Heading(w.verify);
    out.Mono(w.verify1, 8);
    out.Mono(w.verify2, 8);
    out.Mono(w.verify3, 8);
  }
  if (error.code != 0) {
    return absl::InternalError(absl::StrCat("PDF: libharu error 0x",
                                            absl::Hex(error.code), " detail ",
                                            error.detail));
  }
  if (HPDF_SaveToStream(pdf.get()) != HPDF_OK) {
    return absl::InternalError("PDF: cannot write the document");
  }
  return HaruStreamBytes(pdf.get());
}

std::string Xmp(const std::string& title, const std::string& lang,
                int64_t now_ms) {
  const std::string when = FormatRfc3339(now_ms);
  return absl::StrCat(
      "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
      "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
      "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
      "<rdf:Description rdf:about=\"\"\n"
      "  xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\"\n"
      "  xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
      "  xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
      "  xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\">\n"
      "<pdfaid:part>3</pdfaid:part>\n"
      "<pdfaid:conformance>B</pdfaid:conformance>\n"
      "<dc:format>application/pdf</dc:format>\n"
      "<dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">",
      XmlEscape(title),
      "</rdf:li></rdf:Alt></dc:title>\n"
      "<dc:language><rdf:Bag><rdf:li>",
      lang,
      "</rdf:li></rdf:Bag></dc:language>\n"
      "<xmp:CreateDate>",
      when, "</xmp:CreateDate>\n<xmp:ModifyDate>", when,
      "</xmp:ModifyDate>\n<xmp:CreatorTool>Utpost</xmp:CreatorTool>\n"
      "<pdf:Producer>Utpost</pdf:Producer>\n"
      "</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n"
      "<?xpacket end=\"w\"?>");
}

// Turns the libharu output into PDF/A-3b: XMP identification, the sRGB
// output intent, the receipts as an associated file, an Info dictionary
// that agrees with the XMP, PDF 1.7 and a file identifier.
absl::StatusOr<std::string> MakePdfA(const std::string& layout,
                                     const EvidenceDocument& doc,
                                     const std::string& title,
                                     const std::string& icc) {
  try {
    QPDF pdf;
    pdf.setSuppressWarnings(true);
    pdf.processMemoryFile("evidence", layout.data(), layout.size());
    QPDFObjectHandle root = pdf.getRoot();

    QPDFObjectHandle xmp =
        QPDFObjectHandle::newStream(&pdf, Xmp(title, doc.language, doc.now_ms));
    xmp.getDict().replaceKey("/Type", QPDFObjectHandle::newName("/Metadata"));
    xmp.getDict().replaceKey("/Subtype", QPDFObjectHandle::newName("/XML"));
    root.replaceKey("/Metadata", xmp);

    QPDFObjectHandle profile = QPDFObjectHandle::newStream(&pdf, icc);
    profile.getDict().replaceKey("/N", QPDFObjectHandle::newInteger(3));
    QPDFObjectHandle intent = QPDFObjectHandle::newDictionary();
    intent.replaceKey("/Type", QPDFObjectHandle::newName("/OutputIntent"));
    intent.replaceKey("/S", QPDFObjectHandle::newName("/GTS_PDFA1"));
    intent.replaceKey("/OutputConditionIdentifier",
                      QPDFObjectHandle::newString("sRGB IEC61966-2.1"));
    intent.replaceKey("/Info",
                      QPDFObjectHandle::newString("sRGB IEC61966-2.1"));
    intent.replaceKey("/DestOutputProfile", profile);
    root.replaceKey("/OutputIntents", QPDFObjectHandle::newArray(
                                          {pdf.makeIndirectObject(intent)}));

    auto stream =
        QPDFEFStreamObjectHelper::createEFStream(pdf, doc.export_text);
    stream.setSubtype("application/jsonl");
    stream.setCreationDate(PdfDate(doc.now_ms));
    stream.setModDate(PdfDate(doc.now_ms));
    auto spec = QPDFFileSpecObjectHelper::createFileSpec(
        pdf, kEvidenceAttachment, stream);
    spec.setDescription(
        "Signed receipts and inclusion proofs (utpost-receipt-log-export/2)");
    spec.getObjectHandle().replaceKey("/AFRelationship",
                                      QPDFObjectHandle::newName("/Data"));
    QPDFEmbeddedFileDocumentHelper files(pdf);
    files.replaceEmbeddedFile(kEvidenceAttachment, spec);
    root.replaceKey("/AF",
                    QPDFObjectHandle::newArray({spec.getObjectHandle()}));

    QPDFObjectHandle info = QPDFObjectHandle::newDictionary();
    info.replaceKey("/Title", QPDFObjectHandle::newUnicodeString(title));
    info.replaceKey("/Producer", QPDFObjectHandle::newString("Utpost"));
    info.replaceKey("/Creator", QPDFObjectHandle::newString("Utpost"));
    info.replaceKey("/CreationDate",
                    QPDFObjectHandle::newString(PdfDate(doc.now_ms)));
    info.replaceKey("/ModDate",
                    QPDFObjectHandle::newString(PdfDate(doc.now_ms)));
    pdf.getTrailer().replaceKey("/Info", pdf.makeIndirectObject(info));

    QPDFWriter writer(pdf);
    writer.setOutputMemory();
    writer.setMinimumPDFVersion("1.7");
    writer.forcePDFVersion("1.7");
    writer.setCompressStreams(false);
    writer.setDecodeLevel(qpdf_dl_none);
    writer.setObjectStreamMode(qpdf_o_disable);
    writer.write();
    std::shared_ptr<Buffer> buffer = writer.getBufferSharedPointer();
    return std::string(reinterpret_cast<const char*>(buffer->getBuffer()),
                       buffer->getSize());
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("evidence document: qpdf: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<std::string> RenderEvidencePdf(const EvidenceDocument& doc) {
  if (doc.letter == nullptr || doc.receipts == nullptr) {
    return absl::InternalError("evidence document: no letter");
  }
  const Words* w = nullptr;
  if (doc.language == "nb" || doc.language.empty()) {
    w = &kBokmal;
  } else if (doc.language == "en") {
    w = &kEnglish;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("language: \"", doc.language,
                     "\" is not offered; use \"nb\" (bokmål) or \"en\""));
  }
  EvidenceDocument d = doc;
  if (d.language.empty()) d.language = "nb";
  auto icc = ReadAll(d.icc_profile_file, "ICC profile");
  if (!icc.ok()) return icc.status();
  auto layout = Layout(d, *w);
  if (!layout.ok()) return layout.status();
  return MakePdfA(*layout, d, absl::StrCat(w->title, ", ", d.letter->id), *icc);
}

}  // namespace utpost::api
