// The JSON Lines of a receipt-log export (docs/receipt-log.md, "Export
// format") that carry log content: tree heads, consistency proofs and
// receipts. One writer for the gateway, which streams an export's lines,
// and for utpostctl, which writes them when a server sends none.
#ifndef UTPOST_GATEWAY_RECEIPTS_EXPORT_LINES_H_
#define UTPOST_GATEWAY_RECEIPTS_EXPORT_LINES_H_

#include <cstdint>
#include <string>

#include "utpost/v1/audit.pb.h"

namespace utpost::receipts {

// The line of `item` (a tree head, consistency proof or receipt; not one of
// the export's statements), without the newline. A receipt's line names
// `head_size`, the head its inclusion proof leads to. Hashes are lowercase
// hex; text that is not UTF-8 is replaced, never thrown on.
std::string ExportItemLine(const v1::ExportReceiptsResponse& item,
                           int64_t head_size);

}  // namespace utpost::receipts

#endif  // UTPOST_GATEWAY_RECEIPTS_EXPORT_LINES_H_
