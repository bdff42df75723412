#include "gateway/inspect/document_policy.h"

#include <qpdf/Constants.h>

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <qpdf/Pipeline.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFExc.hh>
#include <qpdf/QPDFObjGen.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <qpdf/QPDFXRefEntry.hh>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gateway/inspect/quiet_qpdf.h"

namespace utpost::inspect {
namespace {

absl::Status NotAccepted(absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("not accepted: ", reason));
}

std::string Bytes(int64_t bytes) {
  if (bytes % (int64_t{1} << 20) == 0) {
    return absl::StrCat(bytes >> 20, " MiB");
  }
  return absl::StrCat(bytes, " bytes");
}

// Thrown by CountingSink through qpdf's decoder to stop it at the limit.
struct BudgetExceeded final : std::runtime_error {
  BudgetExceeded() : std::runtime_error("decoded size limit") {}
};

// The end of a decoding pipeline: counts the bytes and keeps none.
class CountingSink final : public Pipeline {
 public:
  explicit CountingSink(int64_t* budget)
      : Pipeline("count", nullptr), budget_(budget) {}
  void write(unsigned char const* /*data*/, size_t len) override {
    *budget_ -= static_cast<int64_t>(len);
    if (*budget_ < 0) {
      exceeded_ = true;
      throw BudgetExceeded();
    }
  }
  void finish() override {}
  bool exceeded() const { return exceeded_ || *budget_ < 0; }

 private:
  int64_t* const budget_;
  bool exceeded_ = false;
};

// Decodes `stream` into the counter; false when the budget ran out.
bool CountDecoded(QPDFObjectHandle stream, int64_t* budget) {
  CountingSink sink(budget);
  try {
    stream.pipeStreamData(&sink, 0, qpdf_dl_specialized,
                          /*suppress_warnings=*/true, /*will_retry=*/false);
  } catch (const BudgetExceeded&) {
  } catch (const std::exception&) {
    // Undecodable data: CheckPdf or the printability check says so when it
    // matters; what was decoded so far is counted.
  }
  return !sink.exceeded();
}

// What active or hidden content a dictionary shows, or nullptr.
const char* ForbiddenContentIn(QPDFObjectHandle dict) {
  if (dict.hasKey("/JS") || dict.hasKey("/JavaScript")) {
    return "contains JavaScript";
  }
  QPDFObjectHandle s = dict.getKey("/S");
  if (s.isName()) {
    if (s.getName() == "/JavaScript") return "contains JavaScript";
    if (s.getName() == "/Launch") return "contains a launch action";
  }
  if (dict.hasKey("/EmbeddedFiles") || dict.hasKey("/EF")) {
    return "contains an embedded file";
  }
  QPDFObjectHandle type = dict.getKey("/Type");
  if (type.isName() && type.getName() == "/EmbeddedFile") {
    return "contains an embedded file";
  }
  if (dict.hasKey("/XFA")) return "contains an XFA form";
  return nullptr;
}

// Looks through `object` and its direct parts (not the indirect objects it
// refers to: the caller visits every object of the file), without
// recursion.
const char* ForbiddenContentInObject(QPDFObjectHandle object) {
  std::vector<QPDFObjectHandle> stack = {object};
  while (!stack.empty()) {
    QPDFObjectHandle o = stack.back();
    stack.pop_back();
    if (o.isStream()) o = o.getDict();
    if (o.isDictionary()) {
      if (const char* found = ForbiddenContentIn(o)) return found;
      for (const std::string& key : o.getKeys()) {
        QPDFObjectHandle value = o.getKey(key);
        if (!value.isIndirect() && (value.isDictionary() || value.isArray())) {
          stack.push_back(value);
        }
      }
    } else if (o.isArray()) {
      const int n = o.getArrayNItems();
      for (int i = 0; i < n; ++i) {
        QPDFObjectHandle value = o.getArrayItem(i);
        if (!value.isIndirect() && (value.isDictionary() || value.isArray())) {
          stack.push_back(value);
        }
      }
    }
  }
  return nullptr;
}

// Walks the page tree breadth-first from the catalog's /Pages, each
// indirect node once, and bounds its depth and its page count.
absl::Status CheckPageTree(QPDF& pdf, const DocumentLimits& limits) {
  QPDFObjectHandle root = pdf.getRoot().getKey("/Pages");
  if (!root.isDictionary()) return absl::OkStatus();  // CheckPdf: no pages.
  std::set<QPDFObjGen> visited;
  std::vector<std::pair<QPDFObjectHandle, int>> stack = {{root, 0}};
  if (root.isIndirect()) visited.insert(root.getObjGen());
  int64_t pages = 0;
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    QPDFObjectHandle kids = node.getKey("/Kids");
    if (!kids.isArray()) continue;
    const int n = kids.getArrayNItems();
    for (int i = 0; i < n; ++i) {
      QPDFObjectHandle kid = kids.getArrayItem(i);
      if (!kid.isDictionary()) continue;
      QPDFObjectHandle type = kid.getKey("/Type");
      const bool is_node =
          kid.hasKey("/Kids") && !(type.isName() && type.getName() == "/Page");
      if (!is_node) {
        if (++pages > limits.max_pages) {
          return NotAccepted(
              absl::StrCat("more than ", limits.max_pages, " pages"));
        }
        continue;
      }
      if (depth + 1 > limits.max_page_tree_depth) {
        return NotAccepted(absl::StrCat("page tree deeper than ",
                                        limits.max_page_tree_depth, " levels"));
      }
      // A node seen before is a loop or a shared subtree; qpdf refuses or
      // copies those, and walking it again could cost without end.
      if (kid.isIndirect() && !visited.insert(kid.getObjGen()).second) {
        continue;
      }
      stack.emplace_back(kid, depth + 1);
    }
  }
  return absl::OkStatus();
}

