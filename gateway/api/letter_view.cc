#include "gateway/api/letter_view.h"

#include "common/mask.h"

namespace utpost::api {

void SetTimestamp(int64_t millis, google::protobuf::Timestamp* ts) {
  ts->set_seconds(millis / 1000);
  ts->set_nanos(static_cast<int32_t>((millis % 1000) * 1000000));
}

v1::Letter ToApiLetter(const store::LetterRecord& r,
                       const std::vector<store::ReceiptRecord>& receipts) {
  v1::Letter out;
  out.set_name("letters/" + r.id);
  out.set_id(r.id);
  out.set_client_reference(r.client_reference);
  out.set_state(r.state);
  out.set_channel(r.channel);
  *out.mutable_recipient() = r.spec.recipient();
  if (out.recipient().has_person()) {
    out.mutable_recipient()->set_person(
        MaskPersonNumber(out.recipient().person()));
  }
  out.set_title(r.spec.title());
  for (const auto& d : r.documents) *out.add_documents() = d;
  *out.mutable_delivery_policy() = r.spec.delivery_policy();
  *out.mutable_print_options() = r.spec.print_options();
  SetTimestamp(r.create_time_ms, out.mutable_create_time());
  SetTimestamp(r.update_time_ms, out.mutable_update_time());
  out.set_reason(r.reason);
  for (const auto& rc : receipts) {
    auto* e = out.add_timeline();
    e->set_sequence(rc.sequence);
    e->set_state(rc.state);
    e->set_channel(rc.channel);
    SetTimestamp(rc.time_ms, e->mutable_time());
    e->set_reason(rc.reason);
  }
  return out;
}

v1::LetterEvent ToApiEvent(const store::ReceiptRecord& r) {
  v1::LetterEvent e;
  e.set_cursor(r.cursor);
  e.set_letter_id(r.letter_id);
  e.set_client_reference(r.client_reference);
  e.set_state(r.state);
  e.set_channel(r.channel);
  SetTimestamp(r.time_ms, e.mutable_time());
  e.set_reason(r.reason);
  return e;
}

}  // namespace utpost::api
