// What the dispatcher needs from the outside world: who a recipient is
// (registry) and a way to hand a letter to a provider (channel). Each is a
// small interface; the implementations speak HTTPS to the real services'
// shapes (../PROTOCOLS.md) and are chosen by name from configuration.
#ifndef UTPOST_ADAPTERS_CHANNEL_H_
#define UTPOST_ADAPTERS_CHANNEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace utpost::adapters {

// What the contact registry says of one person.
struct PersonContact {
  std::string person_number;
  enum class Status { kActive, kDeleted, kNotRegistered };
  Status status = Status::kNotRegistered;
  bool reserved = false;  // "reservasjon": "JA": never digital.
  // Empty when the person has no digital mailbox.
  std::string mailbox_address;
  // Organisation number of the mailbox provider (Digipost 984661185,
  // e-Boks 922020175); empty without a mailbox.
  std::string mailbox_provider;
  // The mailbox's encryption certificate (DER, from the registry's
  // "sertifikat"); DPI encrypts the document package to it. May be empty.
  std::string mailbox_certificate;
  // Where the person takes notices of new post ("kontaktinformasjon":
  // "epostadresse", "mobiltelefonnummer"); empty when unknown. DPI names
  // them in the business message's "varsler".
  std::string email;
  std::string mobile;
};

// Thread-safe.
class Registry {
 public:
  virtual ~Registry() = default;
  // Looks up up to 1000 persons in one call. Every number asked for gets an
  // entry (kNotRegistered when the registry does not know it). Errors are
  // classified as for Channel below: IsTransient() codes are transient;
  // INVALID_ARGUMENT is a refusal of the numbers asked; anything else is
  // the gateway's set-up.
  virtual absl::StatusOr<std::vector<PersonContact>> LookupPersons(
      const std::vector<std::string>& person_numbers) = 0;
};

struct PostalAddress {
  std::string name;
  std::vector<std::string> lines;
  std::string postal_code;
  std::string city;
  std::string country_code;  // Empty: Norway.
};

// What the business registry (and the organisation inbox service) say of
// one organisation.
struct OrganisationContact {
  std::string organisation_number;
  enum class Status { kActive, kDeleted, kNotRegistered };
  Status status = Status::kNotRegistered;
  std::string name;
  PostalAddress postal_address;  // For print.
  // True when the organisation can receive Altinn-style correspondence.
  bool has_inbox = false;
};

// Thread-safe. Errors classified as for Registry.
class OrganisationRegistry {
 public:
  virtual ~OrganisationRegistry() = default;
  // kNotRegistered (not an error) when the registry does not know it.
  virtual absl::StatusOr<OrganisationContact> LookupOrganisation(
      const std::string& organisation_number) = 0;
};

struct OutgoingDocument {
  std::string file_name;
  std::string media_type;
  std::string content;
  std::string sha256_hex;
};

// One letter as a channel sends it.
struct OutgoingLetter {
  // Stable across attempts: the provider's idempotency key. A repeat of
  // the same id is answered as a duplicate, which counts as success.
  std::string message_id;
  std::string tenant;               // Organisation number of the sender.
  std::string person_number;        // Set for a person.
  std::string organisation_number;  // Set for an organisation.
  std::string title;
  std::vector<OutgoingDocument> documents;  // The first is the main one.
  PostalAddress recipient_address;          // For print.
  PostalAddress return_address;             // For print.
  bool color = false;
  bool duplex = false;
  bool a_post = false;
  bool shred_if_undeliverable = false;
  // The recipient's digital mailbox, from the registry (PersonContact), for
  // channels that address a mailbox (DPI).
  std::string mailbox_address;
  std::string mailbox_provider;
  std::string mailbox_certificate;  // DER.
  // Shown to the recipient only after stronger authentication.
  bool confidential = false;
};

// What happened to one send.
struct SendResult {
  enum class Outcome {
    kAccepted,   // The provider took it (first time).
    kDuplicate,  // The provider already had this message id: success.
  };
  Outcome outcome = Outcome::kAccepted;
  // True when the provider reports the letter in the mailbox already.
  bool delivered = false;
  // Provider's own reference or status text, kept as evidence.
  std::string provider_reference;
  // Who took the letter, named on the hand-over receipt: the provider's
  // organisation number where it is known (Digipost 984661185; for DPI the
  // mailbox provider, e-Boks 922020175; Altinn's operator Digdir 991825827;
  // the print provider's configured number), else the provider's name.
  // Never empty.
  std::string provider;
};

