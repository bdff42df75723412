// A small Prometheus metrics registry: counters, gauges and histograms with
// label sets, written out in the Prometheus text exposition format 0.0.4.
//
// Label values must come from small, known sets: channel names, tenant
// organisation numbers from the configuration, states, gRPC methods and
// codes, queue names. Never a letter id, a person number, a trace id or
// free text. As a guard, a family keeps at most `max_series` label sets;
// further ones share one overflow series whose label values are all
// "overflow", so a bug can never grow memory or the scrape without bound.
//
// Thread-safe. Pointers returned by the registry and by families stay valid
// for the registry's lifetime; hot paths should keep them.
#ifndef UTPOST_COMMON_METRICS_REGISTRY_H_
#define UTPOST_COMMON_METRICS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace utpost::metrics {

// Monotonic. Increment by a negative amount is ignored.
class Counter {
 public:
  void Increment(double by = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets by upper bound; +Inf is implicit.
class Histogram {
 public:
  // `bounds` strictly increasing and finite (checked by the registry).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // One per bound, then +Inf.
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // Per bucket, +Inf last.
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

enum class Type { kCounter, kGauge, kHistogram };

// All series of one metric name, one per set of label values.
template <typename T>
class Family {
 public:
  // The series for `values`, given in the order of the family's label
  // names; created on first use. A wrong number of values, or a new label
  // set beyond `max_series`, gives the overflow series.
  T* WithLabels(const std::vector<std::string>& values);
  // The series without labels (for families declared without any).
  T* Get() { return WithLabels({}); }

 private:
  friend class Registry;
  Family(std::vector<std::string> label_names, std::vector<double> bounds,
         size_t max_series)
      : label_names_(std::move(label_names)),
        bounds_(std::move(bounds)),
        max_series_(max_series) {}
  std::unique_ptr<T> Make() const;

  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // Histograms only.
  const size_t max_series_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_
      ABSL_GUARDED_BY(mu_);
};

// Bucket bounds `start`, `start*factor`, ... (`count` of them).
std::vector<double> ExponentialBuckets(double start, double factor, int count);

class Registry {
 public:
  static constexpr size_t kDefaultMaxSeries = 1000;

  // Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
  // [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__" ("le" is reserved
  // for histograms). Counter names end in "_total". A bad or repeated name
  // is a programming error: the process aborts with a message.
  Family<Counter>* AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {},
                              size_t max_series = kDefaultMaxSeries);
  Family<Gauge>* AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {},
                          size_t max_series = kDefaultMaxSeries);
  Family<Histogram>* AddHistogram(const std::string& name,
                                  const std::string& help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> bounds,
                                  size_t max_series = kDefaultMaxSeries);

  // Every metric in the text exposition format 0.0.4, in the order the
  // families were added, series sorted by label values.
  std::string Serialize() const;

  // Content-Type of Serialize()'s output.
  static constexpr const char* kContentType =
      "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Entry {
    std::string name;
    std::string help;
    Type type;
    std::vector<std::string> label_names;
    void* family;  // Family<T>* for `type`; owned below.
    std::shared_ptr<void> owner;
  };
  void CheckNew(const std::string& name,
                const std::vector<std::string>& label_names, Type type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Checks `name` and registers a new family of T; `bounds` for histograms.
  template <typename T>
  Family<T>* Add(const std::string& name, const std::string& help, Type type,
                 std::vector<std::string> label_names,
                 std::vector<double> bounds, size_t max_series);

  mutable absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// Text-format helpers, exposed for tests.
std::string EscapeHelp(std::string_view s);
std::string EscapeLabelValue(std::string_view s);
// Shortest text that reads back as `v`; "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);

}  // namespace utpost::metrics

#endif  // UTPOST_COMMON_METRICS_REGISTRY_H_
