#include <thread>
#include <vector>

#include "common/metrics/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RegistryTest, CounterWithLabelsHasHelpTypeAndSamples) {
  Registry r;
  auto* f = r.AddCounter("utpost_things_total", "Things done.",
                         {"tenant", "channel"});
  f->WithLabels({"964338531", "print"})->Increment();
  f->WithLabels({"964338531", "print"})->Increment(2);
  f->WithLabels({"958935420", "digital"})->Increment();
  EXPECT_EQ(r.Serialize(),
            "# HELP utpost_things_total Things done.\n"
            "# TYPE utpost_things_total counter\n"
            "utpost_things_total{tenant=\"958935420\",channel=\"digital\"} 1\n"
            "utpost_things_total{tenant=\"964338531\",channel=\"print\"} 3\n");
}

TEST(RegistryTest, CounterIgnoresNegativeAndNaN) {
  Registry r;
  auto* c = r.AddCounter("x_total", "x")->Get();
  c->Increment(-5);
  c->Increment(std::nan(""));
  c->Increment(0.5);
  EXPECT_EQ(c->value(), 0.5);
}

TEST(RegistryTest, GaugeWithoutLabels) {
  Registry r;
  auto* g = r.AddGauge("utpost_depth", "Depth.")->Get();
  g->Set(7);
  g->Add(-2.5);
  EXPECT_EQ(r.Serialize(),
            "# HELP utpost_depth Depth.\n"
            "# TYPE utpost_depth gauge\n"
            "utpost_depth 4.5\n");
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto* h =
      r.AddHistogram("lat_seconds", "Latency.", {"channel"}, {0.1, 1, 10});
  auto* s = h->WithLabels({"print"});
  s->Observe(0.05);
  s->Observe(0.1);  // "le" is inclusive.
  s->Observe(5);
  s->Observe(100);
  EXPECT_EQ(r.Serialize(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{channel=\"print\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{channel=\"print\",le=\"1\"} 2\n"
            "lat_seconds_bucket{channel=\"print\",le=\"10\"} 3\n"
            "lat_seconds_bucket{channel=\"print\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{channel=\"print\"} 105.15\n"
            "lat_seconds_count{channel=\"print\"} 4\n");
}

TEST(RegistryTest, HistogramWithoutLabelsHasOnlyLe) {
  Registry r;
  r.AddHistogram("h_seconds", "h", {}, {1})->Get()->Observe(2);
  EXPECT_THAT(r.Serialize(), HasSubstr("h_seconds_bucket{le=\"1\"} 0\n"
                                       "h_seconds_bucket{le=\"+Inf\"} 1\n"
                                       "h_seconds_sum 2\n"
                                       "h_seconds_count 1\n"));
}

TEST(RegistryTest, EscapesHelpAndLabelValues) {
  Registry r;
  r.AddGauge("g", "a \\ b\nc \"q\"", {"l"})->WithLabels({"x\"y\\z\nw"})->Set(1);
  EXPECT_EQ(r.Serialize(),
            "# HELP g a \\\\ b\\nc \"q\"\n"
            "# TYPE g gauge\n"
            "g{l=\"x\\\"y\\\\z\\nw\"} 1\n");
}

TEST(RegistryTest, FormatsSpecialValues) {
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(123456789), "123456789");
  EXPECT_EQ(std::stod(FormatValue(1.0 / 3)), 1.0 / 3);
}

TEST(RegistryTest, SeriesBeyondTheLimitShareTheOverflowSeries) {
  Registry r;
  auto* f = r.AddCounter("c_total", "c", {"id"}, /*max_series=*/2);
  f->WithLabels({"a"})->Increment();
  f->WithLabels({"b"})->Increment();
  f->WithLabels({"c"})->Increment();
  f->WithLabels({"d"})->Increment();
  Counter* overflow = f->WithLabels({"e"});
  EXPECT_EQ(overflow->value(), 2);
  EXPECT_EQ(overflow, f->WithLabels({"overflow"}));
  std::string text = r.Serialize();
  EXPECT_THAT(text, HasSubstr("c_total{id=\"overflow\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("id=\"c\"")));
}

TEST(RegistryTest, WrongNumberOfLabelValuesGoesToOverflow) {
  Registry r;
  auto* f = r.AddCounter("c_total", "c", {"a", "b"});
  f->WithLabels({"only-one"})->Increment();
  EXPECT_THAT(r.Serialize(),
              HasSubstr("c_total{a=\"overflow\",b=\"overflow\"} 1\n"));
}

TEST(RegistryTest, ExponentialBuckets) {
  EXPECT_THAT(ExponentialBuckets(0.5, 2, 4),
              ::testing::ElementsAre(0.5, 1, 2, 4));
}

TEST(RegistryTest, ConcurrentIncrementsAreNotLost) {
  Registry r;
  auto* f = r.AddCounter("n_total", "n", {"t"});
  auto* h = r.AddHistogram("d_seconds", "d", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        f->WithLabels({"x"})->Increment();
        h->Get()->Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f->WithLabels({"x"})->value(), 40000);
  EXPECT_EQ(h->Get()->snapshot().count, 40000u);
}

using RegistryDeathTest = ::testing::Test;

TEST(RegistryDeathTest, BadNamesAbort) {
  EXPECT_DEATH(Registry().AddGauge("9lives", "x"), "bad metric name");
  EXPECT_DEATH(Registry().AddCounter("requests", "x"), "_total");
  EXPECT_DEATH(Registry().AddGauge("g", "x", {"__reserved"}), "bad label");
  EXPECT_DEATH(Registry().AddHistogram("h", "x", {"le"}, {1}), "bad label");
  EXPECT_DEATH(Registry().AddHistogram("h", "x", {}, {2, 1}), "increasing");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddGauge("g", "x");
        r.AddGauge("g", "y");
      },
      "twice");
}

}  // namespace
}  // namespace utpost::metrics
