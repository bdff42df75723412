// utpostctl: submit and follow letters, and see the gateway's status.
#include <iostream>

#include "CLI/CLI.hpp"
#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace utpost::cli;
  CLI::App app{
      "utpostctl: talk to utpostd.\n"
      "Connection: --server/--ca/--cert/--key, or UTPOST_SERVER, UTPOST_CA,\n"
      "UTPOST_CERT, UTPOST_KEY; defaults 127.0.0.1:7443 and certs-dev/.\n"
      "Exit codes: 0 ok, 1 refused by the server, 2 bad usage or input,\n"
      "3 server unreachable."};
  app.require_subcommand(1);
  app.fallthrough();  // Global options may also follow the command.
  ConnectionOptions conn;
  Output out;
  app.add_option("--server", conn.server, "host:port of utpostd");
  app.add_option("--ca", conn.ca_file, "CA that signed the server (PEM)");
  app.add_option("--cert", conn.cert_file, "client certificate (PEM)");
  app.add_option("--key", conn.key_file, "client key (PEM)");
  app.add_option("--timeout", conn.timeout_seconds, "seconds per call")
      ->capture_default_str();
  app.add_flag("--json", out.json, "machine-readable output");

  auto* submit = app.add_subcommand(
      "submit",
      "submit a letter: utpostctl submit letter.yaml vedtak.pdf\n"
      "or many: utpostctl submit --batch letters/");
  std::string letter_file, batch_dir;
  std::vector<std::string> pdfs;
  int concurrency = 8;
  submit->add_option("letter", letter_file,
                     "YAML/JSON with the SubmitLetterRequest fields");
  submit->add_option("pdfs", pdfs, "PDF documents, main document first");
  submit->add_option("--batch", batch_dir,
                     "submit every .yaml/.yml/.json letter file in DIR");
  submit->add_option("--concurrency", concurrency, "letters in flight")
      ->capture_default_str();

  std::string id;
  auto* get = app.add_subcommand("get", "a letter and its timeline: get ID");
  get->add_option("id", id, "letter id or letters/{id}")->required();

  auto* list = app.add_subcommand("list", "your letters, newest first");
  std::string state, reference;
  int page_size = 100;
  list->add_option("--state", state, "e.g. DELIVERED, SENT_PRINT, PARKED");
  list->add_option("--client-reference", reference, "your reference");
  list->add_option("--page-size", page_size)->capture_default_str();

  auto* watch = app.add_subcommand(
      "watch", "stream state changes: watch --only-new, or --cursor N");
  int64_t cursor = 0;
  bool only_new = false;
  watch->add_option("--cursor", cursor, "resume after this event cursor");
  watch->add_flag("--only-new", only_new, "skip past events");

  auto* cancel = app.add_subcommand("cancel", "cancel a letter: cancel ID");
  cancel->add_option("id", id, "letter id")->required();

  auto* receipts = app.add_subcommand(
      "receipts", "signed receipts of a letter: receipts ID");
  receipts->add_option("id", id, "letter id")->required();

  auto* status = app.add_subcommand(
      "status", "letters per state and queue depths (operator certificate)");

  CLI11_PARSE(app, argc, argv);
  conn = ResolveConnection(conn);
  if (*submit) {
    if (!batch_dir.empty())
      return SubmitBatch(conn, out, batch_dir, concurrency);
    if (letter_file.empty()) {
      std::cerr << "utpostctl submit: a letter file or --batch DIR is needed\n";
      return 2;
    }
    return Submit(conn, out, letter_file, pdfs);
  }
  if (*get) return Get(conn, out, id);
  if (*list) return List(conn, out, state, reference, page_size);
  if (*watch) {
    conn.timeout_seconds = 0;
    return Watch(conn, out, cursor, only_new);
  }
  if (*cancel) return Cancel(conn, out, id);
  if (*receipts) return Receipts(conn, out, id);
  if (*status) return Status(conn, out);
  return 2;
}
