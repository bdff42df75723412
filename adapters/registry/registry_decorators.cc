#include "adapters/registry/registry_decorators.h"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace utpost::adapters {
namespace {

// ---- Batching ------------------------------------------------------------

struct Batch {
  std::vector<std::string> numbers;
  bool closed = false;  // No one joins any more.
  bool done = false;
  absl::StatusOr<std::vector<PersonContact>> result;
};

class BatchingRegistry final : public Registry {
 public:
  BatchingRegistry(std::unique_ptr<Registry> inner,
                   BatchingRegistryOptions options)
      : inner_(std::move(inner)), options_(options) {
    if (options_.max_batch <= 0) options_.max_batch = 1000;
    if (options_.window_ms < 0) options_.window_ms = 0;
    if (options_.max_in_flight <= 0) options_.max_in_flight = 1;
  }

  absl::StatusOr<std::vector<PersonContact>> LookupPersons(
      const std::vector<std::string>& person_numbers) override {
    const size_t max = static_cast<size_t>(options_.max_batch);
    if (person_numbers.empty()) return std::vector<PersonContact>{};
    if (person_numbers.size() > max) {
      return inner_->LookupPersons(person_numbers);
    }
    std::shared_ptr<Batch> batch;
    size_t offset = 0;
    bool leader = false;
    {
      absl::MutexLock lock(&mu_);
      if (open_ == nullptr ||
          open_->numbers.size() + person_numbers.size() > max) {
        // The open batch (if any) is full for this caller: its leader may
        // send it at once.
        if (open_ != nullptr) open_->closed = true;
        open_ = std::make_shared<Batch>();
        leader = true;
      }
      batch = open_;
      offset = batch->numbers.size();
      batch->numbers.insert(batch->numbers.end(), person_numbers.begin(),
                            person_numbers.end());
      if (batch->numbers.size() >= max) batch->closed = true;
    }
    if (leader) {
      Lead(batch);
    } else {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(&batch->done));
    }
    absl::MutexLock lock(&mu_);
    if (!batch->result.ok()) return batch->result.status();
    const std::vector<PersonContact>& all = *batch->result;
    if (all.size() != batch->numbers.size()) {
      return absl::UnavailableError(
          "registry answered a different number of entries than asked");
    }
    return std::vector<PersonContact>(
        all.begin() + static_cast<std::ptrdiff_t>(offset),
        all.begin() +
            static_cast<std::ptrdiff_t>(offset + person_numbers.size()));
  }

 private:
  void Lead(const std::shared_ptr<Batch>& batch) {
    std::vector<std::string> numbers;
    {
      absl::MutexLock lock(&mu_);
      // Others join until the window ends or the batch is full.
      mu_.AwaitWithTimeout(absl::Condition(&batch->closed),
                           absl::Milliseconds(options_.window_ms));
      // Group commit: while the inner registry is busy, the batch closes
      // but others still queue for the next one.
      batch->closed = true;
      if (open_ == batch) open_ = nullptr;
      auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return in_flight_ < options_.max_in_flight;
      };
      mu_.Await(absl::Condition(&has_room));
      ++in_flight_;
      numbers = batch->numbers;
    }
    absl::StatusOr<std::vector<PersonContact>> result =
        inner_->LookupPersons(numbers);
    absl::MutexLock lock(&mu_);
    --in_flight_;
    batch->result = std::move(result);
    batch->done = true;
  }

  const std::unique_ptr<Registry> inner_;
  BatchingRegistryOptions options_;
  absl::Mutex mu_;
  std::shared_ptr<Batch> open_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

// ---- Caches --------------------------------------------------------------

template <typename Value>
class ExpiringCache {
 public:
  explicit ExpiringCache(RegistryCacheOptions options)
      : options_(options),
        clock_(options.clock != nullptr ? options.clock : RealClock()) {}

  std::optional<Value> Get(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    if (clock_->NowMillis() >= it->second.expires_ms) {
      entries_.erase(it);
      return std::nullopt;
    }
    return it->second.value;
  }

