#include "cli/stats_commands.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/arguments.h"
#include "cli/stats_report.h"
#include "utpost/v1/stats.grpc.pb.h"

namespace utpost::cli {
namespace {

bool Digits(const std::string& s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// YYYY, YYYY-MM or YYYY-MM-DD; `parts` how many of them.
bool LooksLikeEnd(const std::string& s, size_t* parts) {
  std::vector<std::string> p = absl::StrSplit(s, '-');
  static const size_t kWidth[3] = {4, 2, 2};
  if (p.empty() || p.size() > 3) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (!Digits(p[i], kWidth[i])) return false;
  }
  *parts = p.size();
  return true;
}

std::string Percent(double fraction) {
  return absl::StrFormat("%.1f%%", fraction * 100.0);
}

std::string Duration(int64_t ms, int64_t measured) {
  if (measured == 0) return "-";
  if (ms < 1000) return absl::StrCat(ms, "ms");
  if (ms < 120 * 1000) return absl::StrFormat("%.1fs", ms / 1000.0);
  if (ms < 120 * 60 * 1000) return absl::StrFormat("%.1fm", ms / 60000.0);
  return absl::StrFormat("%.1fh", ms / 3600000.0);
}

// Minor units as "1234.50".
std::string Amount(int64_t minor) {
  const char* sign = minor < 0 ? "-" : "";
  const int64_t a = minor < 0 ? -minor : minor;
  return absl::StrFormat("%s%d.%02d", sign, a / 100, a % 100);
}

int64_t Channel(const v1::PeriodFigures& p, const std::string& name) {
  for (const auto& c : p.channels()) {
    if (c.channel() == name) return c.letters();
  }
  return 0;
}

const char* const kChannelNames[] = {"digital", "dpi", "altinn", "print"};

void Row(const std::string& label, const v1::PeriodFigures& p,
         std::ostream& os) {
  os << absl::StrFormat("  %-8s %7d %7d", label, p.letters(), p.sent());
  for (const char* c : kChannelNames) {
    os << absl::StrFormat(" %7d", Channel(p, c));
  }
  os << absl::StrFormat(
      " %6s %8s %6d %6d %5d %6d %12s %12s\n",
      p.digitally_delivered() > 0 ? Percent(p.read_rate()) : "-",
      Duration(p.delivery_p50_ms(), p.delivery_measured()), p.envelopes(),
      p.sheets(), p.returned(), p.failed(), Amount(p.cost()),
      Amount(p.cost_saved()));
}

// A CSV field: quoted when it holds a comma, quote or line break.
std::string Field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void CsvRow(const v1::TenantStatistics& t, const std::string& month,
            const v1::PeriodFigures& p, const std::string& currency,
            std::ostream& os) {
  os << Field(t.tenant()) << ',' << Field(t.name()) << ',' << month << ','
     << p.letters() << ',' << p.sent() << ',' << p.in_progress() << ','
     << p.failed() << ',' << p.cancelled();
  for (const char* c : kChannelNames) os << ',' << Channel(p, c);
  os << ',' << p.digitally_delivered() << ',' << p.read() << ','
     << absl::StrFormat("%.4f", p.read_rate()) << ',' << p.delivery_measured()
     << ',' << p.delivery_p50_ms() << ',' << p.delivery_mean_ms() << ','
     << p.envelopes() << ',' << p.sheets() << ',' << p.sheets_unknown() << ','
     << p.returned() << ',' << Field(currency) << ',' << p.cost() << ','
     << p.cost_all_print() << ',' << p.cost_saved() << "\n";
}

}  // namespace

bool LooksLikePeriod(const std::string& text) {
  if (text.size() > 40) return false;
  const size_t dots = text.find("..");
  size_t a = 0, b = 0;
  if (dots == std::string::npos) return LooksLikeEnd(text, &a);
  return LooksLikeEnd(text.substr(0, dots), &a) &&
         LooksLikeEnd(text.substr(dots + 2), &b) && a > 1 && b > 1;
}

void PrintStatistics(const v1::Statistics& s, std::ostream& os) {
  os << "Period " << s.from_date() << " to " << s.to_date() << " (exclusive, "
     << s.time_zone() << ")";
  if (s.priced()) {
    os << "; amounts in " << s.currency();
  } else {
    os << "; no unit prices configured (pricing): costs are 0";
  }
  os << "\n";
  if (s.tenants_size() == 0) os << "No tenants.\n";
  for (const v1::TenantStatistics& t : s.tenants()) {
    os << "\n"
       << (t.name().empty() ? t.tenant()
                            : absl::StrCat(t.name(), " (", t.tenant(), ")"))
       << "\n";
    os << absl::StrFormat(
        "  %-8s %7s %7s %7s %7s %7s %7s %6s %8s %6s %6s %5s %6s %12s %12s\n",
        "MONTH", "LETTERS", "SENT", "DIGITAL", "DPI", "ALTINN", "PRINT", "READ",
        "P50", "ENVEL", "SHEETS", "RETUR", "FAILED", "COST", "SAVED");
    for (const v1::PeriodFigures& m : t.months()) Row(m.month(), m, os);
    Row("TOTAL", t.total(), os);
    if (t.total().sheets_unknown() > 0) {
      os << "  " << t.total().sheets_unknown()
         << " sent letters have no sheet count (submitted before the gateway "
            "kept it): SHEETS and COST leave their sheets out\n";
    }
  }
}

void PrintStatisticsCsv(const v1::Statistics& s, std::ostream& os) {
  os << "tenant,name,month,letters,sent,in_progress,failed,cancelled";
  for (const char* c : kChannelNames) os << ',' << c;
  os << ",digitally_delivered,read,read_rate,delivery_measured,"
        "delivery_p50_ms,delivery_mean_ms,envelopes,sheets,sheets_unknown,"
        "returned,currency,cost,cost_all_print,cost_saved\n";
  for (const v1::TenantStatistics& t : s.tenants()) {
    for (const v1::PeriodFigures& m : t.months()) {
      CsvRow(t, m.month(), m, s.currency(), os);
    }
    CsvRow(t, "total", t.total(), s.currency(), os);
  }
}

StatsCommands::StatsCommands(CLI::App& app) {
  stats_ = app.add_subcommand(
      "stats",
      "letters, channels, read rate, time to delivery and cost per tenant "
      "and month");
  stats_->footer(
      "Months are calendar months in Europe/Oslo; a letter counts in the\n"
      "month it was submitted. Tenants see their own figures; operators any\n"
      "tenant's (--tenant), or every tenant's. ENVEL and SHEETS are the\n"
      "envelopes and sheets of paper sent to print. COST is what the letters\n"
      "sent cost on their channels (print per letter, per sheet and\n"
      "postage), SAVED what sending all of them to print would have cost\n"
      "more (configuration `pricing`).\n"
      "--period: 2026 (a year, the default the current one), 2026-03 (a\n"
      "month), 2026-01..2026-04 or 2026-01-15..2026-02-01 (TO exclusive).\n"
      "Examples:\n"
      "  utpostctl stats --period 2026\n"
      "  utpostctl stats --period 2026-01..2026-07 --csv > h1.csv\n"
      "  utpostctl --cert certs-dev/operator.pem --key certs-dev/operator.key "
      "stats --tenant 964338531 --json");
  stats_->add_option("--tenant", tenant_,
                     "organisation number (operators; default all)");
  stats_->add_option("--period", period_, "YEAR, YEAR-MM or FROM..TO");
  stats_->add_flag("--csv", csv_, "comma-separated values, one row a month");

  report_ = app.add_subcommand(
      "report",
      "a tenant's annual report as a PDF: digital against print, "
      "read rate and cost saved, per month");
  report_->footer(
      "One tenant: a tenant's own (no --tenant needed); an operator names\n"
      "one with --tenant. --period as for stats (default the current year).\n"
      "Example:\n"
      "  utpostctl report --tenant 964338531 --period 2026 -o bergen-2026.pdf");
  report_->add_option("--tenant", report_tenant_,
                      "organisation number (required for operators)");
  report_->add_option("--period", report_period_, "YEAR, YEAR-MM or FROM..TO");
  report_->add_option("-o,--output", report_output_, "the PDF file to write")
      ->required();
}

int StatsCommands::Fetch(const ConnectionOptions& c, const std::string& tenant,
                         const std::string& period,
                         v1::Statistics* response) const {
  if (!tenant.empty()) {
    if (auto s = CheckTenant(tenant, "--tenant"); !s.ok()) {
      std::cerr << "utpostctl: " << s.message() << "\n";
      return kUsage;
    }
  }
  if (!period.empty() && !LooksLikePeriod(period)) {
    std::cerr << "utpostctl: --period: \"" << period.substr(0, 40)
              << "\" is not YEAR, YEAR-MM or FROM..TO (e.g. 2026, 2026-03, "
                 "2026-01..2026-04, 2026-01-15..2026-02-01)\n";
    return kUsage;
  }
  auto channel = Connect(c);
  if (!channel.ok()) {
    std::cerr << "utpostctl: " << channel.status().message() << "\n";
    return kUsage;
  }
  auto stub = v1::StatsService::NewStub(*channel);
  grpc::ClientContext ctx;
  if (c.timeout_seconds > 0) {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(c.timeout_seconds));
  }
  v1::GetStatisticsRequest request;
  request.set_tenant(tenant);
  request.set_period(period);
  grpc::Status s = stub->GetStatistics(&ctx, request, response);
  if (!s.ok()) return cli::Report(s, c);
  return kOk;
}

