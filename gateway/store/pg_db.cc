#include "gateway/store/pg_db.h"

#include <libpq-fe.h>

#include <cstring>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace utpost::store::internal {
namespace {

// Type oids from the server's pg_type.h (stable across versions).
constexpr unsigned int kBoolOid = 16;
constexpr unsigned int kByteaOid = 17;
constexpr unsigned int kInt8Oid = 20;
constexpr unsigned int kInt2Oid = 21;
constexpr unsigned int kInt4Oid = 23;
constexpr unsigned int kTextOid = 25;
constexpr unsigned int kInt8ArrayOid = 1016;
constexpr unsigned int kTextArrayOid = 1009;

absl::string_view Abs(std::string_view v) {
  return absl::string_view(v.data(), v.size());
}

std::string Head(std::string_view sql) {
  std::string s(sql.substr(0, 160));
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

void IgnoreNotice(void*, const char*) {}

bool Retryable(const absl::Status& s, const PgConnection* conn) {
  if (absl::IsAborted(s)) return true;
  return absl::IsUnavailable(s) && (conn == nullptr || !conn->healthy());
}

}  // namespace

absl::Status PgErrorStatus(const char* sqlstate, bool connection_lost,
                           std::string_view message) {
  std::string msg = absl::StrCat("postgres: ", Abs(message));
  std::string state = sqlstate == nullptr ? "" : sqlstate;
  if (!state.empty()) absl::StrAppend(&msg, " (SQLSTATE ", state, ")");
  if (state.empty()) {
    return connection_lost ? absl::UnavailableError(msg)
                           : absl::InternalError(msg);
  }
  if (state == "40001" || state == "40P01") return absl::AbortedError(msg);
  if (state == "23505") return absl::AlreadyExistsError(msg);
  if (absl::StartsWith(state, "23")) return absl::FailedPreconditionError(msg);
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "53") ||
      state == "57P01" || state == "57P02" || state == "57P03") {
    return absl::UnavailableError(msg);
  }
  if (state == "57014") return absl::DeadlineExceededError(msg);
  if (absl::StartsWith(state, "22")) return absl::InvalidArgumentError(msg);
  if (state == "XX001" || state == "XX002") return absl::DataLossError(msg);
  if (connection_lost) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

// ---- PgParams ----

PgParams& PgParams::Text(std::string_view v) {
  Param& p = params_.emplace_back();
  p.type = kTextOid;
  p.owned.assign(v.data(), v.size());
  return *this;
}

PgParams& PgParams::Bytes(std::string_view v) {
  Param& p = params_.emplace_back();
  p.type = kByteaOid;
  p.format = 1;
  p.owned.assign(v.data(), v.size());
  return *this;
}

PgParams& PgParams::BytesRef(std::string_view v) {
  Param& p = params_.emplace_back();
  p.type = kByteaOid;
  p.format = 1;
  p.ref = v;
  // An empty view still means "this value", not "use owned".
  if (p.ref.data() == nullptr) p.ref = std::string_view("", 0);
  return *this;
}

PgParams& PgParams::Int(int64_t v) {
  Param& p = params_.emplace_back();
  p.type = kInt8Oid;
  p.owned = std::to_string(v);
  return *this;
}

PgParams& PgParams::Bool(bool v) {
  Param& p = params_.emplace_back();
  p.type = kBoolOid;
  p.owned = v ? "t" : "f";
  return *this;
}

PgParams& PgParams::IntArray(const std::vector<int64_t>& v) {
  Param& p = params_.emplace_back();
  p.type = kInt8ArrayOid;
  p.owned = absl::StrCat("{", absl::StrJoin(v, ","), "}");
  return *this;
}

PgParams& PgParams::TextArray(const std::vector<std::string>& v) {
  Param& p = params_.emplace_back();
  p.type = kTextArrayOid;
  // The array literal, every element quoted: backslash and quote escaped.
  p.owned = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) p.owned.push_back(',');
    p.owned.push_back('"');
    for (char c : v[i]) {
      if (c == '"' || c == '\\') p.owned.push_back('\\');
      p.owned.push_back(c);
    }
    p.owned.push_back('"');
  }
  p.owned.push_back('}');
  return *this;
}

