#include "gateway/api/evidence_pdf.h"

#include <hpdf.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/mask.h"
#include "gateway/receipts/receipt_signer.h"

namespace utpost::api {
namespace {

struct PdfError {
  HPDF_STATUS code = 0;
  HPDF_STATUS detail = 0;
};

void OnPdfError(HPDF_STATUS code, HPDF_STATUS detail, void* user) {
  auto* e = static_cast<PdfError*>(user);
  if (e->code == 0) {
    e->code = code;
    e->detail = detail;
  }
}

// The base-14 fonts speak WinAnsi (CP1252): Latin-1 letters such as æ, ø
// and å map one to one; anything else prints as '?'.
std::string ToWinAnsi(const std::string& utf8) {
  std::string out;
  for (size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < utf8.size()) {
      const unsigned cp =
          ((c & 0x1F) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3F);
      out.push_back(cp >= 0xA0 && cp <= 0xFF ? static_cast<char>(cp) : '?');
      i += 2;
    } else {
      out.push_back('?');
      ++i;
      while (i < utf8.size() && (utf8[i] & 0xC0) == 0x80) ++i;
    }
  }
  return out;
}

std::string RecipientText(const v1::Recipient& r) {
  if (r.has_person()) return "person " + MaskPersonNumber(r.person());
  if (r.has_organisation()) return "organisation " + r.organisation();
  return "(none)";
}

// Writes lines top-down, starting a new page when one is full.
class Writer {
 public:
  explicit Writer(HPDF_Doc doc) : doc_(doc) {
    regular_ = HPDF_GetFont(doc_, "Helvetica", "WinAnsiEncoding");
    bold_ = HPDF_GetFont(doc_, "Helvetica-Bold", "WinAnsiEncoding");
    mono_ = HPDF_GetFont(doc_, "Courier", "WinAnsiEncoding");
    NewPage();
  }
  void Heading(const std::string& text) {
    Gap(6);
    Line(text, bold_, 12);
  }
  void Text(const std::string& text, float size = 10) {
    Line(text, regular_, size);
  }
  void Mono(const std::string& text, float size = 8) {
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
    HPDF_Page_TextOut(page_, kLeft, y_, ToWinAnsi(text).c_str());
    HPDF_Page_EndText(page_);
  }

  HPDF_Doc doc_;
  HPDF_Page page_ = nullptr;
  HPDF_Font regular_, bold_, mono_;
  float y_ = kTop;
};

}  // namespace

absl::StatusOr<std::string> RenderEvidencePdf(
    const store::LetterRecord& letter,
    const std::vector<store::ReceiptRecord>& receipts,
    const store::TreeHead& head) {
  PdfError error;
  std::unique_ptr<std::remove_pointer_t<HPDF_Doc>, void (*)(HPDF_Doc)> doc(
      HPDF_New(OnPdfError, &error), HPDF_Free);
  if (doc == nullptr)
    return absl::InternalError("PDF: cannot start a document");
  HPDF_SetInfoAttr(
      doc.get(), HPDF_INFO_TITLE,
      ToWinAnsi("Utpost evidence summary, letter " + letter.id).c_str());
  HPDF_SetInfoAttr(doc.get(), HPDF_INFO_CREATOR, "Utpost");
  {
    Writer w(doc.get());
    w.Heading("Utpost evidence summary");
    w.Text(
        "This page is for reading. The signed receipts in the same bundle are "
        "the evidence;");
    w.Text(
        "check them with `utpostctl audit verify` or the openssl command "
        "line (docs/receipt-log.md).");
    w.Heading("Letter");
    w.Text("Letter id: " + letter.id);
    w.Text("Sender (tenant): " + letter.tenant);
    w.Text("Client reference: " + letter.client_reference);
    w.Text("Title: " + letter.spec.title());
    w.Text("Recipient: " + RecipientText(letter.spec.recipient()));
    w.Text("Submitted: " + FormatRfc3339(letter.create_time_ms));
    w.Heading("Documents");
    for (const auto& d : letter.documents) {
      w.Text(absl::StrCat(d.file_name(), " (", d.media_type(), ", ",
                          d.size_bytes(), " bytes)"));
      w.Mono("  SHA-256 " + d.sha256());
    }
    w.Heading("Journey");
    for (const auto& r : receipts) {
      w.Text(absl::StrCat(r.sequence, ". ", FormatRfc3339(r.time_ms), "  ",
                          v1::Letter::State_Name(r.state), "  (",
                          receipts::EvidenceTypeOf(r.state), ")",
                          r.channel.empty() ? "" : "  channel " + r.channel));
      if (!r.reason.empty()) w.Text("     " + r.reason, 9);
      w.Mono(absl::StrCat("     receipt SHA-256 ", r.sha256_hex, "  leaf ",
                          r.leaf_index));
    }
    w.Heading("Receipt log");
    w.Text(absl::StrCat("Signed tree head: size ", head.tree_size, ", time ",
                        FormatRfc3339(head.time_ms)));
    w.Mono("Root hash " + absl::BytesToHexString(head.root_hash));
  }
  if (error.code != 0) {
    return absl::InternalError(absl::StrCat("PDF: libharu error 0x",
                                            absl::Hex(error.code), " detail ",
                                            error.detail));
  }
  if (HPDF_SaveToStream(doc.get()) != HPDF_OK) {
    return absl::InternalError("PDF: cannot write the document");
  }
  HPDF_ResetStream(doc.get());
  std::string out;
  while (true) {
    HPDF_BYTE buf[8192];
    HPDF_UINT32 n = sizeof(buf);
    HPDF_STATUS s = HPDF_ReadFromStream(doc.get(), buf, &n);
    out.append(reinterpret_cast<const char*>(buf), n);
    if (s == HPDF_STREAM_EOF || n == 0) break;
    if (s != HPDF_OK) return absl::InternalError("PDF: cannot read back");
  }
  return out;
}

}  // namespace utpost::api
