#include "gateway/api/statistics.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gateway/dispatch/routing.h"
#include "spdlog/spdlog.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {
namespace {

using ::utpost::v1::Letter;

const char* const kChannels[] = {
    dispatch::kDigitalChannel, dispatch::kDpiChannel, dispatch::kAltinnChannel,
    dispatch::kPrintChannel};

// Months of one answer at most (ten years).
constexpr int kMaxMonths = 120;

absl::Status BadPeriod(const std::string& text) {
  return absl::InvalidArgumentError(absl::StrCat(
      "period: \"", text.substr(0, 40),
      "\" is not YEAR, YEAR-MM, or FROM..TO (dates YYYY-MM-DD or months "
      "YYYY-MM, TO exclusive)"));
}

bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

// One end of a period: "YYYY", "YYYY-MM" or "YYYY-MM-DD", as the first day
// it names; `unit` is 'y', 'm' or 'd'.
bool ParseEnd(const std::string& s, absl::CivilDay* day, char* unit) {
  std::vector<std::string> parts = absl::StrSplit(s, '-');
  if (parts.size() > 3) return false;
  int v[3] = {0, 1, 1};
  static const size_t kWidth[3] = {4, 2, 2};
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].size() != kWidth[i] || !AllDigits(parts[i]) ||
        !absl::SimpleAtoi(parts[i], &v[i])) {
      return false;
    }
  }
  if (v[0] < 2000 || v[0] > 2999 || v[1] < 1 || v[1] > 12 || v[2] < 1) {
    return false;
  }
  *day = absl::CivilDay(v[0], v[1], v[2]);
  // absl normalises 2026-02-30 to March: refuse it.
  if (day->day() != v[2] || day->month() != v[1]) return false;
  *unit = "ymd"[parts.size() - 1];
  return true;
}

absl::CivilDay After(absl::CivilDay d, char unit) {
  if (unit == 'y') return absl::CivilDay(absl::CivilYear(d) + 1);
  if (unit == 'm') return absl::CivilDay(absl::CivilMonth(d) + 1);
  return d + 1;
}

std::string MonthName(absl::CivilMonth m) {
  return absl::StrFormat("%04d-%02d", m.year(), m.month());
}

std::string DayName(absl::CivilDay d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

bool Sent(Letter::State s) {
  return s == Letter::SENT_DIGITAL || s == Letter::DELIVERED ||
         s == Letter::READ || s == Letter::SENT_PRINT || s == Letter::PRINTED;
}

// Sums of one month (or total) before the ratios are taken.
struct Acc {
  v1::PeriodFigures figures;
  std::vector<int64_t> delivery_ms;
};

void Init(const std::string& month, Acc* acc) {
  acc->figures.set_month(month);
  for (const char* c : kChannels) acc->figures.add_channels()->set_channel(c);
}

void Add(const UnitPrices& prices, const store::LetterFacts& f, Acc* acc) {
  v1::PeriodFigures& p = acc->figures;
  p.set_letters(p.letters() + 1);
  if (f.state == Letter::FAILED || f.state == Letter::PARKED) {
    p.set_failed(p.failed() + 1);
  } else if (f.state == Letter::CANCELLED) {
    p.set_cancelled(p.cancelled() + 1);
  } else if (!Sent(f.state)) {
    p.set_in_progress(p.in_progress() + 1);
  }
  if (f.delivered_ms > 0 && f.delivered_ms >= f.create_time_ms) {
    acc->delivery_ms.push_back(f.delivered_ms - f.create_time_ms);
  }
  if (f.returned) p.set_returned(p.returned() + 1);
  if (!Sent(f.state)) return;
  p.set_sent(p.sent() + 1);
  const bool print = f.channel == dispatch::kPrintChannel;
  // Letters stored before sheets were counted have 0: priced without the
  // per-sheet price, and counted so that the caller knows.
  const int sheets = std::max(f.print_sheets, 0);
  if (sheets == 0) p.set_sheets_unknown(p.sheets_unknown() + 1);
  const int64_t cost = LetterCost(prices, f.channel, sheets, f.a_post);
  for (v1::ChannelFigure& c : *p.mutable_channels()) {
    if (c.channel() != f.channel) continue;
    c.set_letters(c.letters() + 1);
    c.set_cost(c.cost() + cost);
  }
  p.set_cost(p.cost() + cost);
  p.set_cost_all_print(p.cost_all_print() + LetterCost(prices,
                                                       dispatch::kPrintChannel,
                                                       sheets, f.a_post));
  if (print) {
    p.set_envelopes(p.envelopes() + 1);
    p.set_sheets(p.sheets() + sheets);
  } else if (f.state == Letter::DELIVERED || f.state == Letter::READ) {
    p.set_digitally_delivered(p.digitally_delivered() + 1);
    if (f.read) p.set_read(p.read() + 1);
  }
}

void Finish(Acc* acc) {
  v1::PeriodFigures& p = acc->figures;
  for (v1::ChannelFigure& c : *p.mutable_channels()) {
    c.set_share(p.sent() > 0 ? static_cast<double>(c.letters()) / p.sent()
                             : 0.0);
  }
  p.set_read_rate(p.digitally_delivered() > 0
                      ? static_cast<double>(p.read()) / p.digitally_delivered()
                      : 0.0);
  std::vector<int64_t>& d = acc->delivery_ms;
  p.set_delivery_measured(static_cast<int64_t>(d.size()));
  if (!d.empty()) {
    std::sort(d.begin(), d.end());
    int64_t sum = 0;
    for (int64_t v : d) sum += v;
    p.set_delivery_mean_ms(sum / static_cast<int64_t>(d.size()));
    p.set_delivery_p50_ms(d[(d.size() - 1) / 2]);
  }
  p.set_cost_saved(p.cost_all_print() - p.cost());
}

}  // namespace

