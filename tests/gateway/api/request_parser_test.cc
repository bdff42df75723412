#include "gateway/api/request_parser.h"

#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {
namespace {

using ::testing::HasSubstr;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using ::utpost::v1::SubmitLetterRequest;

// Protobuf's C++ setters do not check UTF-8, so a message with a bad string
// serialises as a hostile client would send it.
std::string Bytes(const SubmitLetterRequest& request) {
  std::string out;
  request.SerializePartialToString(&out);
  return out;
}

SubmitLetterRequest Valid() {
  SubmitLetterRequest r;
  r.set_client_reference("ref-1");
  r.mutable_recipient()->set_person("01017012343");
  r.set_title("Vedtak \xC3\xB8");
  auto* doc = r.add_documents();
  doc->set_file_name("vedtak.pdf");
  doc->set_content(std::string("\xFF\xFE not UTF-8, and bytes may be", 30));
  return r;
}

TEST(ParseRequestTest, ParsesAValidMessage) {
  SubmitLetterRequest parsed;
  ASSERT_THAT(ParseRequest(Bytes(Valid()), &parsed), IsOk());
  EXPECT_EQ(parsed.title(), "Vedtak \xC3\xB8");
  EXPECT_EQ(parsed.documents(0).content(), Valid().documents(0).content());
}

TEST(ParseRequestTest, NamesTheFieldWithInvalidUtf8) {
  struct Case {
    void (*mutate)(SubmitLetterRequest&);
    const char* message;
  };
  const Case cases[] = {
      {[](SubmitLetterRequest& r) { r.set_title("bad \xC3\x28"); },
       "title: not valid UTF-8 (at byte 5)"},
      {[](SubmitLetterRequest& r) { r.set_client_reference("\xFF"); },
       "client_reference: not valid UTF-8 (at byte 1)"},
      {[](SubmitLetterRequest& r) {
         r.add_documents()->set_file_name("b\xE2\x82.pdf");
       },
       "documents[1].file_name: not valid UTF-8"},
      {[](SubmitLetterRequest& r) {
         r.mutable_recipient()->set_person("0101701234\xC0");
       },
       "recipient.person: not valid UTF-8"},
      {[](SubmitLetterRequest& r) {
         auto* a = r.mutable_recipient()->mutable_postal_address();
         a->add_address_lines("ok");
         a->add_address_lines("\xED\xA0\x80");
       },
       "recipient.postal_address.address_lines[1]: not valid UTF-8"},
  };
  for (const Case& c : cases) {
    SubmitLetterRequest request = Valid();
    c.mutate(request);
    SubmitLetterRequest parsed;
    EXPECT_THAT(
        ParseRequest(Bytes(request), &parsed),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

TEST(ParseRequestTest, RefusesBytesThatAreNoMessage) {
  SubmitLetterRequest parsed;
  for (std::string bytes :
       {std::string("\x0a\xff\xff\xff\xff\x0f", 6), std::string("\x0a\x05ab"),
        std::string("\x22\x03\x0a\x05x"), std::string("\xff")}) {
    EXPECT_THAT(ParseRequest(bytes, &parsed),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         "request: not a valid SubmitLetterRequest message"));
  }
}

TEST(ParseRequestTest, SkipsUnknownFields) {
  std::string bytes = Bytes(Valid());
  bytes += std::string("\xa0\x06\x01", 3);  // Field 100, varint 1.
  SubmitLetterRequest parsed;
  EXPECT_THAT(ParseRequest(bytes, &parsed), IsOk());
}

}  // namespace
}  // namespace utpost::api
