#include "gateway/api/submit_batcher.h"

#include <utility>
#include <vector>

namespace utpost::api {

SubmitBatcher::SubmitBatcher(store::Store* store,
                             std::function<void()> on_commit, size_t max_batch)
    : store_(store),
      on_commit_(std::move(on_commit)),
      max_batch_(max_batch),
      writer_([this] { Loop(); }) {}

SubmitBatcher::~SubmitBatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

void SubmitBatcher::Submit(store::NewLetter letter, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Pending{std::move(letter), std::move(done)});
  }
  cv_.notify_one();
}

void SubmitBatcher::Loop() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // Stopping and drained.
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<store::NewLetter> letters;
    letters.reserve(batch.size());
    for (auto& p : batch) letters.push_back(std::move(p.letter));
    auto results = store_->CreateLetters(std::move(letters));
    bool any_created = false;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!results.ok()) {
        batch[i].done(results.status());
        continue;
      }
      auto& r = (*results)[i];
      if (r.ok() && r->created) any_created = true;
      batch[i].done(std::move(r));
    }
    if (any_created && on_commit_) on_commit_();
  }
}

}  // namespace utpost::api
