#include "cli/stats_report.h"

#include <hpdf.h>

#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/haru_errors.h"
#include "common/text.h"

namespace utpost::cli {
namespace {

constexpr float kLeft = 56;
constexpr float kWidth = 483;  // A4 width 595 less the margins.

std::string Amount(int64_t minor, const std::string& currency) {
  const char* sign = minor < 0 ? "-" : "";
  const int64_t a = minor < 0 ? -minor : minor;
  return absl::StrFormat("%s%d.%02d %s", sign, a / 100, a % 100, currency);
}

int64_t Digital(const v1::PeriodFigures& p) {
  int64_t n = 0;
  for (const auto& c : p.channels()) {
    if (c.channel() != "print") n += c.letters();
  }
  return n;
}

int64_t Print(const v1::PeriodFigures& p) {
  for (const auto& c : p.channels()) {
    if (c.channel() == "print") return c.letters();
  }
  return 0;
}

class Page {
 public:
  Page(HPDF_Doc doc, HPDF_Font regular, HPDF_Font bold)
      : page_(HPDF_AddPage(doc)), regular_(regular), bold_(bold) {
    HPDF_Page_SetSize(page_, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
  }

  void Text(float x, float y, const std::string& s, float size,
            bool bold = false) {
    HPDF_Page_BeginText(page_);
    HPDF_Page_SetFontAndSize(page_, bold ? bold_ : regular_, size);
    HPDF_Page_TextOut(page_, x, y, Utf8ToCp1252(s).c_str());
    HPDF_Page_EndText(page_);
  }

  void Box(float x, float y, float w, float h, float r, float g, float b) {
    HPDF_Page_SetRGBFill(page_, r, g, b);
    HPDF_Page_Rectangle(page_, x, y, w, h);
    HPDF_Page_Fill(page_);
    HPDF_Page_SetRGBFill(page_, 0, 0, 0);
  }

  void Rule(float x0, float y0, float x1, float y1) {
    HPDF_Page_SetLineWidth(page_, 0.5);
    HPDF_Page_MoveTo(page_, x0, y0);
    HPDF_Page_LineTo(page_, x1, y1);
    HPDF_Page_Stroke(page_);
  }

 private:
  HPDF_Page page_;
  HPDF_Font regular_, bold_;
};

struct Series {
  std::string label;
  float r, g, b;
  std::vector<double> values;
};

// A bar chart with a title, one group of bars per month, at `top` (its
// upper edge), `height` high; returns the y below it.
float BarChart(Page& page, float top, float height, const std::string& title,
               const std::vector<std::string>& months,
               const std::vector<Series>& series,
               const std::string& unit_of_max, double fixed_max = 0) {
  page.Text(kLeft, top, title, 12, true);
  const float base = top - height;
  const float plot_top = top - 18;
  double max = fixed_max;
  for (const Series& s : series) {
    for (double v : s.values) max = std::max(max, v);
  }
  page.Rule(kLeft, base, kLeft + kWidth, base);
  page.Text(
      kLeft + kWidth - 120, top,
      absl::StrCat("scale 0 to ", max > 0 ? absl::StrFormat("%.6g", max) : "0",
                   unit_of_max),
      8);
  const size_t n = std::max<size_t>(months.size(), 1);
  const float group = kWidth / static_cast<float>(n);
  const float bar = std::min(
      28.0f, std::max(1.0f, (group - 4) / static_cast<float>(series.size())));
  for (size_t i = 0; i < months.size(); ++i) {
    const float x0 = kLeft + group * static_cast<float>(i) + 2;
    for (size_t k = 0; k < series.size(); ++k) {
      const double v = i < series[k].values.size() ? series[k].values[i] : 0;
      const float h =
          max > 0 ? static_cast<float>(v / max) * (plot_top - base) : 0;
      if (h > 0) {
        page.Box(x0 + bar * static_cast<float>(k), base, bar - 1, h,
                 series[k].r, series[k].g, series[k].b);
      }
    }
    // "03" under each month, the year once in the title's period.
    page.Text(x0, base - 10, months[i].substr(5), 7);
  }
  float x = kLeft;
  for (const Series& s : series) {
    page.Box(x, base - 24, 8, 8, s.r, s.g, s.b);
    page.Text(x + 12, base - 23, s.label, 8);
    x += 150;
  }
  return base - 44;
}

}  // namespace

absl::StatusOr<std::string> StatisticsReportPdf(
    const v1::Statistics& stats, const v1::TenantStatistics& tenant) {
  HaruErrors error;
  std::unique_ptr<std::remove_pointer_t<HPDF_Doc>, void (*)(HPDF_Doc)> pdf(
      HPDF_New(HaruErrors::Record, &error), HPDF_Free);
  if (!pdf) return absl::InternalError("report: libharu could not start");
  HPDF_SetCompressionMode(pdf.get(), HPDF_COMP_ALL);
  HPDF_SetInfoAttr(pdf.get(), HPDF_INFO_CREATOR, "utpostctl report");
  const std::string who =
      tenant.name().empty()
          ? tenant.tenant()
          : absl::StrCat(tenant.name(), " (", tenant.tenant(), ")");
  HPDF_SetInfoAttr(pdf.get(), HPDF_INFO_TITLE,
                   Utf8ToCp1252(absl::StrCat("Digital post ", who)).c_str());
  HPDF_Font regular = HPDF_GetFont(pdf.get(), "Helvetica", "WinAnsiEncoding");
  HPDF_Font bold = HPDF_GetFont(pdf.get(), "Helvetica-Bold", "WinAnsiEncoding");
  Page page(pdf.get(), regular, bold);

  const v1::PeriodFigures& t = tenant.total();
  float y = 790;
  page.Text(kLeft, y, absl::StrCat("Digital post: ", who), 18, true);
  y -= 20;
  page.Text(kLeft, y,
            absl::StrCat("Period ", stats.from_date(), " to ", stats.to_date(),
                         " (exclusive), months in ", stats.time_zone()),
            10);
  y -= 26;
  const double digital_share =
      t.sent() > 0 ? static_cast<double>(Digital(t)) / t.sent() : 0.0;
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"Letters", absl::StrCat(t.letters())},
      {"Sent", absl::StrCat(t.sent())},
      {"Sent digitally",
       absl::StrFormat("%d (%.1f%%)", Digital(t), digital_share * 100)},
      {"Sent to print (envelopes)", absl::StrCat(Print(t))},
      {"Printed sheets",
       t.sheets_unknown() > 0
           ? absl::StrFormat("%d (%d letters sent without a sheet count)",
                             t.sheets(), t.sheets_unknown())
           : absl::StrCat(t.sheets())},
      {"Read rate",
       t.digitally_delivered() > 0
           ? absl::StrFormat("%.1f%% of %d delivered digitally",
                             t.read_rate() * 100, t.digitally_delivered())
           : std::string("-")},
      {"Returned post", absl::StrCat(t.returned())},
      {"Failed", absl::StrCat(t.failed())},
      {"Cost", stats.priced() ? Amount(t.cost(), stats.currency())
                              : std::string("no unit prices configured")},
      {"Cost had all gone to print",
       stats.priced() ? Amount(t.cost_all_print(), stats.currency())
                      : std::string("-")},
      {"Cost saved", stats.priced() ? Amount(t.cost_saved(), stats.currency())
                                    : std::string("-")},
  };
  for (const auto& [label, value] : rows) {
    page.Text(kLeft, y, label, 10);
    page.Text(kLeft + 200, y, value, 10, true);
    y -= 14;
  }
  y -= 16;

