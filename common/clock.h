// Time source, injectable so that tests control it.
#ifndef UTPOST_COMMON_CLOCK_H_
#define UTPOST_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace utpost {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
};

// The system clock. Lives forever; never delete.
Clock* RealClock();

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_millis) : now_(now_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Advance(int64_t millis) { now_ += millis; }
  void Set(int64_t now_millis) { now_ = now_millis; }

 private:
  std::atomic<int64_t> now_;
};

// RFC 3339 UTC time with milliseconds, e.g. "2026-11-23T12:00:00.123Z".
std::string FormatRfc3339(int64_t millis);

}  // namespace utpost

#endif  // UTPOST_COMMON_CLOCK_H_
