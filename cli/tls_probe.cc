#include "cli/tls_probe.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace utpost::cli {
namespace {

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

// "host:port", "[v6]:port".
bool SplitHostPort(const std::string& server, std::string* host,
                   std::string* port) {
  if (!server.empty() && server[0] == '[') {
    const size_t close = server.find(']');
    if (close == std::string::npos || close + 1 >= server.size() ||
        server[close + 1] != ':') {
      return false;
    }
    *host = server.substr(1, close - 1);
    *port = server.substr(close + 2);
    return true;
  }
  const size_t colon = server.rfind(':');
  if (colon == std::string::npos) return false;
  *host = server.substr(0, colon);
  *port = server.substr(colon + 1);
  return !host->empty() && !port->empty();
}

int ConnectTcp(const std::string& host, const std::string& port,
               int timeout_ms) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

std::string LastError() {
  std::string out;
  for (unsigned long e; (e = ERR_get_error()) != 0;) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

bool IsAlertAboutUs(const std::string& detail) {
  // The alerts a server sends about a client certificate (RFC 8446 6.2).
  for (const char* alert :
       {"alert unknown ca", "alert bad certificate", "alert certificate",
        "alert unsupported certificate", "alert access denied",
        "alert handshake failure", "alert decrypt error"}) {
    if (detail.find(alert) != std::string::npos) return true;
  }
  return false;
}

std::string NameText(const X509_NAME* name) {
  char buf[512];
  X509_NAME_oneline(name, buf, sizeof(buf));
  return buf;
}

// Whether our certificate's issuer is one the server named as acceptable
// in its certificate request.
std::string IssuerNote(SSL* ssl) {
  X509* ours = SSL_get_certificate(ssl);
  STACK_OF(X509_NAME)* wanted = SSL_get_client_CA_list(ssl);
  if (ours == nullptr || wanted == nullptr) return "";
  const X509_NAME* issuer = X509_get_issuer_name(ours);
  std::string names;
  for (int i = 0; i < sk_X509_NAME_num(wanted); ++i) {
    const X509_NAME* n = sk_X509_NAME_value(wanted, i);
    if (X509_NAME_cmp(n, issuer) == 0) return "";
    if (!names.empty()) names += ", ";
    names += NameText(n);
  }
  if (names.empty()) return "";
  return "; it takes client certificates issued by " + names +
         ", and this one is issued by " + NameText(issuer);
}

}  // namespace

TlsProbeResult ProbeTls(const ConnectionOptions& c, int timeout_ms) {
  TlsProbeResult r;
  std::string host, port;
  if (!SplitHostPort(c.server, &host, &port)) return r;
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return r;
  if (SSL_CTX_load_verify_locations(ctx.get(), c.ca_file.c_str(), nullptr) !=
          1 ||
      SSL_CTX_use_certificate_chain_file(ctx.get(), c.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), c.key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    r.detail = LastError();
    return r;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));

  const int fd = ConnectTcp(host, port, timeout_ms);
  if (fd < 0) return r;
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  in6_addr ip;
  if (inet_pton(AF_INET, host.c_str(), &ip) != 1 &&
      inet_pton(AF_INET6, host.c_str(), &ip) != 1) {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  }
  ERR_clear_error();
  if (SSL_connect(ssl.get()) != 1) {
    r.detail = LastError();
    if (SSL_get_verify_result(ssl.get()) != X509_V_OK) {
      r.verdict = TlsProbeResult::kServerCertUntrusted;
    } else if (IsAlertAboutUs(r.detail)) {
      r.verdict = TlsProbeResult::kClientCertRefused;  // TLS 1.2.
    }
    close(fd);
    return r;
  }
  // TLS 1.3: the server judges our certificate after the handshake. A
  // gRPC server that takes it sends its HTTP/2 settings at once; one that
  // refuses it sends an alert, or (gRPC's) just closes the connection.
  char buf[64];
  ERR_clear_error();
  errno = 0;
  const int n = SSL_read(ssl.get(), buf, sizeof(buf));
  const int err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl.get(), n);
  if (n > 0) {
    r.verdict = TlsProbeResult::kAccepted;
  } else if (err == SSL_ERROR_ZERO_RETURN ||
             (err == SSL_ERROR_SYSCALL && errno != EAGAIN &&
              errno != EWOULDBLOCK) ||
             err == SSL_ERROR_SSL) {
    r.verdict = TlsProbeResult::kClientCertRefused;
    r.detail = LastError();
    if (r.detail.empty() || !IsAlertAboutUs(r.detail)) {
      r.detail = "the server closed the connection right after the handshake";
    }
    r.detail += IssuerNote(ssl.get());
  }
  close(fd);
  return r;
}

}  // namespace utpost::cli
