#include "adapters/dpi/dpi_receipts.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "adapters/json_fields.h"
#include "common/mask.h"

namespace utpost::adapters {
namespace {

using nlohmann::json;

constexpr char kOrganisationIcd[] = "0192:";
constexpr size_t kMaxReason = 300;
constexpr size_t kMaxQuoted = 40;
constexpr size_t kMaxKanal = 28;

struct ReceiptType {
  const char* name;
  ProviderEvent::Kind kind;
};

// The receipt types of the published schemas (schemas/dpi/
// innbyggerpost_dpi_<name>_1_0.schema.json) and what each says happened.
constexpr ReceiptType kTypes[] = {
    {"leveringskvittering", ProviderEvent::Kind::kDelivered},
    {"aapningskvittering", ProviderEvent::Kind::kRead},
    {"varslingfeiletkvittering", ProviderEvent::Kind::kNotificationFailed},
    {"mottakskvittering", ProviderEvent::Kind::kPrintReceived},
    {"returpostkvittering", ProviderEvent::Kind::kReturned},
    {"feil", ProviderEvent::Kind::kFailed},
};

const json& Member(const json& object, const char* key) {
  static const json* const kNull = new json();
  if (!object.is_object()) return *kNull;
  auto it = object.find(key);
  return it != object.end() ? *it : *kNull;
}

// A few characters of hostile text for a message: masked, cut, and with
// control characters replaced.
std::string Quote(absl::string_view text) {
  std::string cut(text.substr(0, kMaxQuoted));
  for (char& c : cut) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return absl::StrCat("\"", MaskPersonNumbersIn(cut),
                      text.size() > kMaxQuoted ? "...\"" : "\"");
}

std::string Reason(absl::string_view text) {
  std::string cut(text.substr(0, kMaxReason));
  // Do not leave half a UTF-8 sequence at the end.
  while (text.size() > kMaxReason && !cut.empty() &&
         (static_cast<unsigned char>(cut.back()) & 0xC0) == 0x80) {
    cut.pop_back();
  }
  if (text.size() > kMaxReason && !cut.empty() &&
      static_cast<unsigned char>(cut.back()) >= 0xC0) {
    cut.pop_back();
  }
  for (char& c : cut) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return MaskPersonNumbersIn(cut);
}

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a DPI receipt of the published shape: ", what));
}

}  // namespace

bool IsDpiUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-'
             : !absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

absl::Status CheckDpiKanal(absl::string_view kanal) {
  if (kanal.size() > kMaxKanal) {
    return absl::InvalidArgumentError("dpi.kanal: at most 28 characters");
  }
  for (char c : kanal) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-') {
      return absl::InvalidArgumentError(
          "dpi.kanal: only a-z, A-Z, 0-9, '_' and '-'");
    }
  }
  return absl::OkStatus();
}

std::string DpiReceiptListQuery(absl::string_view kanal,
                                absl::string_view avsenderidentifikator,
                                int page_size) {
  auto encode = [](absl::string_view value) {
    std::string out;
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if (absl::ascii_isalnum(u) || c == '-' || c == '_' || c == '.' ||
          c == '~') {
        out.push_back(c);
      } else {
        static constexpr char kHex[] = "0123456789ABCDEF";
        out.push_back('%');
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 0xF]);
      }
    }
    return out;
  };
  std::string query = absl::StrCat("?page_size=", page_size);
  if (!kanal.empty()) absl::StrAppend(&query, "&kanal=", encode(kanal));
  if (!avsenderidentifikator.empty()) {
    absl::StrAppend(&query,
                    "&avsenderidentifikator=", encode(avsenderidentifikator));
  }
  return query;
}

