// PDF documents for tests, made in memory with qpdf.
#ifndef UTPOST_TESTS_TESTING_PDF_FIXTURES_H_
#define UTPOST_TESTS_TESTING_PDF_FIXTURES_H_

#include <string>

namespace utpost::testing {

// A valid, printable PDF with `pages` A4 pages (595 x 842 points). When
// `text` is not empty, each page shows it, followed by the page number, in a
// Type 3 font (which counts as embedded: every glyph is a short stroke). The
// output is the same bytes for the same arguments (static document ID).
// `pages` may be 0, which gives a well-formed PDF without pages.
std::string MakeTestPdf(int pages = 1, std::string text = "");

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_PDF_FIXTURES_H_
