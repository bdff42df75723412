#!/usr/bin/env bash
# DEVELOPMENT ONLY. Makes the throw-away PKI that the local stack and the
# tests use. Every key made here is committed to a public repository and is
# therefore known to everyone: never use any of it in production.
#
#   certs-dev/make-certs.sh        # (re)make everything in certs-dev/
#
# Files:
#   ca.pem / ca.key                 development CA (signs everything below)
#   server.pem / server.key         utpostd and utpost-sim: localhost, 127.0.0.1
#   tenant-<orgnr>.pem / .key       client certificates of the sample tenants;
#                                   organisationIdentifier=NTRNO-<orgnr>
#   operator.pem / operator.key     operator client certificate (CN=operator)
#   receipts.pem / receipts.key     receipt-signing certificate, EC P-256
#   receipts-2.pem / receipts-2.key a second receipt-signing certificate, for
#                                   key rotation tests and examples
#   sender.pem / sender.key         RSA-2048 business certificate that signs
#                                   requests to the mailbox provider
#   other-ca.pem, stranger.pem/.key a second CA and a client certificate it
#                                   issued, for tests of refused clients
#   two-orgs.pem / two-orgs.key     a client certificate whose subject names
#                                   two organisations (Bergen and Oslo), which
#                                   the gateway must refuse
#   eboks-mailbox.pem / .key        RSA-2048 encryption certificate of the
#                                   simulated e-Boks mailboxes (the registry's
#                                   "sertifikat"; DPI packages are encrypted
#                                   to it)
#   dpi-provider.pem / .key         RSA-2048 certificate with which the
#                                   simulated DPI provider signs its receipts
#   digipost-provider.pem / .key    RSA-2048 certificate with which the
#                                   simulated Digipost signs its responses
#                                   (published in its entry point)
set -euo pipefail
cd "$(dirname "$0")"
days=3650
subj_base="/C=NO"

ca() {  # name subject
  openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days "$days" \
    -keyout "$1.key" -out "$1.pem" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() {  # name subject ca keyspec extensions...
  local name=$1 subj=$2 issuer=$3 keyspec=$4
  shift 4
  local ext
  ext=$(mktemp)
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "$@" >"$ext"
  if [ "$keyspec" = ec ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name.key" 2>/dev/null
  fi
  openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
    -CAcreateserial -days "$days" -sha256 -extfile "$ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$ext"
}

rm -f ./*.pem ./*.key ./*.srl
ca ca "$subj_base/O=Utpost development CA (NOT FOR PRODUCTION)/CN=Utpost Dev Root CA"
leaf server "$subj_base/O=Utpost development/CN=localhost" ca rsa \
  "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" \
  "subjectAltName=DNS:localhost,IP:127.0.0.1"
# Two sample municipalities, each named by its organisation number.
leaf tenant-964338531 "$subj_base/O=Bergen kommune/organizationIdentifier=NTRNO-964338531/CN=Bergen kommune sakssystem" ca rsa \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth"
leaf tenant-958935420 "$subj_base/O=Oslo kommune/organizationIdentifier=NTRNO-958935420/CN=Oslo kommune arkiv" ca rsa \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth"
leaf operator "$subj_base/O=Utpost operations/CN=operator" ca rsa \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth"
leaf receipts "$subj_base/O=Utpost development/CN=Utpost receipt signer" ca ec \
  "keyUsage=critical,digitalSignature"
leaf receipts-2 "$subj_base/O=Utpost development/CN=Utpost receipt signer 2" ca ec \
  "keyUsage=critical,digitalSignature"
leaf sender "$subj_base/O=Utpost development/organizationIdentifier=NTRNO-964338531/CN=Utpost sender" ca rsa \
  "keyUsage=critical,digitalSignature"
leaf eboks-mailbox "$subj_base/O=Utpost development/organizationIdentifier=NTRNO-922020175/CN=e-Boks mailbox (simulated)" ca rsa \
  "keyUsage=critical,keyEncipherment,dataEncipherment"
leaf dpi-provider "$subj_base/O=Utpost development/organizationIdentifier=NTRNO-922020175/CN=DPI provider receipts (simulated)" ca rsa \
  "keyUsage=critical,digitalSignature"
leaf digipost-provider "$subj_base/O=Utpost development/organizationIdentifier=NTRNO-984661185/CN=Digipost responses (simulated)" ca rsa \
  "keyUsage=critical,digitalSignature"
# Refused by the gateway: which of the two organisations would it be?
leaf two-orgs "$subj_base/O=Bergen kommune/organizationIdentifier=NTRNO-964338531/organizationIdentifier=NTRNO-958935420/CN=Two organisations" ca rsa \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth"
ca other-ca "$subj_base/O=Somebody else/CN=Unrelated CA"
leaf stranger "$subj_base/O=Bergen kommune/organizationIdentifier=NTRNO-964338531/CN=Impostor" other-ca rsa \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth"
rm -f other-ca.key ./*.srl
chmod 600 ./*.key
echo "certs-dev: development PKI written to $(pwd) (NOT FOR PRODUCTION)"