int StatsCommands::Report(const ConnectionOptions& c) {
  v1::Statistics stats;
  if (int e = Fetch(c, report_tenant_, report_period_, &stats); e != kOk) {
    return e;
  }
  if (stats.tenants_size() != 1) {
    std::cerr << "utpostctl report: " << stats.tenants_size()
              << " tenants in the answer; name one with --tenant\n";
    return kUsage;
  }
  auto pdf = StatisticsReportPdf(stats, stats.tenants(0));
  if (!pdf.ok()) {
    std::cerr << "utpostctl report: " << pdf.status().message() << "\n";
    return kRefused;
  }
  std::ofstream file(report_output_, std::ios::binary | std::ios::trunc);
  file << *pdf;
  file.close();
  if (!file) {
    std::cerr << "utpostctl report: cannot write " << report_output_ << "\n";
    return kUsage;
  }
  std::cerr << "wrote " << report_output_ << " (" << pdf->size() << " bytes)\n";
  return kOk;
}

bool StatsCommands::Selected() const {
  return stats_->parsed() || report_->parsed();
}

int StatsCommands::Run(const ConnectionOptions& c, const Output& out) {
  if (report_->parsed()) return Report(c);
  if (csv_ && out.json) {
    std::cerr << "utpostctl: --csv and --json: choose one\n";
    return kUsage;
  }
  v1::Statistics response;
  if (int e = Fetch(c, tenant_, period_, &response); e != kOk) return e;
  if (out.json) {
    PrintJson(response);
  } else if (csv_) {
    PrintStatisticsCsv(response, std::cout);
  } else {
    PrintStatistics(response, std::cout);
  }
  return kOk;
}

}  // namespace utpost::cli
