#include "gateway/receipts/export_lines.h"

#include "absl/strings/escaping.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

namespace utpost::receipts {
namespace {

using google::protobuf::util::TimeUtil;
using Json = nlohmann::ordered_json;

Json HexList(const google::protobuf::RepeatedPtrField<std::string>& hashes) {
  Json out = Json::array();
  for (const auto& h : hashes) out.push_back(absl::BytesToHexString(h));
  return out;
}

}  // namespace

std::string ExportItemLine(const v1::ExportReceiptsResponse& item,
                           int64_t head_size) {
  Json j;
  if (item.has_tree_head()) {
    const auto& h = item.tree_head();
    j["type"] = "tree_head";
    j["tree_size"] = h.tree_size();
    j["root_hash"] = absl::BytesToHexString(h.root_hash());
    j["time"] = TimeUtil::ToString(h.time());
    j["jws"] = h.jws();
  } else if (item.has_consistency()) {
    const auto& c = item.consistency();
    j["type"] = "consistency";
    j["first"] = c.first();
    j["second"] = c.second();
    j["proof"] = HexList(c.hashes());
  } else {
    const auto& r = item.receipt();
    j["type"] = "receipt";
    j["leaf_index"] = r.leaf_index();
    j["letter_id"] = r.letter_id();
    j["seq"] = r.sequence();
    j["tree_size"] = head_size;
    j["inclusion_proof"] = HexList(r.inclusion_proof());
    j["jws"] = r.jws();
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace utpost::receipts