absl::Status Check(QPDF& pdf, const DocumentLimits& limits,
                   int64_t* decoded_budget) {
  if (pdf.isEncrypted()) return NotAccepted("is encrypted");
  const std::string too_big =
      absl::StrCat("streams decode to more than ",
                   Bytes(limits.max_decoded_bytes), " (the letter's limit)");
  // Object streams first: resolving any object in one decodes all of it.
  std::set<int> object_streams;
  for (const auto& [objgen, entry] : pdf.getXRefTable()) {
    if (entry.getType() == 2) object_streams.insert(entry.getObjStreamNumber());
  }
  for (int number : object_streams) {
    QPDFObjectHandle stream = pdf.getObjectByID(number, 0);
    if (stream.isStream() && !CountDecoded(stream, decoded_budget)) {
      return NotAccepted(too_big);
    }
  }
  if (absl::Status s = CheckPageTree(pdf, limits); !s.ok()) return s;
  std::vector<QPDFObjectHandle> objects = pdf.getAllObjects();
  for (QPDFObjectHandle& object : objects) {
    if (const char* found = ForbiddenContentInObject(object)) {
      return NotAccepted(found);
    }
  }
  QPDFObjectHandle trailer = pdf.getTrailer();
  if (const char* found = ForbiddenContentInObject(trailer)) {
    return NotAccepted(found);
  }
  for (QPDFObjectHandle& object : objects) {
    if (!object.isStream()) continue;
    if (object_streams.count(object.getObjectID()) > 0) continue;
    if (!CountDecoded(object, decoded_budget)) return NotAccepted(too_big);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckDocumentPolicy(std::string_view content,
                                 const DocumentLimits& limits,
                                 int64_t* decoded_budget) {
  if (!absl::StartsWith(absl::string_view(content.data(), content.size()),
                        "%PDF-")) {
    return absl::OkStatus();  // CheckPdf says what is wrong.
  }
  try {
    QPDF pdf;
    OpenQuietly(pdf, content);
    return Check(pdf, limits, decoded_budget);
  } catch (const QPDFExc& e) {
    if (e.getErrorCode() == qpdf_e_password) return NotAccepted("is encrypted");
    return absl::InvalidArgumentError(
        absl::StrCat("not a PDF: cannot be opened: ", e.getMessageDetail()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PDF: cannot be opened: ", e.what()));
  } catch (...) {
    return absl::InvalidArgumentError(
        "not a PDF: cannot be opened: unknown error in the PDF parser");
  }
}

}  // namespace utpost::inspect
