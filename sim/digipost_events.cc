#include "sim/digipost_events.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace utpost::sim {

std::optional<int64_t> ParseFeedTime(std::string_view text) {
  // 2026-11-23T12:00:00.000+01:00
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:dd.ddd+dd:dd";
  if (text.size() != sizeof(kShape) - 1) return std::nullopt;
  for (size_t i = 0; i < text.size(); ++i) {
    char want = kShape[i];
    char c = text[i];
    if (want == 'd'   ? !absl::ascii_isdigit(static_cast<unsigned char>(c))
        : want == '+' ? (c != '+' && c != '-')
                      : c != want) {
      return std::nullopt;
    }
  }
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &error)) {
    return std::nullopt;
  }
  return absl::ToUnixMillis(t);
}

void DigipostEventFeed::Schedule(const std::string& document_uuid,
                                 const std::string& type, int64_t at_ms,
                                 int64_t document_created_ms) {
  absl::MutexLock lock(&mu_);
  Event e;
  e.document_uuid = document_uuid;
  e.type = type;
  e.at_ms = at_ms;
  e.document_created_ms = document_created_ms;
  scheduled_.push_back(std::move(e));
}

std::string DigipostEventFeed::Page(int64_t now_ms, int64_t offset, int64_t max,
                                    const EventFaults& faults) {
  absl::MutexLock lock(&mu_);
  std::vector<Event> ready;
  auto keep = std::partition(
      scheduled_.begin(), scheduled_.end(),
      [&](const Event& e) { return e.at_ms + faults.late_ms > now_ms; });
  ready.assign(keep, scheduled_.end());
  scheduled_.erase(keep, scheduled_.end());
  std::stable_sort(
      ready.begin(), ready.end(),
      [](const Event& a, const Event& b) { return a.at_ms < b.at_ms; });
  if (faults.out_of_order) std::reverse(ready.begin(), ready.end());
  for (const Event& e : ready) {
    feed_.push_back(e);
    if (faults.duplicate) feed_.push_back(e);
  }
  std::string xml = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
      "<document-events xmlns=\"http://api.digipost.no/schema/v8\">\n");
  for (int64_t i = std::max<int64_t>(0, offset);
       i < static_cast<int64_t>(feed_.size()) && i < offset + max; ++i) {
    const Event& e = feed_[i];
    absl::StrAppend(&xml, "  <event uuid=\"", e.document_uuid, "\" type=\"",
                    e.type, "\" created=\"", FormatRfc3339(e.at_ms),
                    "\" document-created=\"",
                    FormatRfc3339(e.document_created_ms), "\"/>\n");
    ++served_;
  }
  absl::StrAppend(&xml, "</document-events>\n");
  return xml;
}

int64_t DigipostEventFeed::served() {
  absl::MutexLock lock(&mu_);
  return served_;
}

void DigipostEventFeed::Reset() {
  absl::MutexLock lock(&mu_);
  scheduled_.clear();
  feed_.clear();
  served_ = 0;
}

}  // namespace utpost::sim
