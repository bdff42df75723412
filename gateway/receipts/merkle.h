// Merkle tree hashing and proofs of RFC 9162 (Certificate Transparency
// version 2), section 2.1, for the receipt log.
//
//   leaf hash: SHA-256(0x00 || leaf bytes)
//   node hash: SHA-256(0x01 || left || right)
//   MTH of n > 1 leaves: node(MTH(first k), MTH(rest)), k the largest power
//   of two below n.
//
// Hashes are raw 32-byte strings. Proof generation reads subtree hashes
// through SubtreeSource, so that a store can answer with O(log n) stored
// nodes instead of all leaves. Verification needs nothing but the proof.
#ifndef UTPOST_GATEWAY_RECEIPTS_MERKLE_H_
#define UTPOST_GATEWAY_RECEIPTS_MERKLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace utpost::receipts::merkle {

std::string LeafHash(std::string_view leaf);
std::string NodeHash(std::string_view left, std::string_view right);
// SHA-256 of the empty string: the root of the empty tree.
std::string EmptyRoot();

// Hashes of perfect subtrees: Perfect(level, index) is the MTH of leaves
// [index << level, (index + 1) << level). Only asked for subtrees that lie
// wholly inside the tree the proof is for.
class SubtreeSource {
 public:
  virtual ~SubtreeSource() = default;
  virtual absl::StatusOr<std::string> Perfect(int level, int64_t index) = 0;
};

// MTH of leaves [lo, hi), lo < hi, for ranges that start on a subtree
// boundary (all ranges the RFC's recursions produce do).
absl::StatusOr<std::string> RangeHash(SubtreeSource& src, int64_t lo,
                                      int64_t hi);

// Root of a tree of `size` leaves (EmptyRoot() for 0).
absl::StatusOr<std::string> RootHash(SubtreeSource& src, int64_t size);

// The audit path of leaf `index` in the tree of the first `size` leaves
// (RFC 9162 2.1.3.1). INVALID_ARGUMENT unless index < size.
absl::StatusOr<std::vector<std::string>> InclusionProof(SubtreeSource& src,
                                                        int64_t index,
                                                        int64_t size);

// The consistency proof between the trees of the first `first` and `second`
// leaves (RFC 9162 2.1.4.1). Empty when first == second. INVALID_ARGUMENT
// unless 0 < first <= second.
absl::StatusOr<std::vector<std::string>> ConsistencyProof(SubtreeSource& src,
                                                          int64_t first,
                                                          int64_t second);

// RFC 9162 2.1.3.2. OK when `proof` shows that `leaf_hash` is leaf `index`
// of the tree of `size` leaves with root `root`; otherwise
// FAILED_PRECONDITION saying why.
absl::Status VerifyInclusion(std::string_view leaf_hash, int64_t index,
                             int64_t size,
                             const std::vector<std::string>& proof,
                             std::string_view root);

// RFC 9162 2.1.4.2. OK when `proof` shows that the tree of `first` leaves
// with root `first_root` is a prefix of the tree of `second` leaves with
// root `second_root`; otherwise FAILED_PRECONDITION saying why.
absl::Status VerifyConsistency(int64_t first, int64_t second,
                               std::string_view first_root,
                               std::string_view second_root,
                               const std::vector<std::string>& proof);

// A SubtreeSource over leaf hashes held in memory; builds every level once.
// For tests, tools and small trees.
class InMemoryTree final : public SubtreeSource {
 public:
  void AddLeafHash(std::string leaf_hash);
  int64_t size() const {
    return levels_.empty() ? 0 : static_cast<int64_t>(levels_[0].size());
  }
  absl::StatusOr<std::string> Perfect(int level, int64_t index) override;

 private:
  // levels_[l][i]: the perfect subtree of level l at index i.
  std::vector<std::vector<std::string>> levels_;
};

}  // namespace utpost::receipts::merkle

#endif  // UTPOST_GATEWAY_RECEIPTS_MERKLE_H_