  std::vector<std::string> months;
  Series digital{"Digital", 0.16f, 0.44f, 0.70f, {}};
  Series print{"Print", 0.85f, 0.45f, 0.15f, {}};
  Series read{"Read rate (%)", 0.25f, 0.60f, 0.30f, {}};
  Series saved{absl::StrCat("Cost saved (", stats.currency(), ")"),
               0.25f,
               0.60f,
               0.30f,
               {}};
  for (const v1::PeriodFigures& m : tenant.months()) {
    months.push_back(m.month());
    digital.values.push_back(static_cast<double>(Digital(m)));
    print.values.push_back(static_cast<double>(Print(m)));
    read.values.push_back(m.read_rate() * 100);
    saved.values.push_back(static_cast<double>(m.cost_saved()) / 100);
  }
  y = BarChart(page, y, 150, "Letters sent per month: digital and print",
               months, {digital, print}, " letters");
  y = BarChart(page, y, 110, "Read rate per month", months, {read}, " %", 100);
  BarChart(page, y, 110, "Cost saved per month against all to print", months,
           {saved}, absl::StrCat(" ", stats.currency()));

  if (HPDF_SaveToStream(pdf.get()) != HPDF_OK || error.code != 0) {
    return absl::InternalError(absl::StrFormat(
        "report: libharu error 0x%04X (detail %u)", error.code, error.detail));
  }
  return HaruStreamBytes(pdf.get());
}

}  // namespace utpost::cli
