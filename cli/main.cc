// utpostctl: submit and follow letters; operators see and steer the gateway.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/arguments.h"
#include "cli/audit_commands.h"
#include "cli/commands.h"
#include "cli/evidence_command.h"
#include "cli/ops_commands.h"
#include "cli/output.h"
#include "cli/stats_commands.h"
#include "cli/usage.h"
#include "common/version.h"

int main(int argc, char** argv) {
  using namespace utpost::cli;
  // utpostctl says what failed in its own words (a refused handshake
  // included); gRPC's internal log lines would only repeat it. Still
  // available with GRPC_VERBOSITY=ERROR.
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);
  CLI::App app{
      "utpostctl: talk to utpostd.\n"
      "Connection: --server/--ca/--cert/--key, or UTPOST_SERVER, UTPOST_CA,\n"
      "UTPOST_CERT, UTPOST_KEY, or a config file (--config FILE, default\n"
      "~/.config/utpost/utpostctl.yaml if present; keys server, ca, cert,\n"
      "key, timeout); flags win over the environment, which wins over the\n"
      "file. Defaults 127.0.0.1:7443 and certs-dev/.\n"
      "The certificate and key go together: give both or neither.\n"
      "Letter ids may be shortened to a unique prefix (4 or more\n"
      "characters), as in git; an ambiguous one lists its letters.\n"
      "Channels: " +
      ChannelList() +
      ".\n"
      "States (any case): " +
      StateList() +
      ".\n"
      "Exit codes:\n"
      "  0  ok\n"
      "  1  the server refused or failed the call (an error such as\n"
      "     NOT_FOUND or PERMISSION_DENIED, a TLS handshake it refused),\n"
      "     or a prompt was not confirmed, or (submit --preflight) some\n"
      "     letters would fail\n"
      "  2  bad usage or input, found before any call: an unknown command,\n"
      "     flag, state or channel, a value out of range, an unreadable\n"
      "     file, an ambiguous id prefix, redrive --all without --yes\n"
      "     when stdin is no terminal\n"
      "  3  the server unreachable (nothing answered in time; worth a\n"
      "     retry)"};
  app.set_version_flag("--version", utpost::VersionLine("utpostctl"));
  app.require_subcommand(1);
  app.fallthrough();  // Global options may also follow the command.
  ConnectionOptions conn;
  Output out;
  app.add_option("--server", conn.server, "host:port of utpostd");
  app.add_option("--ca", conn.ca_file, "CA that signed the server (PEM)");
  app.add_option("--cert", conn.cert_file,
                 "client certificate (PEM); needs --key");
  app.add_option("--key", conn.key_file, "client key (PEM); needs --cert");
  app.add_option("--timeout", conn.timeout_seconds,
                 "seconds per call (default 30)");
  app.add_option("--config", conn.config_file,
                 "connection settings file (YAML)");
  app.add_flag("--json", out.json, "machine-readable output");

  auto* submit = app.add_subcommand(
      "submit", "submit one letter, or a batch from a directory or a file");
  submit->footer(
      "--batch DIR submits every .yaml/.yml/.json file of DIR; --batch FILE\n"
      "submits every letter of a JSON Lines file (one letter per line) or a\n"
      "YAML list, `files:` relative to FILE, on SubmitBatch streams. Progress, "
      "rate and ETA go to\n"
      "stderr (frames on a terminal, one closing line otherwise), then\n"
      "\"N submitted, M already submitted, R refused\" and the failures.\n"
      "A letter refused for the tenant's rate is sent again after the\n"
      "retry delay the gateway gave (one of a minute at most; a daily\n"
      "quota's is reported as refused).\n"
      "--follow then watches the batch until every letter is DELIVERED,\n"
      "READ, SENT_PRINT, PRINTED, FAILED, CANCELLED or PARKED, and\n"
      "prints the letters per state.\n"
      "--preflight submits nothing: the gateway checks every letter as it\n"
      "would at submission and looks its recipient up, and utpostctl\n"
      "prints letters, sheets, envelopes and cost per channel and the\n"
      "letters that would fail with file and reason. Exit 0: all would go;\n"
      "1: some would fail; 2: a file could not be read.\n"
      "Examples:\n"
      "  utpostctl submit examples/letter.yaml\n"
      "  utpostctl submit letter.yaml vedtak.pdf vedlegg.pdf\n"
      "  utpostctl submit --batch letters/ --concurrency 16 --json\n"
      "  utpostctl submit --batch tax-run.jsonl --follow\n"
      "  utpostctl submit --batch tax-run/ --preflight");
  std::string letter_file, batch_dir;
  std::vector<std::string> pdfs;
  int concurrency = 8;
  submit->add_option("letter", letter_file,
                     "YAML/JSON with the SubmitLetterRequest fields");
  submit->add_option("pdfs", pdfs, "PDF documents, main document first");
  submit->add_option("--batch", batch_dir,
                     "DIR of letter files, or a FILE of letters");
  submit
      ->add_option("--concurrency", concurrency,
                   "SubmitBatch streams at once, 1 to 256 (each with up to 64 "
                   "letters in flight)")
      ->capture_default_str();
  bool follow = false;
  submit->add_flag("--follow", follow,
                   "with --batch: follow the letters to their final states");
  bool preflight = false;
  submit->add_flag("--preflight", preflight,
                   "with --batch: submit nothing; say where each letter would "
                   "go, what fails, sheets, envelopes and cost");

  auto* upload = app.add_subcommand(
      "upload", "upload a PDF too large to send along with its letter");
  upload->footer(
      "Sends FILE with UploadDocument and prints its SHA-256; a letter file\n"
      "then names it instead of sending it along:\n"
      "  documents:\n"
      "    - {file_name: plan.pdf, upload_sha256: <the SHA-256>}\n"
      "The gateway keeps an upload 24 hours, up to its\n"
      "limits.max_upload_bytes.");
  std::string upload_file;
  int chunk_bytes = 1 << 20;
  upload->add_option("file", upload_file, "the PDF")->required();
  upload
      ->add_option("--chunk-bytes", chunk_bytes,
                   "bytes per message, 1 KiB to 4 MiB")
      ->capture_default_str();

  std::string id;
  auto* get = app.add_subcommand("get", "a letter and its timeline");
  get->footer(
      "Example:\n"
      "  utpostctl get 0b7c9f2e-5d1a-4c3e-9f00-1a2b3c4d5e6f --json\n"
      "  utpostctl get 0b7c9f2e   (a unique prefix of the id)");
  const std::string id_help =
      "letter id, letters/{id}, or a unique prefix of the id";
  get->add_option("id", id, id_help)->required();

  auto* list = app.add_subcommand("list", "your letters, newest first");
  list->footer(
      "Examples:\n"
      "  utpostctl list --state DELIVERED --page-size 20\n"
      "  utpostctl list --page-size 20 --page-token TOKEN   (the next page)");
  std::string state, reference, page_token;
  int page_size = 100;
  list->add_option("--state", state, "one of " + StateList() + " (any case)");
  list->add_option("--client-reference", reference, "your reference");
  list->add_option("--page-size", page_size, "letters per page, 1 to 1000")
      ->capture_default_str();
  list->add_option("--page-token", page_token,
                   "the next page, from a previous \"(more: ...)\" line");

  auto* watch = app.add_subcommand(
      "watch", "stream state changes; each line starts with #CURSOR");
  watch->footer(
      "--cursor CURSOR resumes after the event of the line #CURSOR.\n"
      "Examples:\n"
      "  utpostctl watch --only-new\n"
      "  utpostctl watch --cursor 1234   (the events after #1234)");
  int64_t cursor = 0;
  bool only_new = false;
  watch
      ->add_option("--cursor", cursor,
                   "resume after this event cursor (the #N of a line)")
      ->check(CLI::NonNegativeNumber);
  watch->add_flag("--only-new", only_new, "skip past events");

  auto* cancel = app.add_subcommand(
      "cancel",
      "cancel a letter not yet handed off (an operator: any tenant's)");
  cancel->footer(
      "Example:\n"
      "  utpostctl cancel 0b7c9f2e-5d1a-4c3e-9f00-1a2b3c4d5e6f");
  cancel->add_option("id", id, id_help)->required();

  auto* receipts =
      app.add_subcommand("receipts", "signed receipts (JWS) of a letter");
  receipts->footer(
      "Example:\n"
      "  utpostctl receipts 0b7c9f2e-5d1a-4c3e-9f00-1a2b3c4d5e6f --json");
  receipts->add_option("id", id, id_help)->required();

  OpsCommands ops(&app);

  AuditCommands audit(app);
  StatsCommands stats(app);
  EvidenceCommand evidence(app);

  // Set after the subcommands, which would otherwise inherit it.
  app.footer(
      "Examples:\n"
      "  utpostctl submit examples/letter.yaml\n"
      "  utpostctl list --state DELIVERED\n"
      "  utpostctl watch --only-new\n"
      "  utpostctl --cert certs-dev/operator.pem --key certs-dev/operator.key "
      "status\n"
      "Run utpostctl COMMAND --help for a command's options and examples.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help: print it, exit 0.
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 says "The following arguments were not expected"; name the
    // unknown word and what it was probably meant as.
    const std::string unknown =
        DiagnoseUnknown(app, std::vector<std::string>(argv + 1, argv + argc));
    std::cerr << "utpostctl: " << (unknown.empty() ? e.what() : unknown) << "\n"
              << "Run with --help for more information.\n";
    return kUsage;
  }
  auto resolved = ResolveConnection(conn);
  if (!resolved.ok()) {
    std::cerr << "utpostctl: " << resolved.status().message() << "\n";
    return kUsage;
  }
  conn = *resolved;
  if (*submit) {
    if (concurrency < 1 || concurrency > 256) {
      std::cerr << "utpostctl submit: --concurrency: " << concurrency
                << " is out of range (1 to 256)\n";
      return kUsage;
    }
    if (follow && batch_dir.empty()) {
      std::cerr << "utpostctl submit: --follow goes with --batch\n";
      return kUsage;
    }
    if (preflight && (batch_dir.empty() || follow)) {
      std::cerr << "utpostctl submit: --preflight goes with --batch, "
                   "without --follow\n";
      return kUsage;
    }
    if (preflight) return PreflightBatch(conn, out, batch_dir);
    if (!batch_dir.empty())
      return SubmitBatch(conn, out, batch_dir, concurrency, follow);
    if (letter_file.empty()) {
      std::cerr << "utpostctl submit: a letter file or --batch DIR is needed\n";
      return kUsage;
    }
    return Submit(conn, out, letter_file, pdfs);
  }
  if (*upload) {
    if (chunk_bytes < 1024 || chunk_bytes > (4 << 20)) {
      std::cerr << "utpostctl upload: --chunk-bytes: " << chunk_bytes
                << " is out of range (1024 to 4194304)\n";
      return kUsage;
    }
    return Upload(conn, out, upload_file, chunk_bytes);
  }
  if (*get) return Get(conn, out, id);
  if (*list) return List(conn, out, state, reference, page_size, page_token);
  if (*watch) {
    if (cursor < 0) {
      std::cerr << "utpostctl watch: --cursor: " << cursor
                << " is negative; give the #N of a watch line, or 0\n";
      return kUsage;
    }
    conn.timeout_seconds = 0;
    return Watch(conn, out, cursor, only_new);
  }
  if (*cancel) return CancelAnyTenant(conn, out, id);
  if (*receipts) return Receipts(conn, out, id);
  if (ops.Selected()) return ops.Run(conn, out);
  if (audit.Selected()) return audit.Run(conn, out);
  if (stats.Selected()) return stats.Run(conn, out);
  if (evidence.Selected()) return evidence.Run(conn);
  return kUsage;
}