int64_t StatsPeriod::from_ms() const {
  return absl::ToUnixMillis(absl::FromCivil(from, zone));
}

int64_t StatsPeriod::to_ms() const {
  return absl::ToUnixMillis(absl::FromCivil(to, zone));
}

absl::TimeZone StatsTimeZone() {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone("Europe/Oslo", &zone)) {
    spdlog::warn("statistics: no tzdata for Europe/Oslo; months are UTC");
    return absl::UTCTimeZone();
  }
  return zone;
}

absl::StatusOr<StatsPeriod> ParseStatsPeriod(const std::string& text,
                                             absl::Time now,
                                             absl::TimeZone zone) {
  StatsPeriod p;
  p.zone = zone;
  if (text.empty()) {
    const absl::CivilYear y(absl::ToCivilYear(now, zone));
    p.from = absl::CivilDay(y);
    p.to = absl::CivilDay(y + 1);
    return p;
  }
  if (text.size() > 40) return BadPeriod(text);
  const size_t dots = text.find("..");
  char unit_from, unit_to;
  if (dots == std::string::npos) {
    if (!ParseEnd(text, &p.from, &unit_from)) return BadPeriod(text);
    p.to = After(p.from, unit_from);
  } else {
    if (!ParseEnd(text.substr(0, dots), &p.from, &unit_from) ||
        !ParseEnd(text.substr(dots + 2), &p.to, &unit_to) || unit_from == 'y' ||
        unit_to == 'y') {
      return BadPeriod(text);
    }
    if (p.to <= p.from) {
      return absl::InvalidArgumentError(absl::StrCat(
          "period: \"", text, "\" is empty (TO is exclusive and after FROM)"));
    }
  }
  if (absl::CivilMonth(p.to - 1) - absl::CivilMonth(p.from) >= kMaxMonths) {
    return absl::InvalidArgumentError(absl::StrCat(
        "period: \"", text, "\" is longer than ", kMaxMonths, " months"));
  }
  return p;
}

v1::Statistics SummariseStatistics(
    const StatsInput& input, const std::vector<store::LetterFacts>& facts) {
  v1::Statistics out;
  out.set_from_date(DayName(input.period.from));
  out.set_to_date(DayName(input.period.to));
  out.set_time_zone(input.period.zone.name());
  out.set_currency(input.prices.currency);
  out.set_priced(input.prices.configured);

  const absl::CivilMonth first(input.period.from);
  const absl::CivilMonth last(input.period.to - 1);
  std::set<std::string> tenants = input.tenants;
  for (const store::LetterFacts& f : facts) tenants.insert(f.tenant);
  // tenant -> months in order, then the total.
  std::map<std::string, std::vector<Acc>> accs;
  const size_t months = static_cast<size_t>(last - first) + 1;
  for (const std::string& t : tenants) {
    std::vector<Acc>& v = accs[t];
    v.resize(months + 1);
    for (size_t i = 0; i < months; ++i) Init(MonthName(first + i), &v[i]);
    Init("", &v[months]);
  }
  for (const store::LetterFacts& f : facts) {
    const absl::CivilMonth m(absl::ToCivilMonth(
        absl::FromUnixMillis(f.create_time_ms), input.period.zone));
    if (m < first || m > last) continue;  // Not asked for.
    std::vector<Acc>& v = accs[f.tenant];
    Add(input.prices, f, &v[static_cast<size_t>(m - first)]);
    Add(input.prices, f, &v[months]);
  }
  for (auto& [tenant, v] : accs) {
    v1::TenantStatistics* t = out.add_tenants();
    t->set_tenant(tenant);
    if (auto it = input.tenant_names.find(tenant);
        it != input.tenant_names.end()) {
      t->set_name(it->second);
    }
    for (size_t i = 0; i < v.size(); ++i) {
      Finish(&v[i]);
      if (i < months) {
        *t->add_months() = std::move(v[i].figures);
      } else {
        *t->mutable_total() = std::move(v[i].figures);
      }
    }
  }
  return out;
}

}  // namespace utpost::api
