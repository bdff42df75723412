#include "gateway/letter_watchers.h"

#include "gateway/api/letter_service.h"

namespace utpost::gateway {

void LetterWatchers::Attach(api::LetterServiceImpl* letters) {
  absl::MutexLock lock(&mu_);
  letters_ = letters;
}

void LetterWatchers::Detach() {
  absl::MutexLock lock(&mu_);
  letters_ = nullptr;
}

void LetterWatchers::Notify() {
  absl::MutexLock lock(&mu_);
  if (letters_ != nullptr) letters_->NotifyChange();
}

}  // namespace utpost::gateway
