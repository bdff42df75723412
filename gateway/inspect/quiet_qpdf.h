// Opening a tenant's PDF with qpdf, saying nothing.
#ifndef UTPOST_GATEWAY_INSPECT_QUIET_QPDF_H_
#define UTPOST_GATEWAY_INSPECT_QUIET_QPDF_H_

#include <string_view>

class QPDF;

namespace utpost::inspect {

// Opens `content` in `pdf` with a private logger that discards everything:
// qpdf's process-wide default writes warnings about repaired files to
// stderr, and a gateway must not print whatever a client uploads. qpdf
// reads from the caller's buffer without copying it, so `content` must
// outlive `pdf`. Throws what QPDF::processMemoryFile throws.
void OpenQuietly(QPDF& pdf, std::string_view content);

}  // namespace utpost::inspect

#endif  // UTPOST_GATEWAY_INSPECT_QUIET_QPDF_H_
