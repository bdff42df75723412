// A valid PDF of a chosen size, made in memory, for load tests.
#ifndef UTPOST_BENCH_PDF_H_
#define UTPOST_BENCH_PDF_H_

#include <cstddef>
#include <string>

namespace utpost::bench {

// One A4 page with a line of text, padded with comment lines in its content
// stream to `target_bytes` (exactly, when the target is above the ~600
// bytes of the unpadded file). The cross-reference table is correct, so
// qpdf opens it without repairs.
std::string MakePdf(size_t target_bytes);

}  // namespace utpost::bench

#endif  // UTPOST_BENCH_PDF_H_
