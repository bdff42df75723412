#include "gateway/api/document_upload.h"

#include <map>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace utpost::api {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;

constexpr char kBergen[] = "964338531";
constexpr char kOslo[] = "958935420";

std::string Pdf(size_t size) {
  std::string s = "%PDF-1.7\n";
  s.resize(size, 'x');
  return s;
}

v1::UploadDocumentRequest Header(int64_t size, const std::string& sha256,
                                 const std::string& media_type = "") {
  v1::UploadDocumentRequest m;
  m.mutable_header()->set_size_bytes(size);
  m.mutable_header()->set_sha256(sha256);
  m.mutable_header()->set_media_type(media_type);
  return m;
}

v1::UploadDocumentRequest Chunk(std::string bytes) {
  v1::UploadDocumentRequest m;
  m.set_chunk(std::move(bytes));
  return m;
}

TEST(UploadAssemblerTest, ChunksMakeTheDocumentTheHeaderAnnounced) {
  const std::string doc = Pdf(10'000);
  UploadAssembler a(1 << 20);
  ASSERT_THAT(a.Take(Header(doc.size(), Sha256Hex(doc), "application/PDF")),
              IsOk());
  for (size_t at = 0; at < doc.size(); at += 3'000) {
    ASSERT_THAT(a.Take(Chunk(doc.substr(at, 3'000))), IsOk());
  }
  auto u = a.Finish();
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->sha256_hex, Sha256Hex(doc));
  EXPECT_EQ(u->content, doc);
}

TEST(UploadAssemblerTest, TheHeaderIsCheckedAndComesFirstAndOnce) {
  const std::string sha = Sha256Hex("x");
  EXPECT_THAT(UploadAssembler(100).Take(Chunk("%PDF-")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("chunk: the header must come first")));
  EXPECT_THAT(UploadAssembler(100).Take(v1::UploadDocumentRequest()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("part: a header or a chunk is required")));
  EXPECT_THAT(UploadAssembler(100).Take(Header(0, sha)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header.size_bytes: must be 1..100, got 0")));
  EXPECT_THAT(UploadAssembler(100).Take(Header(101, sha)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header.size_bytes: must be 1..100")));
  EXPECT_THAT(UploadAssembler(100).Take(Header(10, "ABC")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header.sha256: expected 64 lowercase hex")));
  std::string upper = sha;
  upper[0] = 'A';
  upper[1] = 'B';
  EXPECT_THAT(
      UploadAssembler(100).Take(Header(10, upper)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header.sha256")));
  EXPECT_THAT(
      UploadAssembler(100).Take(Header(10, sha, "image/png")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("header.media_type: must be application/pdf")));
  UploadAssembler twice(100);
  ASSERT_THAT(twice.Take(Header(10, sha)), IsOk());
  EXPECT_THAT(twice.Take(Header(10, sha)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header: sent twice")));
  EXPECT_THAT(UploadAssembler(100).Finish(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header: required")));
}

TEST(UploadAssemblerTest, NoMoreAndNoFewerBytesThanAnnounced) {
  const std::string doc = Pdf(100);
  UploadAssembler more(1000);
  ASSERT_THAT(more.Take(Header(100, Sha256Hex(doc))), IsOk());
  ASSERT_THAT(more.Take(Chunk(doc)), IsOk());
  EXPECT_THAT(more.Take(Chunk("x")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("more than the 100 bytes the header "
                                 "announced")));
  UploadAssembler fewer(1000);
  ASSERT_THAT(fewer.Take(Header(100, Sha256Hex(doc))), IsOk());
  ASSERT_THAT(fewer.Take(Chunk(doc.substr(0, 60))), IsOk());
  EXPECT_THAT(fewer.Finish(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("60 bytes arrived, the header announced "
                                 "100")));
}

TEST(UploadAssemblerTest, TheDigestMustMatch) {
  const std::string doc = Pdf(100);
  std::string other = doc;
  other[50] = 'y';
  UploadAssembler a(1000);
  ASSERT_THAT(a.Take(Header(100, Sha256Hex(doc))), IsOk());
  ASSERT_THAT(a.Take(Chunk(other)), IsOk());
  EXPECT_THAT(a.Finish(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header.sha256: the document that arrived "
                                 "has SHA-256 " +
                                 Sha256Hex(other))));
}

TEST(UploadAssemblerTest, ANonPdfIsRefusedAsSoonAsItsFirstBytesAreIn) {
  const std::string doc = "GIF89a and more";
  UploadAssembler a(1000);
  ASSERT_THAT(a.Take(Header(doc.size(), Sha256Hex(doc))), IsOk());
  // Byte by byte: the check waits for five bytes, then refuses.
  for (int i = 0; i < 4; ++i)
    ASSERT_THAT(a.Take(Chunk(doc.substr(i, 1))), IsOk());
  EXPECT_THAT(a.Take(Chunk(doc.substr(4, 1))),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("chunk: not a PDF")));
  // A document shorter than the magic is no PDF either.
  UploadAssembler tiny(1000);
  ASSERT_THAT(tiny.Take(Header(3, Sha256Hex("%PD"))), IsOk());
  ASSERT_THAT(tiny.Take(Chunk("%PD")), IsOk());
  EXPECT_THAT(tiny.Finish(), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("not a PDF")));
}

TEST(UploadSlotsTest, TakenSlotsComeBackAndATenantHoldsHalfAtMost) {
  UploadSlots slots(4);
  int h[8];
  auto none = [] {};
  EXPECT_TRUE(slots.TryTake(kBergen, &h[0], none));
  EXPECT_TRUE(slots.TryTake(kBergen, &h[1], none));
  EXPECT_FALSE(slots.TryTake(kBergen, &h[2], none));  // Its half.
  EXPECT_TRUE(slots.TryTake(kOslo, &h[3], none));
  EXPECT_TRUE(slots.TryTake("974760673", &h[4], none));
  EXPECT_FALSE(slots.TryTake(kOslo, &h[5], none));  // All four taken.
  slots.Give(kBergen, &h[0]);
  EXPECT_TRUE(slots.TryTake(kOslo, &h[5], none));
  EXPECT_FALSE(slots.TryTake(kOslo, &h[6], none));
  slots.Give(kOslo, &h[3]);
  slots.Give(kOslo, &h[5]);
  EXPECT_TRUE(slots.TryTake(kBergen, &h[6], none));
  // One slot: one tenant may still take it.
  UploadSlots one(1);
  EXPECT_TRUE(one.TryTake(kBergen, &h[7], none));
  EXPECT_FALSE(one.TryTake(kOslo, &h[0], none));
  one.Give(kBergen, &h[7]);
  EXPECT_TRUE(one.TryTake(kOslo, &h[0], none));
}

TEST(UploadSlotsTest, AStalledUploadIsCancelledOnce) {
  FakeClock clock(1'000'000);
  UploadSlots slots(4, &clock);
  int a = 0, b = 0;
  int cancelled_a = 0, cancelled_b = 0;
  ASSERT_TRUE(slots.TryTake(kBergen, &a, [&] { ++cancelled_a; }));
  ASSERT_TRUE(slots.TryTake(kOslo, &b, [&] { ++cancelled_b; }));
  clock.Advance(40'000);
  slots.Touch(&b);  // b keeps sending.
  EXPECT_EQ(slots.CancelIdle(60'000), 0);
  clock.Advance(20'000);
  EXPECT_EQ(slots.CancelIdle(60'000), 1);
  EXPECT_EQ(cancelled_a, 1);
  EXPECT_EQ(cancelled_b, 0);
  // Not twice while its call ends.
  clock.Advance(60'000);
  EXPECT_EQ(slots.CancelIdle(60'000), 1);
  EXPECT_EQ(cancelled_a, 1);
  EXPECT_EQ(cancelled_b, 1);
  // Its slot comes back when the call gives it.
  slots.Give(kBergen, &a);
  slots.Give(kOslo, &b);
  int c = 0;
  EXPECT_TRUE(slots.TryTake(kBergen, &c, [] {}));
  EXPECT_EQ(slots.CancelIdle(60'000), 0);
}

// Uploads by (tenant, digest), without expiry.
class FakeUploads final : public store::UploadStore {
 public:
  void Add(const std::string& tenant, const std::string& content) {
    store::UploadRecord u;
    u.tenant = tenant;
    u.sha256_hex = Sha256Hex(content);
    u.content = content;
    uploads_[{tenant, u.sha256_hex}] = u;
  }
  absl::StatusOr<int64_t> PutUpload(store::UploadRecord, int64_t) override {
    return absl::UnimplementedError("not here");
  }
  absl::StatusOr<store::UploadRecord> GetUpload(
      const std::string& tenant, const std::string& sha256_hex) override {
    auto it = uploads_.find({tenant, sha256_hex});
    if (it == uploads_.end()) return absl::NotFoundError("none");
    return it->second;
  }
  absl::StatusOr<int64_t> DeleteExpiredUploads() override { return 0; }

 private:
  std::map<std::pair<std::string, std::string>, store::UploadRecord> uploads_;
};

TEST(ResolveUploadsTest, UploadedDocumentsTakeTheirPlaceInTheLetter) {
  FakeUploads uploads;
  const std::string big = Pdf(5000);
  uploads.Add(kBergen, big);
  v1::SubmitLetterRequest letter;
  letter.add_documents()->set_content("%PDF-1.4 inline");
  letter.add_documents()->set_upload_sha256(Sha256Hex(big));
  ValidationLimits limits;
  limits.max_upload_bytes = 10'000;

  auto resolved = ResolveUploads(&uploads, kBergen, letter, limits);
  ASSERT_THAT(resolved, IsOk());
  ASSERT_NE(*resolved, nullptr);
  EXPECT_EQ((*resolved)->documents(0).content(), "%PDF-1.4 inline");
  EXPECT_EQ((*resolved)->documents(1).content(), big);
  EXPECT_EQ((*resolved)->documents(1).upload_sha256(), "");
  // The request itself is left as it was.
  EXPECT_EQ(letter.documents(1).upload_sha256(), Sha256Hex(big));

  // Without a reference there is nothing to do.
  v1::SubmitLetterRequest plain;
  plain.add_documents()->set_content("%PDF-1.4 inline");
  auto none = ResolveUploads(&uploads, kBergen, plain, limits);
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(*none, nullptr);
  // Without an upload store a letter naming an upload cannot go on; one
  // that names none can.
  EXPECT_THAT(ResolveUploads(nullptr, kBergen, letter, limits),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("uploads are not available here")));
  EXPECT_THAT(ResolveUploads(nullptr, kBergen, plain, limits), IsOk());
}

TEST(ResolveUploadsTest, AnotherTenantsOrAnUnknownUploadIsNone) {
  FakeUploads uploads;
  const std::string big = Pdf(5000);
  uploads.Add(kBergen, big);
  v1::SubmitLetterRequest letter;
  letter.add_documents()->set_upload_sha256(Sha256Hex(big));
  EXPECT_THAT(ResolveUploads(&uploads, kOslo, letter, ValidationLimits()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("documents[0].upload_sha256: no upload " +
                                 Sha256Hex(big) + " of this tenant")));
}

TEST(ResolveUploadsTest, TheLetterWithUploadsIsLimitedInAll) {
  FakeUploads uploads;
  const std::string big = Pdf(6000);
  uploads.Add(kBergen, big);
  v1::SubmitLetterRequest letter;
  letter.add_documents()->set_upload_sha256(Sha256Hex(big));
  letter.add_documents()->set_content(Pdf(5000));
  ValidationLimits limits;
  limits.max_upload_bytes = 10'000;
  EXPECT_THAT(ResolveUploads(&uploads, kBergen, letter, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents: 11000 bytes in all, the limit "
                                 "for a letter with uploads is 10000")));
  limits.max_upload_bytes = 5000;
  EXPECT_THAT(ResolveUploads(&uploads, kBergen, letter, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("documents[0].upload_sha256: 6000 bytes, the "
                                 "limit is 5000")));
}

}  // namespace
}  // namespace utpost::api
