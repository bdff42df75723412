#include "gateway/receipts/merkle.h"

#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace utpost::receipts::merkle {
namespace {

std::string Sha256Of(char prefix, std::string_view a, std::string_view b) {
  std::string buf;
  buf.reserve(1 + a.size() + b.size());
  buf.push_back(prefix);
  buf.append(a);
  buf.append(b);
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

// The largest power of two strictly below n (n > 1).
int64_t SplitPoint(int64_t n) {
  int64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

bool IsPowerOfTwo(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

int Log2(int64_t n) {
  int l = 0;
  while ((int64_t{1} << l) < n) ++l;
  return l;
}

// PATH(m, D[lo:hi]) of RFC 9162 2.1.3.1, with m relative to lo.
absl::Status Path(SubtreeSource& src, int64_t m, int64_t lo, int64_t hi,
                  std::vector<std::string>* out) {
  const int64_t n = hi - lo;
  if (n <= 1) return absl::OkStatus();
  const int64_t k = SplitPoint(n);
  if (m < k) {
    RETURN_IF_ERROR(Path(src, m, lo, lo + k, out));
    ASSIGN_OR_RETURN(std::string h, RangeHash(src, lo + k, hi));
    out->push_back(std::move(h));
  } else {
    RETURN_IF_ERROR(Path(src, m - k, lo + k, hi, out));
    ASSIGN_OR_RETURN(std::string h, RangeHash(src, lo, lo + k));
    out->push_back(std::move(h));
  }
  return absl::OkStatus();
}

// SUBPROOF(m, D[lo:hi], b) of RFC 9162 2.1.4.1, with m relative to lo.
absl::Status SubProof(SubtreeSource& src, int64_t m, int64_t lo, int64_t hi,
                      bool b, std::vector<std::string>* out) {
  const int64_t n = hi - lo;
  if (m == n) {
    if (!b) {
      ASSIGN_OR_RETURN(std::string h, RangeHash(src, lo, hi));
      out->push_back(std::move(h));
    }
    return absl::OkStatus();
  }
  const int64_t k = SplitPoint(n);
  if (m <= k) {
    RETURN_IF_ERROR(SubProof(src, m, lo, lo + k, b, out));
    ASSIGN_OR_RETURN(std::string h, RangeHash(src, lo + k, hi));
    out->push_back(std::move(h));
  } else {
    RETURN_IF_ERROR(SubProof(src, m - k, lo + k, hi, false, out));
    ASSIGN_OR_RETURN(std::string h, RangeHash(src, lo, lo + k));
    out->push_back(std::move(h));
  }
  return absl::OkStatus();
}

absl::Status Bad(const std::string& what) {
  return absl::FailedPreconditionError(what);
}

}  // namespace

std::string LeafHash(std::string_view leaf) { return Sha256Of(0x00, leaf, ""); }

std::string NodeHash(std::string_view left, std::string_view right) {
  return Sha256Of(0x01, left, right);
}

std::string EmptyRoot() {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(nullptr, 0, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

absl::StatusOr<std::string> RangeHash(SubtreeSource& src, int64_t lo,
                                      int64_t hi) {
  const int64_t n = hi - lo;
  if (lo < 0 || n <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty leaf range [", lo, ", ", hi, ")"));
  }
  if (IsPowerOfTwo(n) && lo % n == 0) return src.Perfect(Log2(n), lo / n);
  const int64_t k = SplitPoint(n);
  ASSIGN_OR_RETURN(std::string left, RangeHash(src, lo, lo + k));
  ASSIGN_OR_RETURN(std::string right, RangeHash(src, lo + k, hi));
  return NodeHash(left, right);
}

absl::StatusOr<std::string> RootHash(SubtreeSource& src, int64_t size) {
  if (size == 0) return EmptyRoot();
  return RangeHash(src, 0, size);
}

absl::StatusOr<std::vector<std::string>> InclusionProof(SubtreeSource& src,
                                                        int64_t index,
                                                        int64_t size) {
  if (index < 0 || index >= size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "leaf index ", index, " is not in a tree of ", size, " leaves"));
  }
  std::vector<std::string> out;
  RETURN_IF_ERROR(Path(src, index, 0, size, &out));
  return out;
}

absl::StatusOr<std::vector<std::string>> ConsistencyProof(SubtreeSource& src,
                                                          int64_t first,
                                                          int64_t second) {
  if (first <= 0 || first > second) {
    return absl::InvalidArgumentError(
        absl::StrCat("no consistency proof from tree size ", first, " to ",
                     second, " (needs 0 < first <= second)"));
  }
  std::vector<std::string> out;
  if (first == second) return out;
  RETURN_IF_ERROR(SubProof(src, first, 0, second, true, &out));
  return out;
}

absl::Status VerifyInclusion(std::string_view leaf_hash, int64_t index,
                             int64_t size,
                             const std::vector<std::string>& proof,
                             std::string_view root) {
  if (index < 0 || index >= size) {
    return Bad(
        absl::StrCat("leaf index ", index, " is outside tree size ", size));
  }
  uint64_t fn = static_cast<uint64_t>(index);
  uint64_t sn = static_cast<uint64_t>(size - 1);
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (sn == 0) return Bad("inclusion proof is longer than the tree needs");
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Bad("inclusion proof is shorter than the tree needs");
  if (r != root) return Bad("inclusion proof does not lead to the root hash");
  return absl::OkStatus();
}

absl::Status VerifyConsistency(int64_t first, int64_t second,
                               std::string_view first_root,
                               std::string_view second_root,
                               const std::vector<std::string>& proof) {
  if (first <= 0 || first > second) {
    return Bad(absl::StrCat("tree size ", first, " cannot precede ", second));
  }
  if (first == second) {
    if (!proof.empty())
      return Bad("consistency proof for equal sizes is not empty");
    if (first_root != second_root) {
      return Bad("two tree heads of the same size have different roots");
    }
    return absl::OkStatus();
  }
  if (proof.empty()) return Bad("consistency proof is empty");
  std::vector<std::string> path;
  if (IsPowerOfTwo(first)) path.emplace_back(first_root);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = static_cast<uint64_t>(first - 1);
  uint64_t sn = static_cast<uint64_t>(second - 1);
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = path[0];
  std::string sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const std::string& c = path[i];
    if (sn == 0) return Bad("consistency proof is longer than the trees need");
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Bad("consistency proof is shorter than the trees need");
  if (fr != first_root) {
    return Bad("consistency proof does not lead to the older root hash");
  }
  if (sr != second_root) {
    return Bad("consistency proof does not lead to the newer root hash");
  }
  return absl::OkStatus();
}

void InMemoryTree::AddLeafHash(std::string leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(std::move(leaf_hash));
  // Completes every perfect subtree this leaf closes.
  size_t level = 0;
  while (levels_[level].size() % 2 == 0) {
    const auto& below = levels_[level];
    std::string parent =
        NodeHash(below[below.size() - 2], below[below.size() - 1]);
    if (levels_.size() == level + 1) levels_.emplace_back();
    levels_[level + 1].push_back(std::move(parent));
    ++level;
  }
}

absl::StatusOr<std::string> InMemoryTree::Perfect(int level, int64_t index) {
  if (level < 0 || static_cast<size_t>(level) >= levels_.size() || index < 0 ||
      static_cast<size_t>(index) >= levels_[level].size()) {
    return absl::OutOfRangeError(
        absl::StrCat("no complete subtree at level ", level, " index ", index));
  }
  return levels_[level][index];
}

}  // namespace utpost::receipts::merkle
