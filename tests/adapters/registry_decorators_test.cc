// Batching and caching registries, and the contact registry client's use of
// tokens and certificates.
#include "adapters/registry/registry_decorators.h"

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/mutex.h"
#include "adapters/http/fake_http_client.h"
#include "adapters/registry/business_registry.h"
#include "adapters/registry/krr_registry.h"
#include "common/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace utpost::adapters {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;
using ::utpost::testing::IsOk;
using ::utpost::testing::StatusIs;
using Status = PersonContact::Status;

// Answers every number as active, counting calls and numbers.
class CountingRegistry final : public Registry {
 public:
  absl::StatusOr<std::vector<PersonContact>> LookupPersons(
      const std::vector<std::string>& numbers) override {
    {
      absl::MutexLock lock(&mu_);
      sizes_.push_back(numbers.size());
    }
    if (fail_) return absl::UnavailableError("down");
    std::vector<PersonContact> out;
    for (const std::string& n : numbers) {
      PersonContact c;
      c.person_number = n;
      c.status = Status::kActive;
      c.mailbox_address = "box-" + n;
      out.push_back(c);
    }
    return out;
  }
  std::vector<size_t> sizes() {
    absl::MutexLock lock(&mu_);
    return sizes_;
  }
  std::atomic<bool> fail_{false};

 private:
  absl::Mutex mu_;
  std::vector<size_t> sizes_ ABSL_GUARDED_BY(mu_);
};

std::string Number(int i) { return std::to_string(10000000000LL + i); }