  void Put(const std::string& key, Value value) {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMillis();
    if (entries_.size() >= options_.max_entries) {
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (now >= it->second.expires_ms) {
          entries_.erase(it++);
        } else {
          ++it;
        }
      }
      if (entries_.size() >= options_.max_entries) entries_.clear();
    }
    entries_[key] = Entry{std::move(value), now + options_.lifetime_ms};
  }

 private:
  struct Entry {
    Value value;
    int64_t expires_ms = 0;
  };
  const RegistryCacheOptions options_;
  const Clock* const clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

class CachingRegistry final : public Registry {
 public:
  CachingRegistry(std::unique_ptr<Registry> inner, RegistryCacheOptions options)
      : inner_(std::move(inner)), cache_(options) {}

  absl::StatusOr<std::vector<PersonContact>> LookupPersons(
      const std::vector<std::string>& person_numbers) override {
    std::vector<std::optional<PersonContact>> answers;
    answers.reserve(person_numbers.size());
    std::vector<std::string> misses;
    absl::flat_hash_map<std::string, size_t> miss_index;
    for (const std::string& number : person_numbers) {
      answers.push_back(cache_.Get(number));
      if (!answers.back().has_value() &&
          miss_index.emplace(number, misses.size()).second) {
        misses.push_back(number);
      }
    }
    if (!misses.empty()) {
      absl::StatusOr<std::vector<PersonContact>> fresh =
          inner_->LookupPersons(misses);
      if (!fresh.ok()) return fresh.status();
      if (fresh->size() != misses.size()) {
        return absl::UnavailableError(
            "registry answered a different number of entries than asked");
      }
      for (size_t i = 0; i < misses.size(); ++i) {
        cache_.Put(misses[i], (*fresh)[i]);
      }
      for (size_t i = 0; i < person_numbers.size(); ++i) {
        if (!answers[i].has_value()) {
          answers[i] = (*fresh)[miss_index[person_numbers[i]]];
        }
      }
    }
    std::vector<PersonContact> result;
    result.reserve(answers.size());
    for (auto& a : answers) result.push_back(*std::move(a));
    return result;
  }

 private:
  const std::unique_ptr<Registry> inner_;
  ExpiringCache<PersonContact> cache_;
};

class CachingOrganisationRegistry final : public OrganisationRegistry {
 public:
  CachingOrganisationRegistry(std::unique_ptr<OrganisationRegistry> inner,
                              RegistryCacheOptions options)
      : inner_(std::move(inner)), cache_(options) {}

  absl::StatusOr<OrganisationContact> LookupOrganisation(
      const std::string& organisation_number) override {
    if (auto cached = cache_.Get(organisation_number)) return *cached;
    absl::StatusOr<OrganisationContact> fresh =
        inner_->LookupOrganisation(organisation_number);
    if (fresh.ok()) cache_.Put(organisation_number, *fresh);
    return fresh;
  }

 private:
  const std::unique_ptr<OrganisationRegistry> inner_;
  ExpiringCache<OrganisationContact> cache_;
};

}  // namespace

std::unique_ptr<Registry> NewBatchingRegistry(std::unique_ptr<Registry> inner,
                                              BatchingRegistryOptions options) {
  return std::make_unique<BatchingRegistry>(std::move(inner), options);
}

std::unique_ptr<Registry> NewCachingRegistry(std::unique_ptr<Registry> inner,
                                             RegistryCacheOptions options) {
  if (options.lifetime_ms <= 0) return inner;
  return std::make_unique<CachingRegistry>(std::move(inner), options);
}

std::unique_ptr<OrganisationRegistry> NewCachingOrganisationRegistry(
    std::unique_ptr<OrganisationRegistry> inner, RegistryCacheOptions options) {
  if (options.lifetime_ms <= 0) return inner;
  return std::make_unique<CachingOrganisationRegistry>(std::move(inner),
                                                       options);
}

}  // namespace utpost::adapters