PgParams& PgParams::NullInt() {
  Param& p = params_.emplace_back();
  p.type = kInt8Oid;
  p.null = true;
  return *this;
}

PgParams& PgParams::NullText() {
  Param& p = params_.emplace_back();
  p.type = kTextOid;
  p.null = true;
  return *this;
}

// ---- PgResult ----

PgResult::PgResult(PgResult&& other) noexcept
    : res_(std::exchange(other.res_, nullptr)) {}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (res_ != nullptr) PQclear(res_);
    res_ = std::exchange(other.res_, nullptr);
  }
  return *this;
}

PgResult::~PgResult() {
  if (res_ != nullptr) PQclear(res_);
}

int PgResult::rows() const { return res_ == nullptr ? 0 : PQntuples(res_); }

std::string PgResult::command_tag() const {
  return res_ == nullptr ? std::string() : std::string(PQcmdStatus(res_));
}

int PgResult::columns() const { return res_ == nullptr ? 0 : PQnfields(res_); }

int64_t PgResult::affected() const {
  if (res_ == nullptr) return 0;
  int64_t n = 0;
  const char* tuples = PQcmdTuples(res_);
  if (tuples == nullptr || !absl::SimpleAtoi(tuples, &n)) return 0;
  return n;
}

bool PgResult::IsNull(int row, int col) const {
  return PQgetisnull(res_, row, col) != 0;
}

int64_t PgResult::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const auto* p =
      reinterpret_cast<const unsigned char*>(PQgetvalue(res_, row, col));
  int len = PQgetlength(res_, row, col);
  unsigned int type = PQftype(res_, col);
  if (type == kBoolOid) return len == 1 && p[0] != 0 ? 1 : 0;
  if (type == kInt8Oid || type == kInt4Oid || type == kInt2Oid) {
    // Binary integers are big-endian two's complement of 2, 4 or 8 bytes.
    uint64_t v = 0;
    for (int i = 0; i < len; ++i) v = (v << 8) | p[i];
    if (len < 8 && len > 0 && (p[0] & 0x80) != 0) {
      v |= ~uint64_t{0} << (8 * len);
    }
    return static_cast<int64_t>(v);
  }
  // Anything else that came as text (never with binary results).
  int64_t v = 0;
  absl::SimpleAtoi(absl::string_view(reinterpret_cast<const char*>(p),
                                     static_cast<size_t>(len)),
                   &v);
  return v;
}

std::string PgResult::Bytes(int row, int col) const {
  if (IsNull(row, col)) return std::string();
  return std::string(PQgetvalue(res_, row, col),
                     static_cast<size_t>(PQgetlength(res_, row, col)));
}