absl::StatusOr<ProviderEvent> ParseDpiReceipt(const json& payload) {
  const json& sbd = Member(payload, "standardBusinessDocument");
  if (!sbd.is_object()) return Malformed("no standardBusinessDocument");
  const json& header = Member(sbd, "standardBusinessDocumentHeader");
  if (!header.is_object()) {
    return Malformed("no standardBusinessDocumentHeader");
  }
  const json& ident = Member(header, "documentIdentification");
  const std::string type = StringField(ident, "type");
  const ReceiptType* known = nullptr;
  for (const ReceiptType& t : kTypes) {
    if (type == t.name) known = &t;
  }
  if (known == nullptr) {
    return Malformed(absl::StrCat("unknown receipt type ", Quote(type)));
  }
  // The schemas allow the header and the type's own body, nothing else.
  for (auto it = sbd.begin(); it != sbd.end(); ++it) {
    if (it.key() != "standardBusinessDocumentHeader" && it.key() != type) {
      return Malformed(
          absl::StrCat("a ", type, " that also carries ", Quote(it.key())));
    }
  }
  const json& body = Member(sbd, type.c_str());
  if (!body.is_object()) return Malformed(absl::StrCat("no ", type, " body"));

  ProviderEvent event;
  event.kind = known->kind;
  event.event_id = StringField(ident, "instanceIdentifier");
  if (!IsDpiUuid(event.event_id)) {
    return Malformed(absl::StrCat("instanceIdentifier ", Quote(event.event_id),
                                  " is not a UUID"));
  }
  const json& scopes = Member(Member(header, "businessScope"), "scope");
  if (scopes.is_array()) {
    for (const json& scope : scopes) {
      if (StringField(scope, "type") != "ConversationId") continue;
      std::string id = StringField(scope, "instanceIdentifier");
      if (!event.message_id.empty() && id != event.message_id) {
        return Malformed("two different ConversationIds");
      }
      event.message_id = std::move(id);
    }
  }
  if (!IsDpiUuid(event.message_id)) {
    return Malformed(event.message_id.empty()
                         ? "no ConversationId"
                         : absl::StrCat("ConversationId ",
                                        Quote(event.message_id),
                                        " is not a UUID"));
  }
  // sbdh.schema.json: exactly one sender; it is the mailbox provider (or
  // print service), named as an organisation, "0192:" + its number.
  const json& senders = Member(header, "sender");
  std::string sender;
  if (senders.is_array() && senders.size() == 1) {
    sender = StringField(Member(senders[0], "identifier"), "value");
  }
  absl::string_view number(sender);
  bool organisation = number.substr(0, 5) == kOrganisationIcd;
  number.remove_prefix(organisation ? 5 : 0);
  organisation = organisation && number.size() == 9;
  for (char c : number) {
    organisation =
        organisation && absl::ascii_isdigit(static_cast<unsigned char>(c));
  }
  if (!organisation) {
    return Malformed(absl::StrCat("sender ", Quote(sender),
                                  " is not 0192:<organisation number>"));
  }
  event.provider = std::string(number);

  const std::string tidspunkt = StringField(body, "tidspunkt");
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, tidspunkt, &time, &error)) {
    return Malformed(
        absl::StrCat("tidspunkt ", Quote(tidspunkt), " is not RFC 3339"));
  }
  event.time_ms = absl::ToUnixMillis(time);

  if (known->kind == ProviderEvent::Kind::kFailed) {
    const std::string feiltype = StringField(body, "feiltype");
    if (feiltype != "KLIENT" && feiltype != "SERVER") {
      return Malformed(
          absl::StrCat("feiltype ", Quote(feiltype), " is not KLIENT|SERVER"));
    }
    const std::string detaljer = StringField(body, "detaljer");
    event.reason = Reason(
        detaljer.empty() ? feiltype : absl::StrCat(feiltype, ": ", detaljer));
  } else if (known->kind == ProviderEvent::Kind::kNotificationFailed) {
    const std::string kanal = StringField(body, "varslingskanal");
    if (kanal != "epost" && kanal != "sms") {
      return Malformed(
          absl::StrCat("varslingskanal ", Quote(kanal), " is not epost|sms"));
    }
    const std::string beskrivelse = StringField(body, "beskrivelse");
    event.reason = Reason(
        beskrivelse.empty() ? kanal : absl::StrCat(kanal, ": ", beskrivelse));
  }
  return event;
}

}  // namespace utpost::adapters
