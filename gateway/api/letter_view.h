// Turns stored letters and receipts into API messages.
#ifndef UTPOST_GATEWAY_API_LETTER_VIEW_H_
#define UTPOST_GATEWAY_API_LETTER_VIEW_H_

#include <vector>

#include "gateway/store/store.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {

// The API view of a letter; the person number is masked. `receipts`, when
// given, become the timeline.
v1::Letter ToApiLetter(const store::LetterRecord& record,
                       const std::vector<store::ReceiptRecord>& receipts = {});

v1::LetterEvent ToApiEvent(const store::ReceiptRecord& receipt);

void SetTimestamp(int64_t millis, google::protobuf::Timestamp* ts);

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_LETTER_VIEW_H_
