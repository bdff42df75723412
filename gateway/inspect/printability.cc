#include "gateway/inspect/printability.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFObjGen.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFPageObjectHelper.hh>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/mask.h"
#include "gateway/inspect/quiet_qpdf.h"

namespace utpost::inspect {
namespace {

constexpr double kPointsPerMm = 72.0 / 25.4;
constexpr double kA4WidthMm = 210.0;
constexpr double kA4HeightMm = 297.0;
// Form XObjects nested deeper than this are not followed. Each form is
// looked through once per document (SeenForms), so this bounds only the
// recursion.
constexpr int kMaxFormDepth = 12;

// The problems found, in order, up to a limit; the rest are counted.
class Problems {
 public:
  explicit Problems(int max) : max_(std::max(1, max)) {}
  void Add(std::string problem) {
    if (static_cast<int>(listed_.size()) < max_) {
      listed_.push_back(std::move(problem));
    } else {
      ++more_;
    }
  }
  bool empty() const { return listed_.empty(); }
  std::string Text() const {
    std::string text = absl::StrJoin(listed_, "; ");
    if (more_ > 0) absl::StrAppend(&text, "; and ", more_, " more");
    return text;
  }

 private:
  const int max_;
  std::vector<std::string> listed_;
  int more_ = 0;
};

std::string Mask(std::string_view text) { return MaskPersonNumbersIn(text); }

std::string Mm(double points) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f", points / kPointsPerMm);
  return buffer;
}

// "1.7" -> 17, "2.0" -> 20; 0 when unreadable.
int VersionNumber(absl::string_view version) {
  size_t dot = version.find('.');
  int major = 0;
  int minor = 0;
  if (dot == absl::string_view::npos ||
      !absl::SimpleAtoi(version.substr(0, dot), &major) ||
      !absl::SimpleAtoi(version.substr(dot + 1, 1), &minor)) {
    return 0;
  }
  return major * 10 + minor;
}

// Collects the font resource names selected with Tf and the XObject names
// drawn with Do in one content stream.
class ResourceUse final : public QPDFObjectHandle::ParserCallbacks {
 public:
  void handleObject(QPDFObjectHandle object) override {
    if (!object.isOperator()) {
      operands_.push_back(object);
      return;
    }
    const std::string op = object.getOperatorValue();
    if (op == "Tf" && operands_.size() >= 2 && operands_[0].isName()) {
      fonts.insert(operands_[0].getName());
    } else if (op == "Do" && !operands_.empty() && operands_[0].isName()) {
      xobjects.insert(operands_[0].getName());
    }
    operands_.clear();
  }
  void handleEOF() override {}

  std::set<std::string> fonts;
  std::set<std::string> xobjects;

