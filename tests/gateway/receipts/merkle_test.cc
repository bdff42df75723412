#include "gateway/receipts/merkle.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::receipts::merkle {
namespace {

using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

// The RFC's definition, straight: MTH over a list of leaf hashes.
std::string NaiveRoot(const std::vector<std::string>& leaves, size_t lo,
                      size_t hi) {
  if (hi - lo == 1) return leaves[lo];
  size_t k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return NodeHash(NaiveRoot(leaves, lo, lo + k), NaiveRoot(leaves, lo + k, hi));
}

struct Tree {
  std::vector<std::string> leaves;
  InMemoryTree tree;
  explicit Tree(int n) {
    for (int i = 0; i < n; ++i) {
      leaves.push_back(LeafHash(absl::StrCat("leaf ", i)));
      tree.AddLeafHash(leaves.back());
    }
  }
  std::string Root(int64_t size) {
    return NaiveRoot(leaves, 0, static_cast<size_t>(size));
  }
};

TEST(MerkleTest, HashesFollowRfc9162Prefixes) {
  // SHA-256 of the single byte 0x00 (the empty leaf) is a known value.
  EXPECT_EQ(absl::BytesToHexString(LeafHash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(absl::BytesToHexString(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(MerkleTest, RootMatchesTheDefinitionForEverySize) {
  Tree t(70);
  for (int64_t n = 1; n <= 70; ++n) {
    auto root = RootHash(t.tree, n);
    ASSERT_THAT(root, IsOk());
    EXPECT_EQ(*root, t.Root(n)) << n;
  }
}

TEST(MerkleTest, EveryInclusionProofVerifiesAndOnlyForItsLeaf) {
  Tree t(40);
  for (int64_t n = 1; n <= 40; ++n) {
    const std::string root = t.Root(n);
    for (int64_t i = 0; i < n; ++i) {
      auto proof = InclusionProof(t.tree, i, n);
      ASSERT_THAT(proof, IsOk());
      EXPECT_THAT(VerifyInclusion(t.leaves[i], i, n, *proof, root), IsOk())
          << i << " of " << n;
      if (n > 1) {
        const int64_t other = (i + 1) % n;
        EXPECT_THAT(
            VerifyInclusion(t.leaves[i], other, n, *proof, root),
            StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_))
            << i << " at " << other << " of " << n;
        EXPECT_THAT(
            VerifyInclusion(t.leaves[other], i, n, *proof, root),
            StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
      }
    }
  }
}

TEST(MerkleTest, EveryConsistencyProofVerifies) {
  Tree t(40);
  for (int64_t m = 1; m <= 40; ++m) {
    for (int64_t n = m; n <= 40; ++n) {
      auto proof = ConsistencyProof(t.tree, m, n);
      ASSERT_THAT(proof, IsOk());
      EXPECT_THAT(VerifyConsistency(m, n, t.Root(m), t.Root(n), *proof), IsOk())
          << m << " -> " << n;
    }
  }
}

TEST(MerkleTest, ConsistencyFailsForARewrittenHistory) {
  Tree t(20);
  Tree forged(20);
  // Another tree that agrees on the first 6 leaves only.
  forged.leaves[7] = LeafHash("forged");
  InMemoryTree f;
  for (const auto& l : forged.leaves) f.AddLeafHash(l);
  const std::string forged_root = NaiveRoot(forged.leaves, 0, 20);
  for (int64_t m = 8; m < 20; ++m) {
    auto proof = ConsistencyProof(f, m, 20);
    ASSERT_THAT(proof, IsOk());
    // The honest older head cannot be extended to the forged newer one.
    EXPECT_THAT(VerifyConsistency(m, 20, t.Root(m), forged_root, *proof),
                StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_))
        << m;
  }
}

TEST(MerkleTest, ProofsAreLogarithmic) {
  Tree t(1000);
  auto proof = InclusionProof(t.tree, 517, 1000);
  ASSERT_THAT(proof, IsOk());
  EXPECT_LE(proof->size(), 10u);
  auto c = ConsistencyProof(t.tree, 333, 1000);
  ASSERT_THAT(c, IsOk());
  EXPECT_LE(c->size(), 20u);
}

TEST(MerkleTest, BadArgumentsAreRefused) {
  Tree t(4);
  EXPECT_THAT(InclusionProof(t.tree, 4, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ConsistencyProof(t.tree, 0, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ConsistencyProof(t.tree, 3, 2),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

}  // namespace
}  // namespace utpost::receipts::merkle