TEST(BatchingRegistryTest, CoalescesConcurrentCallsIntoFullBatches) {
  auto counting = std::make_unique<CountingRegistry>();
  CountingRegistry* inner = counting.get();
  BatchingRegistryOptions options;
  options.window_ms = 2000;  // Long: the batches close by filling up.
  options.max_in_flight = 1;
  auto registry = NewBatchingRegistry(std::move(counting), options);
  constexpr int kThreads = 250;
  constexpr int kPerCall = 10;  // 2500 numbers: ceil(2500/1000) = 3.
  absl::Barrier* start = new absl::Barrier(kThreads);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::string> numbers;
      for (int i = 0; i < kPerCall; ++i) numbers.push_back(Number(t * 100 + i));
      if (start->Block()) delete start;
      auto result = registry->LookupPersons(numbers);
      if (!result.ok() || result->size() != numbers.size()) {
        ++wrong;
        return;
      }
      for (size_t i = 0; i < numbers.size(); ++i) {
        if ((*result)[i].person_number != numbers[i] ||
            (*result)[i].mailbox_address != "box-" + numbers[i]) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  std::vector<size_t> sizes = inner->sizes();
  EXPECT_EQ(sizes.size(), 3u);
  size_t total = 0;
  for (size_t s : sizes) {
    EXPECT_LE(s, 1000u);
    total += s;
  }
  EXPECT_EQ(total, 2500u);
}

TEST(BatchingRegistryTest, ALoneCallGoesAfterTheWindow) {
  auto counting = std::make_unique<CountingRegistry>();
  CountingRegistry* inner = counting.get();
  auto registry = NewBatchingRegistry(std::move(counting), {});
  auto start = absl::Now();
  auto result = registry->LookupPersons({Number(1)});
  ASSERT_THAT(result, IsOk());
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_THAT(inner->sizes(), ElementsAre(1u));
}

TEST(BatchingRegistryTest, AnErrorReachesEveryCallerOfTheBatch) {
  auto counting = std::make_unique<CountingRegistry>();
  counting->fail_ = true;
  auto registry = NewBatchingRegistry(std::move(counting), {});
  EXPECT_THAT(registry->LookupPersons({Number(1)}),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

TEST(CachingRegistryTest, ReusesAnswersUntilTheyExpire) {
  FakeClock clock(1'000'000);
  auto counting = std::make_unique<CountingRegistry>();
  CountingRegistry* inner = counting.get();
  RegistryCacheOptions options;
  options.lifetime_ms = 60'000;
  options.clock = &clock;
  auto registry = NewCachingRegistry(std::move(counting), options);
  ASSERT_THAT(registry->LookupPersons({Number(1), Number(2)}), IsOk());
  clock.Advance(59'000);
  // Number(1) cached; Number(3) new; asked once although listed twice.
  auto result = registry->LookupPersons({Number(1), Number(3), Number(3)});
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->size(), 3u);
  EXPECT_EQ((*result)[0].person_number, Number(1));
  EXPECT_EQ((*result)[1].person_number, Number(3));
  EXPECT_EQ((*result)[2].person_number, Number(3));
  clock.Advance(1'000);  // Number(1) and Number(2) expire now.
  ASSERT_THAT(registry->LookupPersons({Number(1), Number(3)}), IsOk());
  EXPECT_THAT(inner->sizes(), ElementsAre(2u, 1u, 1u));
}

TEST(CachingRegistryTest, LifetimeZeroDisablesTheCache) {
  auto counting = std::make_unique<CountingRegistry>();
  CountingRegistry* inner = counting.get();
  RegistryCacheOptions options;
  options.lifetime_ms = 0;
  auto registry = NewCachingRegistry(std::move(counting), options);
  ASSERT_THAT(registry->LookupPersons({Number(1)}), IsOk());
  ASSERT_THAT(registry->LookupPersons({Number(1)}), IsOk());
  EXPECT_EQ(inner->sizes().size(), 2u);
}

TEST(CachingRegistryTest, ErrorsAreNotCached) {
  FakeClock clock(0);
  auto counting = std::make_unique<CountingRegistry>();
  CountingRegistry* inner = counting.get();
  inner->fail_ = true;
  RegistryCacheOptions options;
  options.clock = &clock;
  auto registry = NewCachingRegistry(std::move(counting), options);
  EXPECT_FALSE(registry->LookupPersons({Number(1)}).ok());
  inner->fail_ = false;
  EXPECT_THAT(registry->LookupPersons({Number(1)}), IsOk());
}

// ---- The contact registry client with tokens ----

class ScriptedTokens final : public TokenSource {
 public:
  absl::StatusOr<std::string> Token(const std::string& scope) override {
    absl::MutexLock lock(&mu_);
    scopes.push_back(scope);
    return "token-" + std::to_string(generation);
  }
  void Invalidate(const std::string&, const std::string& token) override {
    absl::MutexLock lock(&mu_);
    if (token == "token-" + std::to_string(generation)) ++generation;
    ++invalidations;
  }
  absl::Mutex mu_;
  int generation = 1;
  int invalidations = 0;
  std::vector<std::string> scopes;
};

absl::StatusOr<HttpResponse> Reply(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(KrrRegistryTokenTest, RefreshesTheTokenOnceAfterA401) {
  ScriptedTokens tokens;
  FakeHttpClient http([](const HttpRequest& request) {
    if (FindHeader(request.headers, "Authorization") != "Bearer token-2") {
      return Reply(401, R"({"error":"invalid_token"})");
    }
    return Reply(200, R"({"personer": [{"personidentifikator": "01817010055",
                                        "status": "AKTIV"}]})");
  });
  KrrRegistryOptions options;
  options.base_url = "https://krr.test";
  options.tokens = &tokens;
  auto registry = NewKrrRegistry(options, &http);
  auto result = registry->LookupPersons({"01817010055"});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ((*result)[0].status, Status::kActive);
  EXPECT_EQ(http.requests().size(), 2u);
  EXPECT_EQ(tokens.invalidations, 1);
  EXPECT_EQ(tokens.scopes[0], kKrrScope);
}

TEST(KrrRegistryTokenTest, ASecond401IsASetUpError) {
  ScriptedTokens tokens;
  FakeHttpClient http(
      [](const HttpRequest&) { return Reply(401, R"({"error":"no"})"); });
  KrrRegistryOptions options;
  options.base_url = "https://krr.test";
  options.tokens = &tokens;
  auto registry = NewKrrRegistry(options, &http);
  EXPECT_THAT(registry->LookupPersons({"01817010055"}),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  EXPECT_EQ(http.requests().size(), 2u);
}

// ---- The business registry ----

TEST(BusinessRegistryTest, ReadsNameAddressDeletionAndInbox) {
  const std::string token_file = ::testing::TempDir() + "/pat";
  {
    std::ofstream out(token_file);
    out << "  aaa.bbb.ccc\n";
  }
  FakeHttpClient http([](const HttpRequest& request) {
    const std::string& url = request.url;
    if (url == "https://brreg.test/enhetsregisteret/api/enheter/910000004") {
      return Reply(200, R"({"organisasjonsnummer": "910000004",
          "navn": "Testbedrift AS",
          "postadresse": {"adresse": ["Postboks 100 Sentrum"],
                          "postnummer": "0101", "poststed": "OSLO",
                          "landkode": "NO"}})");
    }
    if (url == "https://brreg.test/enhetsregisteret/api/enheter/943000018") {
      return Reply(410, R"({"organisasjonsnummer": "943000018",
                            "slettedato": "2024-05-31"})");
    }
    if (url == "https://brreg.test/enhetsregisteret/api/enheter/932000008") {
      return Reply(200, R"({"organisasjonsnummer": "932000008",
                            "navn": "Utenboks"})");
    }
    if (absl::StartsWith(url, "https://altinn.test/register/")) {
      // Only with the platform access token, never a bearer token.
      if (FindHeader(request.headers, "PlatformAccessToken") != "aaa.bbb.ccc" ||
          FindHeader(request.headers, "Authorization").has_value()) {
        return Reply(403, "");
      }
      return absl::EndsWith(url, "/910000004")
                 ? Reply(200, R"({"orgNumber": "910000004"})")
                 : Reply(404, "");
    }
    return Reply(404, R"({"status": 404})");
  });
  BusinessRegistryOptions options;
  options.base_url = "https://brreg.test/";
  options.altinn_url = "https://altinn.test";
  options.platform_access_token_file = token_file;
  auto registry = NewBusinessRegistry(options, &http);
  auto active = registry->LookupOrganisation("910000004");
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ(active->status, OrganisationContact::Status::kActive);
  EXPECT_EQ(active->name, "Testbedrift AS");
  EXPECT_THAT(active->postal_address.lines,
              ElementsAre("Postboks 100 Sentrum"));
  EXPECT_EQ(active->postal_address.postal_code, "0101");
  EXPECT_EQ(active->postal_address.city, "OSLO");
  EXPECT_TRUE(active->has_inbox);

  auto deleted = registry->LookupOrganisation("943000018");
  ASSERT_THAT(deleted, IsOk());
  EXPECT_EQ(deleted->status, OrganisationContact::Status::kDeleted);
  EXPECT_FALSE(deleted->has_inbox);

  auto unknown = registry->LookupOrganisation("954000001");
  ASSERT_THAT(unknown, IsOk());
  EXPECT_EQ(unknown->status, OrganisationContact::Status::kNotRegistered);

  // Active in Enhetsregisteret, but Altinn's register does not know it.
  auto not_party = registry->LookupOrganisation("932000008");
  ASSERT_THAT(not_party, IsOk());
  EXPECT_EQ(not_party->status, OrganisationContact::Status::kActive);
  EXPECT_FALSE(not_party->has_inbox);

  EXPECT_THAT(registry->LookupOrganisation("12345"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));

  // Without a platform access token Altinn's register is not called, and
  // an active unit can receive correspondence.
  const size_t before = http.requests().size();
  options.platform_access_token_file.clear();
  auto unasked =
      NewBusinessRegistry(options, &http)->LookupOrganisation("932000008");
  ASSERT_THAT(unasked, IsOk());
  EXPECT_TRUE(unasked->has_inbox);
  EXPECT_EQ(http.requests().size(), before + 1);
}

TEST(BusinessRegistryTest, CachedAnswersAreReusedForTheLifetime) {
  FakeClock clock(0);
  FakeHttpClient http([](const HttpRequest&) {
    return Reply(200, R"({"navn": "X", "forretningsadresse": {
                           "adresse": ["Vei 1"], "postnummer": "0101",
                           "poststed": "OSLO"}})");
  });
  RegistryCacheOptions cache;
  cache.lifetime_ms = 10'000;
  cache.clock = &clock;
  auto registry = NewCachingOrganisationRegistry(
      NewBusinessRegistry({"https://brreg.test"}, &http), cache);
  auto first = registry->LookupOrganisation("910000004");
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->postal_address.city, "OSLO");
  EXPECT_FALSE(first->has_inbox);  // No Altinn configured.
  ASSERT_THAT(registry->LookupOrganisation("910000004"), IsOk());
  EXPECT_EQ(http.requests().size(), 1u);
  clock.Advance(10'000);
  ASSERT_THAT(registry->LookupOrganisation("910000004"), IsOk());
  EXPECT_EQ(http.requests().size(), 2u);
}

}  // namespace
}  // namespace utpost::adapters
