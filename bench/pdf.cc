#include "bench/pdf.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace utpost::bench {
namespace {

// Comment lines for a content stream, `bytes` long in all.
std::string Padding(size_t bytes) {
  constexpr size_t kLine = 72;  // "%" + text + "\n"
  std::string out;
  out.reserve(bytes);
  while (bytes > 0) {
    const size_t line = bytes > kLine + 2 ? kLine : bytes;
    if (line == 1) {
      out += '\n';
    } else {
      out += '%';
      out.append(line - 2, 'x');
      out += '\n';
    }
    bytes -= line;
  }
  return out;
}

std::string Repeat(absl::string_view text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) absl::StrAppend(&out, text);
  return out;
}

std::string Build(size_t padding) {
  const std::string content =
      absl::StrCat("BT /F1 12 Tf 72 770 Td (Utpost benchmark letter) Tj ET\n",
                   Padding(padding));
  const std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
      "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
      absl::StrCat("<< /Length ", content.size(), " >>\nstream\n", content,
                   "endstream"),
      // A Type 3 font draws its glyphs itself (one short stroke for every
      // character), so it counts as embedded and the letter is printable.
      absl::StrCat("<< /Type /Font /Subtype /Type3 /FontBBox [0 0 500 700] "
                   "/FontMatrix [0.001 0 0 0.001 0 0] /CharProcs << /g 6 0 R "
                   ">> /Encoding << /Type /Encoding /Differences [32",
                   Repeat(" /g", 95), "] >> /FirstChar 32 /LastChar 126 ",
                   "/Widths [", Repeat("500 ", 95), "] /Resources << >> >>"),
      "<< /Length 25 >>\nstream\n500 0 d0 50 0 m 450 0 l S\nendstream",
  };
  // The second line marks the file as binary for transfer programs.
  std::string out = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(out.size());
    absl::StrAppend(&out, i + 1, " 0 obj\n", objects[i], "\nendobj\n");
  }
  const size_t xref = out.size();
  absl::StrAppend(&out, "xref\n0 ", objects.size() + 1, "\n");
  // Each entry is exactly 20 bytes, ending in space and newline.
  out += "0000000000 65535 f \n";
  char entry[32];
  for (size_t offset : offsets) {
    std::snprintf(entry, sizeof(entry), "%010zu 00000 n \n", offset);
    out += entry;
  }
  absl::StrAppend(&out, "trailer\n<< /Size ", objects.size() + 1,
                  " /Root 1 0 R >>\nstartxref\n", xref, "\n%%EOF\n");
  return out;
}

}  // namespace

std::string MakePdf(size_t target_bytes) {
  std::string pdf = Build(0);
  if (pdf.size() >= target_bytes) return pdf;
  size_t padding = target_bytes - pdf.size();
  // The stream length and the offsets grow by a digit now and then, so
  // correct the padding until the size is exact.
  for (int i = 0; i < 4; ++i) {
    pdf = Build(padding);
    if (pdf.size() == target_bytes) break;
    padding = padding + target_bytes - pdf.size();
  }
  return pdf;
}

}  // namespace utpost::bench