// Something a provider reports about a letter after the hand-off: a
// delivery or read receipt, a print or return notice, a late failure. The
// dispatcher applies it forward only (a late or out-of-order event never
// moves a letter back) and keeps every event as evidence.
struct ProviderEvent {
  // The provider's id of this event, unique per provider: a repeat of the
  // same event is recognised and recorded once.
  std::string event_id;
  std::string message_id;  // OutgoingLetter::message_id it is about.
  enum class Kind {
    kDelivered,           // In the recipient's mailbox or inbox.
    kRead,                // Opened by the recipient.
    kNotificationFailed,  // E-mail/SMS notice failed; the letter is there.
    kPrintReceived,       // The print provider has the job.
    kPosted,              // Printed and handed to the postal service.
    kReturned,            // Returned as undeliverable.
    kFailed,              // The provider gave up on the letter.
  };
  Kind kind = Kind::kDelivered;
  int64_t time_ms = 0;   // When the provider says it happened.
  std::string provider;  // Organisation number or name of the provider.
  std::string reason;    // The provider's words, for kFailed and kReturned.
  // The provider's own receipt, verbatim (for example a signed JWS), after
  // the adapter verified it against the provider's certificate; empty when
  // the provider signs nothing.
  std::string evidence;
};

// A way to hand letters to a provider. Thread-safe.
//
// Errors are classified by code so the dispatcher can decide:
//   INVALID_ARGUMENT: the provider refuses this letter (permanent, no
//     retry: fallback or FAILED).
//   UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, RESOURCE_EXHAUSTED: transient
//     (retry).
//   anything else (PERMISSION_DENIED, FAILED_PRECONDITION, NOT_FOUND,
//     UNAUTHENTICATED): the gateway's configuration or the provider's
//     set-up is wrong (retry with backoff, then park for an operator).
// So INVALID_ARGUMENT is only for what is wrong with the letter itself;
// credentials, signatures, addresses and other set-up problems use another
// code, since they would refuse every letter alike. The message says what
// the provider answered.
class Channel {
 public:
  virtual ~Channel() = default;
  // "digital" or "print".
  virtual std::string name() const = 0;
  virtual absl::StatusOr<SendResult> Send(const OutgoingLetter& letter) = 0;

  // Events the provider has for us since the last ConfirmEvents, at most
  // `max`, oldest first. Errors as for Send. Providers that report nothing
  // after the hand-off keep this default.
  virtual absl::StatusOr<std::vector<ProviderEvent>> FetchEvents(int max) {
    return std::vector<ProviderEvent>{};
  }
  // Tells the provider that these events are stored and need not be sent
  // again (for providers whose event feed is a queue).
  virtual absl::Status ConfirmEvents(
      const std::vector<std::string>& event_ids) {
    return absl::OkStatus();
  }
};

// Where a channel is in a provider's event feed that is read by position
// (a cursor or an offset), kept outside the process (the daemon keeps it in
// the store) so that a restarted worker, or a second one, goes on from
// there instead of reading the feed from its start. Positions are the
// channel's own strings. Thread-safe.
class FeedPositions {
 public:
  virtual ~FeedPositions() = default;
  // The position saved for `feed`; "" when none was.
  virtual absl::StatusOr<std::string> Load(const std::string& feed) = 0;
  // Moves `feed` from `from` to `to`; false when another reader moved it
  // first (this one then loads it again).
  virtual absl::StatusOr<bool> Move(const std::string& feed,
                                    const std::string& from,
                                    const std::string& to) = 0;
};

// True for the codes a channel or registry uses for transient errors.
inline bool IsTransient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
         absl::IsInternal(s) || absl::IsResourceExhausted(s);
}

// True for a provider's refusal of the letter itself (permanent: fall back
// or fail); anything else not transient is the gateway's own set-up.
inline bool IsLetterRefusal(const absl::Status& s) {
  return absl::IsInvalidArgument(s);
}

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_CHANNEL_H_
