#include "common/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace utpost::metrics {
namespace {

void AddTo(std::atomic<double>& a, double by) {
  double old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, old + by, std::memory_order_relaxed)) {
  }
}

[[noreturn]] void Die(const std::string& why) {
  std::cerr << "metrics: " << why << std::endl;
  std::abort();
}

bool ValidMetricName(const std::string& n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool ValidLabelName(const std::string& n) {
  if (n.empty() || n.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// `{a="x",b="y"}` with an optional extra label (histogram "le"); "" when
// there are no labels at all.
std::string LabelText(const std::vector<std::string>& names,
                      const std::vector<std::string>& values,
                      const std::string& extra_name = "",
                      const std::string& extra_value = "") {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ",";
    absl::StrAppend(&out, names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ",";
    absl::StrAppend(&out, extra_name, "=\"", extra_value, "\"");
  }
  out += "}";
  return out;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void Counter::Increment(double by) {
  if (!(by > 0)) return;  // Also drops NaN.
  AddTo(value_, by);
}

void Gauge::Add(double by) { AddTo(value_, by); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  // The first bucket whose upper bound is >= v ("le" is inclusive).
  size_t i =
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  ++counts_[i];
  sum_ += v;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  absl::MutexLock lock(&mu_);
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_;
  return s;
}

template <typename T>
std::unique_ptr<T> Family<T>::Make() const {
  return std::make_unique<T>();
}
template <>
std::unique_ptr<Histogram> Family<Histogram>::Make() const {
  return std::make_unique<Histogram>(bounds_);
}

template <typename T>
T* Family<T>::WithLabels(const std::vector<std::string>& values) {
  absl::MutexLock lock(&mu_);
  if (values.size() == label_names_.size()) {
    auto it = series_.find(values);
    if (it != series_.end()) return it->second.get();
    // The overflow series does not count against the limit.
    const size_t used =
        series_.size() - (series_.count(std::vector<std::string>(
                             label_names_.size(), "overflow")));
    if (used < max_series_) {
      auto& slot = series_[values];
      slot = Make();
      return slot.get();
    }
  }
  auto& overflow =
      series_[std::vector<std::string>(label_names_.size(), "overflow")];
  if (!overflow) overflow = Make();
  return overflow.get();
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i) {
    out.push_back(v);
    v *= factor;
  }
  return out;
}

void Registry::CheckNew(const std::string& name,
                        const std::vector<std::string>& label_names,
                        Type type) {
  if (!ValidMetricName(name)) Die(absl::StrCat("bad metric name ", name));
  if (type == Type::kCounter && !EndsWith(name, "_total")) {
    Die(absl::StrCat("counter name must end in _total: ", name));
  }
  for (const auto& l : label_names) {
    if (!ValidLabelName(l) || (type == Type::kHistogram && l == "le")) {
      Die(absl::StrCat("bad label name ", l, " on ", name));
    }
  }
  for (const auto& e : entries_) {
    if (e.name == name) Die(absl::StrCat("metric added twice: ", name));
  }
}

template <typename T>
Family<T>* Registry::Add(const std::string& name, const std::string& help,
                         Type type, std::vector<std::string> label_names,
                         std::vector<double> bounds, size_t max_series) {
  absl::MutexLock lock(&mu_);
  CheckNew(name, label_names, type);
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      Die(absl::StrCat("bucket bounds of ", name,
                       " must be finite and increasing"));
    }
  }
  std::shared_ptr<Family<T>> f(
      new Family<T>(label_names, std::move(bounds), max_series));
  entries_.push_back({name, help, type, std::move(label_names), f.get(), f});
  return f.get();
}

Family<Counter>* Registry::AddCounter(const std::string& name,
                                      const std::string& help,
                                      std::vector<std::string> label_names,
                                      size_t max_series) {
  return Add<Counter>(name, help, Type::kCounter, std::move(label_names), {},
                      max_series);
}

Family<Gauge>* Registry::AddGauge(const std::string& name,
                                  const std::string& help,
                                  std::vector<std::string> label_names,
                                  size_t max_series) {
  return Add<Gauge>(name, help, Type::kGauge, std::move(label_names), {},
                    max_series);
}

Family<Histogram>* Registry::AddHistogram(const std::string& name,
                                          const std::string& help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds,
                                          size_t max_series) {
  return Add<Histogram>(name, help, Type::kHistogram, std::move(label_names),
                        std::move(bounds), max_series);
}

std::string Registry::Serialize() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const Entry& e : entries_) {
    absl::StrAppend(&out, "# HELP ", e.name, " ", EscapeHelp(e.help), "\n");
    absl::StrAppend(&out, "# TYPE ", e.name, " ", TypeName(e.type), "\n");
    switch (e.type) {
      case Type::kCounter: {
        auto* f = static_cast<Family<Counter>*>(e.family);
        absl::MutexLock fl(&f->mu_);
        for (const auto& [values, c] : f->series_) {
          absl::StrAppend(&out, e.name, LabelText(e.label_names, values), " ",
                          FormatValue(c->value()), "\n");
        }
        break;
      }
      case Type::kGauge: {
        auto* f = static_cast<Family<Gauge>*>(e.family);
        absl::MutexLock fl(&f->mu_);
        for (const auto& [values, g] : f->series_) {
          absl::StrAppend(&out, e.name, LabelText(e.label_names, values), " ",
                          FormatValue(g->value()), "\n");
        }
        break;
      }
      case Type::kHistogram: {
        auto* f = static_cast<Family<Histogram>*>(e.family);
        absl::MutexLock fl(&f->mu_);
        for (const auto& [values, h] : f->series_) {
          Histogram::Snapshot s = h->snapshot();
          for (size_t i = 0; i <= s.bounds.size(); ++i) {
            std::string le =
                i < s.bounds.size() ? FormatValue(s.bounds[i]) : "+Inf";
            absl::StrAppend(&out, e.name, "_bucket",
                            LabelText(e.label_names, values, "le", le), " ",
                            s.cumulative[i], "\n");
          }
          absl::StrAppend(&out, e.name, "_sum",
                          LabelText(e.label_names, values), " ",
                          FormatValue(s.sum), "\n");
          absl::StrAppend(&out, e.name, "_count",
                          LabelText(e.label_names, values), " ", s.count, "\n");
        }
        break;
      }
    }
  }
  return out;
}

// HELP text escapes backslash and newline; label values also '"'.
std::string Escape(std::string_view s, bool quotes) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quotes && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view s) { return Escape(s, false); }

std::string EscapeLabelValue(std::string_view s) { return Escape(s, true); }

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace utpost::metrics