 private:
  std::vector<QPDFObjectHandle> operands_;
};

bool HasFontFile(QPDFObjectHandle descriptor) {
  if (!descriptor.isDictionary()) return false;
  for (const char* key : {"/FontFile", "/FontFile2", "/FontFile3"}) {
    if (descriptor.getKey(key).isStream()) return true;
  }
  return false;
}

bool IsEmbedded(QPDFObjectHandle font) {
  if (!font.isDictionary()) return false;
  QPDFObjectHandle subtype = font.getKey("/Subtype");
  if (subtype.isName() && subtype.getName() == "/Type3") return true;
  if (subtype.isName() && subtype.getName() == "/Type0") {
    QPDFObjectHandle descendants = font.getKey("/DescendantFonts");
    if (!descendants.isArray() || descendants.getArrayNItems() < 1) {
      return false;
    }
    return HasFontFile(descendants.getArrayItem(0).getKey("/FontDescriptor"));
  }
  return HasFontFile(font.getKey("/FontDescriptor"));
}

std::string FontName(QPDFObjectHandle font, const std::string& resource) {
  if (font.isDictionary()) {
    QPDFObjectHandle base = font.getKey("/BaseFont");
    if (base.isName()) return base.getName().substr(1);
  }
  return resource.substr(1);  // Without the leading '/'.
}

// The form XObjects of one document already looked through, each with the
// resources it was drawn with (a form without its own uses its drawer's).
// A font is named once per document, at its first page, so a form seen at
// an earlier page adds nothing later: each is parsed once, and forms that
// draw themselves or each other cost linear time.
struct FormKey {
  QPDFObjGen form;
  QPDFObjGen resources;  // Of the object holding them when they are direct.
  bool operator<(const FormKey& o) const {
    return form < o.form || (form == o.form && resources < o.resources);
  }
};
using SeenForms = std::set<FormKey>;

// Adds to `missing` the names of the fonts that the content of `contents`
// (a page or a form XObject, parsed by `parse`) uses without embedding,
// following the forms it draws. `resources_id` identifies `resources`.
using ContentParser = std::function<void(QPDFObjectHandle::ParserCallbacks*)>;

void FindUnembeddedFonts(const ContentParser& parse, QPDFObjectHandle resources,
                         QPDFObjGen resources_id, int depth, SeenForms* seen,
                         std::set<std::string>* missing) {
  ResourceUse use;
  parse(&use);
  QPDFObjectHandle fonts =
      resources.isDictionary() ? resources.getKey("/Font") : QPDFObjectHandle();
  for (const std::string& name : use.fonts) {
    QPDFObjectHandle font =
        fonts.isDictionary() ? fonts.getKey(name) : QPDFObjectHandle::newNull();
    if (!IsEmbedded(font)) missing->insert(FontName(font, name));
  }
  if (depth >= kMaxFormDepth) return;
  QPDFObjectHandle xobjects = resources.isDictionary()
                                  ? resources.getKey("/XObject")
                                  : QPDFObjectHandle();
  if (!xobjects.isDictionary()) return;
  for (const std::string& name : use.xobjects) {
    QPDFObjectHandle form = xobjects.getKey(name);
    if (!form.isFormXObject()) continue;
    QPDFObjectHandle form_resources = form.getDict().getKey("/Resources");
    QPDFObjGen form_resources_id = form.getObjGen();
    if (form_resources.isDictionary()) {
      if (form_resources.isIndirect()) {
        form_resources_id = form_resources.getObjGen();
      }
    } else {
      form_resources = resources;
      form_resources_id = resources_id;
    }
    if (!seen->insert({form.getObjGen(), form_resources_id}).second) continue;
    FindUnembeddedFonts(
        [&form](QPDFObjectHandle::ParserCallbacks* c) {
          form.parseAsContents(c);
        },
        form_resources, form_resources_id, depth + 1, seen, missing);
  }
}

// The page's size as printed, in points, after /Rotate.
std::pair<double, double> VisibleSize(QPDFPageObjectHelper& page) {
  QPDFObjectHandle box = page.getCropBox();
  if (!box.isRectangle()) return {0, 0};
  QPDFObjectHandle::Rectangle r = box.getArrayAsRectangle();
  double width = std::fabs(r.urx - r.llx);
  double height = std::fabs(r.ury - r.lly);
  QPDFObjectHandle rotate = page.getAttribute("/Rotate", false);
  if (rotate.isInteger() && ((rotate.getIntValue() % 180) + 180) % 180 == 90) {
    std::swap(width, height);
  }
  return {width, height};
}

bool IsA4Portrait(double width, double height) {
  const double tolerance = kA4ToleranceMm * kPointsPerMm;
  return std::fabs(width - kA4WidthMm * kPointsPerMm) <= tolerance &&
         std::fabs(height - kA4HeightMm * kPointsPerMm) <= tolerance;
}

// Checks one document; returns its page count (0 when it cannot be read).
int CheckDocument(int index, const PrintableDocument& document,
                  Problems* problems) {
  const std::string who =
      absl::StrCat("documents[", index, "] (", Mask(document.file_name), ")");
  try {
    QPDF pdf;
    OpenQuietly(pdf, document.content);

    std::string version = pdf.getPDFVersion();
    QPDFObjectHandle catalog_version = pdf.getRoot().getKey("/Version");
    if (catalog_version.isName() &&
        VersionNumber(catalog_version.getName().substr(1)) >
            VersionNumber(version)) {
      version = catalog_version.getName().substr(1);
    }
    const int number = VersionNumber(version);
    if (number < 13 || number > 17) {
      problems->Add(absl::StrCat(who, ": PDF version ", version,
                                 ", print takes 1.3 to 1.7"));
    }

    std::vector<QPDFPageObjectHelper> pages =
        QPDFPageDocumentHelper(pdf).getAllPages();
    std::set<std::string> reported_fonts;
    SeenForms seen_forms;
    for (size_t i = 0; i < pages.size(); ++i) {
      QPDFPageObjectHelper& page = pages[i];
      const std::string where = absl::StrCat(who, " page ", i + 1);
      auto [width, height] = VisibleSize(page);
      if (!IsA4Portrait(width, height)) {
        problems->Add(absl::StrCat(where, ": ", Mm(width), " x ", Mm(height),
                                   " mm, not A4 portrait (210 x 297 mm)"));
      }
      std::set<std::string> missing;
      try {
        QPDFObjectHandle resources = page.getAttribute("/Resources", false);
        FindUnembeddedFonts(
            [&page](QPDFObjectHandle::ParserCallbacks* c) {
              page.parseContents(c);
            },
            resources,
            resources.isIndirect() ? resources.getObjGen()
                                   : page.getObjectHandle().getObjGen(),
            0, &seen_forms, &missing);
      } catch (const std::exception& e) {
        problems->Add(absl::StrCat(where, ": content cannot be read"));
        continue;
      }
      for (const std::string& font : missing) {
        if (!reported_fonts.insert(font).second) continue;
        problems->Add(
            absl::StrCat(where, ": font '", Mask(font), "' is not embedded"));
      }
    }
    return static_cast<int>(pages.size());
  } catch (const std::exception& e) {
    problems->Add(absl::StrCat(who, ": cannot be read for print"));
  }
  return 0;
}

}  // namespace

int SheetsFor(const std::vector<int>& page_counts, bool duplex,
              bool cover_page) {
  int sheets = cover_page ? 1 : 0;
  for (int pages : page_counts) sheets += duplex ? (pages + 1) / 2 : pages;
  return sheets;
}

absl::Status CheckPrintable(const std::vector<PrintableDocument>& documents,
                            const PrintabilityOptions& options) {
  Problems problems(options.max_problems);
  std::vector<int> page_counts;
  for (size_t i = 0; i < documents.size(); ++i) {
    page_counts.push_back(
        CheckDocument(static_cast<int>(i), documents[i], &problems));
  }
  const int sheets = SheetsFor(page_counts, options.duplex, options.cover_page);
  if (sheets > options.max_sheets) {
    problems.Add(absl::StrCat(
        "documents: ", sheets, options.duplex ? " sheets (duplex)" : " sheets",
        options.cover_page ? " with the address cover page" : "",
        ", an envelope holds ", options.max_sheets));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("documents: not printable: ", problems.Text()));
}

}  // namespace utpost::inspect