// ---- PgConnection ----

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Open(
    const Options& options) {
  std::string timeout = std::to_string(options.connect_timeout_s);
  // Earlier entries are defaults that the expanded conninfo overrides;
  // the password comes last so that it wins.
  // TCP keepalives find a server that vanished without closing the
  // connection (a cut network, a powered-off host) within about a minute,
  // instead of the kernel's two hours.
  std::vector<const char*> keys = {
      "connect_timeout",  "fallback_application_name",
      "client_encoding",  "keepalives",
      "keepalives_idle",  "keepalives_interval",
      "keepalives_count", "dbname"};
  std::vector<const char*> values = {timeout.c_str(),
                                     options.application_name.c_str(),
                                     "UTF8",
                                     "1",
                                     "30",
                                     "10",
                                     "3",
                                     options.conninfo.c_str()};
  if (!options.password.empty()) {
    keys.push_back("password");
    values.push_back(options.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  pg_conn* conn =
      PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (conn == nullptr)
    return absl::ResourceExhaustedError("postgres: no memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
      msg.pop_back();
    }
    PQfinish(conn);
    return absl::UnavailableError(
        absl::StrCat("postgres: cannot connect: ", msg));
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

bool PgConnection::InTransaction() const {
  PGTransactionStatusType s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

void PgConnection::RollbackQuietly() {
  if (!healthy() || !InTransaction()) return;
  PGresult* res = PQexec(conn_, "ROLLBACK");
  PQclear(res);
}

int PgConnection::backend_pid() const { return PQbackendPID(conn_); }

absl::Status PgConnection::ResultStatus(pg_result* res, std::string_view what) {
  ExecStatusType st = res == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(res);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
      st == PGRES_EMPTY_QUERY) {
    return absl::OkStatus();
  }
  const char* sqlstate =
      res == nullptr ? nullptr : PQresultErrorField(res, PG_DIAG_SQLSTATE);
  std::string msg = res != nullptr ? PQresultErrorMessage(res) : "";
  if (msg.empty()) msg = PQerrorMessage(conn_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
    msg.pop_back();
  }
  return PgErrorStatus(sqlstate, !healthy(),
                       absl::StrCat(msg, " in: ", Head(what)));
}

absl::Status PgConnection::Exec(std::string_view sql) {
  std::string text(sql);
  PGresult* res = PQexec(conn_, text.c_str());
  absl::Status s = ResultStatus(res, sql);
  if (res != nullptr) PQclear(res);
  return s;
}

absl::StatusOr<PgResult> PgConnection::Query(const std::string& sql,
                                             const PgParams& params) {
  const size_t n = params.params_.size();
  std::vector<const char*> values(n);
  std::vector<int> lengths(n);
  std::vector<int> formats(n);
  std::vector<unsigned int> types(n);
  for (size_t i = 0; i < n; ++i) {
    const PgParams::Param& p = params.params_[i];
    types[i] = p.type;
    formats[i] = p.format;
    if (p.null) {
      values[i] = nullptr;
      lengths[i] = 0;
    } else if (p.ref.data() != nullptr) {
      values[i] = p.ref.data();
      lengths[i] = static_cast<int>(p.ref.size());
    } else {
      values[i] = p.owned.c_str();
      lengths[i] = static_cast<int>(p.owned.size());
    }
  }
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = absl::StrCat("u", prepared_.size() + 1);
    PGresult* res = PQprepare(conn_, name.c_str(), sql.c_str(),
                              static_cast<int>(n), types.data());
    absl::Status s = ResultStatus(res, sql);
    if (res != nullptr) PQclear(res);
    // Not remembered when it failed (for instance in a failed
    // transaction): the next use prepares it again.
    if (!s.ok()) return s;
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  PGresult* res = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(n),
                                 values.data(), lengths.data(), formats.data(),
                                 /*resultFormat=*/1);
  absl::Status s = ResultStatus(res, sql);
  if (!s.ok()) {
    if (res != nullptr) PQclear(res);
    return s;
  }
  return PgResult(res);
}

absl::StatusOr<int64_t> PgConnection::Command(const std::string& sql,
                                              const PgParams& params) {
  ASSIGN_OR_RETURN(PgResult r, Query(sql, params));
  return r.affected();
}

// ---- PgPool ----

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Open(const Options& options) {
  if (options.size < 1) {
    return absl::InvalidArgumentError("postgres: pool size must be at least 1");
  }
  std::unique_ptr<PgPool> pool(new PgPool(options));
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> first,
                   PgConnection::Open(options.connection));
  absl::MutexLock lock(&pool->mu_);
  pool->idle_.push_back(std::move(first));
  pool->open_ = 1;
  return pool;
}

PgPool::~PgPool() {
  absl::MutexLock lock(&mu_);
  idle_.clear();
}

absl::StatusOr<PgPool::Lease> PgPool::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    auto can_go = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.size;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&can_go),
                              options_.acquire_timeout)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "postgres: all ", options_.size, " connections stayed busy for ",
          absl::FormatDuration(options_.acquire_timeout)));
    }
    while (!idle_.empty()) {
      std::unique_ptr<PgConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->healthy()) return Lease(this, std::move(conn));
      --open_;
    }
    ++open_;  // Reserved for the connection opened below.
  }
  absl::StatusOr<std::unique_ptr<PgConnection>> conn =
      PgConnection::Open(options_.connection);
  if (!conn.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    return conn.status();
  }
  return Lease(this, *std::move(conn));
}

