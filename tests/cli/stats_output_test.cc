// utpostctl stats: the period's shape, the table and the CSV.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/stats_commands.h"
#include "cli/stats_report.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::cli {
namespace {

using ::testing::HasSubstr;

TEST(StatsPeriodShapeTest, YearsMonthsAndRanges) {
  for (const char* ok : {"2026", "2026-03", "2026-01..2026-04",
                         "2026-01-15..2026-02-01", "2026-01..2026-02-10"}) {
    EXPECT_TRUE(LooksLikePeriod(ok)) << ok;
  }
  for (const char* bad :
       {"", "26", "2026-3", "2026..2027", "last-year", "2026-01..", "..2026-02",
        "2026-01-01T00", "2026/01"}) {
    EXPECT_FALSE(LooksLikePeriod(bad)) << bad;
  }
}

v1::Statistics Sample() {
  v1::Statistics s;
  s.set_from_date("2026-03-01");
  s.set_to_date("2026-04-01");
  s.set_time_zone("Europe/Oslo");
  s.set_currency("NOK");
  s.set_priced(true);
  v1::TenantStatistics* t = s.add_tenants();
  t->set_tenant("964338531");
  t->set_name("Bergen, kommune");
  v1::PeriodFigures* m = t->add_months();
  m->set_month("2026-03");
  m->set_letters(4);
  m->set_sent(4);
  for (const char* c : {"digital", "dpi", "altinn", "print"}) {
    v1::ChannelFigure* f = m->add_channels();
    f->set_channel(c);
    f->set_letters(1);
  }
  m->set_digitally_delivered(3);
  m->set_read(1);
  m->set_read_rate(1.0 / 3);
  m->set_delivery_measured(4);
  m->set_delivery_p50_ms(2500);
  m->set_envelopes(1);
  m->set_sheets(3);
  m->set_cost(262050);
  m->set_cost_all_print(960000);
  m->set_cost_saved(697950);
  *t->mutable_total() = *m;
  t->mutable_total()->set_month("");
  return s;
}

TEST(StatsTableTest, NamesTheTenantAndShowsAMonthAndTheTotal) {
  std::ostringstream os;
  PrintStatistics(Sample(), os);
  const std::string out = os.str();
  EXPECT_THAT(out, HasSubstr("Period 2026-03-01 to 2026-04-01 (exclusive, "
                             "Europe/Oslo); amounts in NOK"));
  EXPECT_THAT(out, HasSubstr("Bergen, kommune (964338531)"));
  EXPECT_THAT(out, HasSubstr("33.3%"));
  EXPECT_THAT(out, HasSubstr("2.5s"));
  EXPECT_THAT(out, HasSubstr("2620.50"));
  EXPECT_THAT(out, HasSubstr("6979.50"));
  EXPECT_THAT(out, HasSubstr("  TOTAL "));
  EXPECT_THAT(out, HasSubstr(" ENVEL SHEETS RETUR "));
  EXPECT_THAT(out, HasSubstr("      1      3     0 "));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("no sheet count")));
}

TEST(StatsTableTest, SaysHowManyLettersHaveNoSheetCount) {
  v1::Statistics s = Sample();
  s.mutable_tenants(0)->mutable_total()->set_sheets_unknown(2);
  std::ostringstream os;
  PrintStatistics(s, os);
  EXPECT_THAT(os.str(), HasSubstr("2 sent letters have no sheet count"));
}

TEST(StatsCsvTest, OneRowAMonthAndATotalWithQuotedNames) {
  std::ostringstream os;
  PrintStatisticsCsv(Sample(), os);
  std::istringstream lines(os.str());
  std::string header, month, total, extra;
  std::getline(lines, header);
  std::getline(lines, month);
  std::getline(lines, total);
  EXPECT_FALSE(std::getline(lines, extra));
  EXPECT_EQ(header.substr(0, 30), "tenant,name,month,letters,sent");
  EXPECT_EQ(month.substr(0, 45),
            "964338531,\"Bergen, kommune\",2026-03,4,4,0,0,0");
  EXPECT_THAT(header, HasSubstr(",envelopes,sheets,sheets_unknown,returned,"));
  EXPECT_THAT(month, HasSubstr(",3,1,0.3333,4,2500,0,1,3,0,0,NOK,262050,"
                               "960000,697950"));
  EXPECT_THAT(total, HasSubstr(",total,4,"));
}

TEST(StatsReportTest, IsAPdfWhateverTheName) {
  v1::Statistics s = Sample();
  s.mutable_tenants(0)->set_name("Prøve kommune \xF0\x9F\x93\xAE");
  auto pdf = StatisticsReportPdf(s, s.tenants(0));
  ASSERT_THAT(pdf, ::utpost::testing::IsOk());
  EXPECT_EQ(pdf->substr(0, 5), "%PDF-");
  EXPECT_THAT(*pdf, HasSubstr("%%EOF"));
  if (const char* dir = std::getenv("UTPOST_REPORT_SAMPLE_DIR")) {
    std::ofstream(std::string(dir) + "/report.pdf", std::ios::binary) << *pdf;
  }
}

}  // namespace
}  // namespace utpost::cli