absl::StatusOr<std::unique_ptr<PgConnection>> PgPool::OpenDedicated() {
  return PgConnection::Open(options_.connection);
}

int PgPool::open_connections() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

void PgPool::Return(std::unique_ptr<PgConnection> conn) {
  if (conn->InTransaction()) conn->RollbackQuietly();
  absl::MutexLock lock(&mu_);
  if (conn->healthy() && !conn->InTransaction()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
}

PgPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Return(std::move(conn_));
}

// ---- Transactions ----

namespace {

// After a connection was lost during COMMIT: whether transaction `xid`
// committed, asked on a new connection.
absl::Status CommitOutcome(PgPool& pool, const std::string& xid,
                           const absl::Status& lost) {
  absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
  if (lease.ok()) {
    PgParams p;
    p.Text(xid);
    absl::StatusOr<PgResult> r =
        (*lease)->Query("SELECT pg_xact_status($1::xid8)", p);
    if (r.ok() && r->rows() == 1 && !r->IsNull(0, 0)) {
      std::string fate = r->Text(0, 0);
      if (fate == "committed") return absl::OkStatus();
      if (fate == "aborted") {
        return absl::UnavailableError(absl::StrCat(
            "postgres: the connection was lost during COMMIT and the "
            "transaction did not commit: ",
            lost.message()));
      }
    }
  }
  return absl::UnavailableError(absl::StrCat(
      "postgres: the connection was lost during COMMIT and whether the "
      "transaction committed is unknown (transaction ",
      xid, "): ", lost.message()));
}

}  // namespace

absl::Status RunPgTransaction(
    PgPool& pool, PgTxMode mode,
    const std::function<absl::Status(PgConnection&)>& fn, int max_attempts) {
  const char* begin = mode == PgTxMode::kWrite
                          ? "BEGIN ISOLATION LEVEL READ COMMITTED"
                          : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  absl::Status last;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    if (attempt > 1) {
      // Give a contending transaction or a restarting server a moment.
      std::this_thread::sleep_for(std::chrono::milliseconds(10 * attempt));
    }
    absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
    if (!lease.ok()) {
      last = lease.status();
      if (absl::IsUnavailable(last)) continue;
      return last;
    }
    PgConnection& conn = **lease;
    last = conn.Exec(begin);
    if (!last.ok()) {
      if (Retryable(last, &conn)) continue;
      return last;
    }
    last = fn(conn);
    if (!last.ok()) {
      conn.RollbackQuietly();
      if (Retryable(last, &conn)) continue;
      return last;
    }
    std::string xid;
    if (mode == PgTxMode::kWrite) {
      absl::StatusOr<PgResult> r =
          conn.Query("SELECT pg_current_xact_id_if_assigned()::text");
      if (!r.ok()) {
        last = r.status();
        conn.RollbackQuietly();
        if (Retryable(last, &conn)) continue;
        return last;
      }
      if (r->rows() == 1 && !r->IsNull(0, 0)) xid = r->Text(0, 0);
    }
    {
      absl::StatusOr<PgResult> r = conn.Query("COMMIT");
      if (r.ok()) {
        // COMMIT of a failed transaction answers ROLLBACK, not an error.
        if (r->command_tag() == "COMMIT") return absl::OkStatus();
        return absl::InternalError(
            "postgres: COMMIT rolled back a transaction that had failed");
      }
      last = r.status();
    }
    if (absl::IsAborted(last)) continue;  // Serialization failure at commit.
    if (!conn.healthy()) {
      if (xid.empty()) {
        // Nothing was written: nothing to lose, and nothing to retry.
        return absl::OkStatus();
      }
      return CommitOutcome(pool, xid, last);
    }
    return last;
  }
  return last;
}

}  // namespace utpost::store::internal
