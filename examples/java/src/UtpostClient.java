// A minimal Utpost client for a case system, in Java with grpc-java: submits
// one letter, watches it to a settled state (resuming the watch where it
// stopped) and verifies its receipts offline against the CA: each receipt's
// ES256 signature and certificate chain, the letter's hash chain, and the
// newest receipt's inclusion in the signed receipt log (RFC 9162). Nothing
// beyond grpc-java, protobuf-java and the JDK.
//
// Build and run: see examples/java/build.sh and docs/integration.md.
//
//   OUT/run --server 127.0.0.1:7443 --ca certs-dev/ca.pem \
//       --cert certs-dev/tenant-964338531.pem \
//       --key certs-dev/tenant-964338531.key \
//       --person 01817010055 --pdf examples/vedtak.pdf \
//       --client-reference SAK-2026-42/1 --title Vedtak
//
// Exit code 0 when the letter settled and its receipts verified; 1 when the
// server refused the letter or a check failed; 2 for bad arguments; 3 when
// the server cannot be reached.

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import utpost.v1.Audit.EvidenceBundle;
import utpost.v1.Audit.LoggedReceipt;
import utpost.v1.LetterOuterClass.DeliveryPolicy;
import utpost.v1.LetterOuterClass.Document;
import utpost.v1.LetterOuterClass.GetLetterRequest;
import utpost.v1.LetterOuterClass.GetReceiptsRequest;
import utpost.v1.LetterOuterClass.Letter;
import utpost.v1.LetterOuterClass.LetterEvent;
import utpost.v1.LetterOuterClass.Recipient;
import utpost.v1.LetterOuterClass.SubmitLetterRequest;
import utpost.v1.LetterOuterClass.SubmitLetterResponse;
import utpost.v1.LetterOuterClass.WatchLettersRequest;
import utpost.v1.LetterServiceGrpc;
import utpost.v1.LetterServiceGrpc.LetterServiceBlockingStub;

public final class UtpostClient {
  // States after which a case system can file the outcome. DELIVERED may
  // still become READ, and a letter with print_if_unread_after may go on to
  // print; PARKED waits for an operator.
  static final Set<Letter.State> SETTLED =
      EnumSet.of(Letter.State.DELIVERED, Letter.State.READ, Letter.State.SENT_PRINT,
          Letter.State.PRINTED, Letter.State.FAILED, Letter.State.CANCELLED,
          Letter.State.PARKED);
  // Worth retrying with the same client_reference.
  static final Set<Status.Code> RETRYABLE =
      EnumSet.of(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED,
          Status.Code.RESOURCE_EXHAUSTED);

  static final class VerifyException extends Exception {
    VerifyException(String message) {
      super(message);
    }
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = parseArgs(argv);
    if (args == null) {
      System.exit(2);
    }
    System.exit(run(args));
  }

  static int run(Map<String, String> args) throws Exception {
    String[] hostPort = args.get("server").split(":(?=[0-9]+$)");
    NettyChannelBuilder builder =
        NettyChannelBuilder.forAddress(hostPort[0], Integer.parseInt(hostPort[1]))
            .sslContext(GrpcSslContexts.forClient()
                            .trustManager(new File(args.get("ca")))
                            .keyManager(new File(args.get("cert")), new File(args.get("key")))
                            .build())
            .maxInboundMessageSize(64 << 20);
    if (args.containsKey("server-name")) {
      builder.overrideAuthority(args.get("server-name"));
    }
    ManagedChannel channel = builder.build();
    try {
      LetterServiceBlockingStub stub = LetterServiceGrpc.newBlockingStub(channel);
      SubmitLetterResponse reply = submit(stub, args);
      Letter letter = reply.getLetter();
      System.out.println("submitted " + letter.getId() + " ("
          + (reply.getCreated() ? "created" : "already there") + ") state "
          + letter.getState());
      Letter.State state = watch(stub, letter.getId(), args);
      System.out.println("settled " + state);
      X509Certificate ca = readCertificate(Files.readAllBytes(Path.of(args.get("ca"))));
      String summary = verifyReceipts(stub, letter.getId(), ca, state);
      System.out.println(summary);
      return 0;
    } catch (StatusRuntimeException e) {
      Status s = e.getStatus();
      System.err.println("refused: " + s.getCode() + ": " + s.getDescription());
      return s.getCode() == Status.Code.UNAVAILABLE ? 3 : 1;
    } catch (VerifyException e) {
      System.err.println("FAILED: " + e.getMessage());
      return 1;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  static SubmitLetterResponse submit(LetterServiceBlockingStub stub, Map<String, String> args)
      throws IOException, InterruptedException {
    Recipient.Builder recipient = Recipient.newBuilder();
    if (args.containsKey("person")) {
      recipient.setPerson(args.get("person"));
    } else {
      recipient.setOrganisation(args.get("organisation"));
    }
    Path pdf = Path.of(args.get("pdf"));
    SubmitLetterRequest request =
        SubmitLetterRequest.newBuilder()
            .setClientReference(args.get("client-reference"))
            .setTitle(args.get("title"))
            .setRecipient(recipient)
            .addDocuments(Document.newBuilder()
                              .setFileName(pdf.getFileName().toString())
                              .setMediaType("application/pdf")
                              .setContent(ByteString.copyFrom(Files.readAllBytes(pdf))))
            .setDeliveryPolicy(DeliveryPolicy.newBuilder().setMode(
                DeliveryPolicy.Mode.valueOf(args.getOrDefault("mode", "DIGITAL_THEN_PRINT"))))
            .build();
    // A retry after a lost answer sends the same request: the server answers
    // with the letter it stored the first time (created false).
    for (int attempt = 0;; ++attempt) {
      try {
        return stub.withDeadlineAfter(60, TimeUnit.SECONDS).submitLetter(request);
      } catch (StatusRuntimeException e) {
        if (!RETRYABLE.contains(e.getStatus().getCode()) || attempt == 4) {
          throw e;
        }
        Thread.sleep(1000L << attempt);
      }
    }
  }

  // Follows the tenant's events from the saved cursor until the letter
  // settles; reconnects and resumes after the last event on a broken stream.
  static Letter.State watch(LetterServiceBlockingStub stub, String letterId,
      Map<String, String> args) throws IOException, InterruptedException, VerifyException {
    Path cursorFile = args.containsKey("cursor-file") ? Path.of(args.get("cursor-file")) : null;
    long cursor = 0;
    if (cursorFile != null && Files.exists(cursorFile)) {
      String saved = Files.readString(cursorFile).trim();
      cursor = saved.isEmpty() ? 0 : Long.parseLong(saved);
    }
    // Settled already (a resubmission, or a run stopped after the event):
    // its events may lie before the saved cursor.
    Letter now = stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                     .getLetter(GetLetterRequest.newBuilder().setName("letters/" + letterId).build());
    if (SETTLED.contains(now.getState())) {
      System.out.println("settled before the watch began: " + now.getState());
      return now.getState();
    }
    long deadline =
        System.currentTimeMillis() + (long) (Double.parseDouble(args.getOrDefault("timeout", "120")) * 1000);
    while (System.currentTimeMillis() < deadline) {
      // Closing the context cancels the stream once the letter settled.
      try (Context.CancellableContext call = Context.current().withCancellation()) {
        Context previous = call.attach();
        try {
          Iterator<LetterEvent> events =
              stub.withDeadlineAfter(Math.max(1000, deadline - System.currentTimeMillis()),
                      TimeUnit.MILLISECONDS)
                  .watchLetters(WatchLettersRequest.newBuilder().setCursor(cursor).build());
          while (events.hasNext()) {
            LetterEvent event = events.next();
            cursor = event.getCursor();
            if (cursorFile != null) {
              Path tmp = Path.of(cursorFile + ".tmp");
              Files.writeString(tmp, Long.toString(cursor));
              Files.move(tmp, cursorFile, StandardCopyOption.REPLACE_EXISTING,
                  StandardCopyOption.ATOMIC_MOVE);
            }
            if (!event.getLetterId().equals(letterId)) {
              continue;  // The tenant's other letters.
            }
            System.out.println(("event " + event.getCursor() + ": " + event.getState() + " "
                                   + event.getChannel() + " " + event.getReason())
                                   .strip());
            if (SETTLED.contains(event.getState())) {
              return event.getState();
            }
          }
        } catch (StatusRuntimeException e) {
          Status.Code code = e.getStatus().getCode();
          if (code == Status.Code.DEADLINE_EXCEEDED) {
            break;
          }
          if (!RETRYABLE.contains(code)) {
            throw e;
          }
          System.out.println("watch interrupted (" + code + "); resuming after cursor " + cursor);
          Thread.sleep(1000);
        } finally {
          call.detach(previous);
        }
      }
    }
    throw new VerifyException("letter " + letterId + " did not settle in time");
  }

  // --- receipts --------------------------------------------------------

  // A store shared by several processes (PostgreSQL) makes a committed
  // receipt a leaf of the receipt log a moment later: until then the newest
  // receipt has no leaf index (or the letter has none, FAILED_PRECONDITION),
  // so ask again for a few seconds.
  static EvidenceBundle fetchEvidence(LetterServiceBlockingStub stub, String letterId)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      EvidenceBundle bundle = null;
      try {
        bundle = stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                     .getReceipts(GetReceiptsRequest.newBuilder()
                                      .setName("letters/" + letterId)
                                      .setEvidenceBundle(true)
                                      .build())
                     .getEvidenceBundle();
        int n = bundle.getReceiptsCount();
        if (n == 0 || bundle.getReceipts(n - 1).getLeafIndex() >= 0) return bundle;
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.FAILED_PRECONDITION
            || System.nanoTime() >= deadline) {
          throw e;
        }
      }
      if (System.nanoTime() >= deadline) return bundle;  // The checks say what is missing.
      Thread.sleep(200);
    }
  }

  static String verifyReceipts(LetterServiceBlockingStub stub, String letterId,
      X509Certificate ca, Letter.State watched) throws Exception {
    EvidenceBundle bundle = fetchEvidence(stub, letterId);
    String prev = "";
    List<String> states = new ArrayList<>();
    for (int i = 0; i < bundle.getReceiptsCount(); ++i) {
      String jws = bundle.getReceipts(i).getJws();
      Map<String, Object> p = verifyJws(jws, ca, "utpost-receipt+jws");
      if (!letterId.equals(p.get("letter_id")) || !Long.valueOf(i + 1).equals(p.get("seq"))) {
        throw new VerifyException("receipt " + (i + 1) + " names letter " + p.get("letter_id")
            + " seq " + p.get("seq"));
      }
      if (!prev.equals(p.get("prev"))) {
        throw new VerifyException("receipt " + (i + 1) + ": hash chain broken");
      }
      prev = hex(sha256(jws.getBytes(StandardCharsets.US_ASCII)));
      states.add((String) p.get("state"));
    }
    if (states.isEmpty()) {
      throw new VerifyException("no receipts");
    }
    if (!states.contains(watched.name())) {
      throw new VerifyException("no receipt for the state watched");
    }
    Map<String, Object> head = verifyJws(bundle.getTreeHead().getJws(), ca, "utpost-tree-head+jws");
    long treeSize = (Long) head.get("tree_size");
    byte[] root = unhex((String) head.get("root_hash"));
    if (treeSize != bundle.getTreeHead().getTreeSize()
        || !Arrays.equals(root, bundle.getTreeHead().getRootHash().toByteArray())) {
      throw new VerifyException("tree head fields differ from its signed payload");
    }
    LoggedReceipt last = bundle.getReceipts(bundle.getReceiptsCount() - 1);
    List<byte[]> proof = new ArrayList<>();
    last.getInclusionProofList().forEach(b -> proof.add(b.toByteArray()));
    byte[] leaf = leafHash(last.getJws().getBytes(StandardCharsets.US_ASCII));
    byte[] computed = inclusionRoot(leaf, last.getLeafIndex(), treeSize, proof);
    if (computed == null || !Arrays.equals(computed, root)) {
      throw new VerifyException("the receipt is not in the signed receipt log");
    }
    return "verified " + states.size() + " receipts (" + String.join(" ", states)
        + "); newest in the receipt log at tree size " + treeSize;
  }

  // Checks a compact JWS (ES256, x5c) against the CA and returns its payload.
  // The chain is checked at the JWS's own "time", so a receipt signed by a
  // since-rotated key still verifies.
  @SuppressWarnings("unchecked")
  static Map<String, Object> verifyJws(String jws, X509Certificate ca, String typ)
      throws Exception {
    String[] parts = jws.split("\\.", -1);
    if (parts.length != 3) {
      throw new VerifyException("not a compact JWS");
    }
    Base64.Decoder b64url = Base64.getUrlDecoder();
    Map<String, Object> header =
        (Map<String, Object>) new Json(new String(b64url.decode(parts[0]), StandardCharsets.UTF_8))
            .parse();
    Map<String, Object> payload =
        (Map<String, Object>) new Json(new String(b64url.decode(parts[1]), StandardCharsets.UTF_8))
            .parse();
    if (!"ES256".equals(header.get("alg")) || !typ.equals(header.get("typ"))) {
      throw new VerifyException("unexpected JWS header " + header);
    }
    List<X509Certificate> chain = new ArrayList<>();
    for (Object c : (List<Object>) header.getOrDefault("x5c", List.of())) {
      chain.add(readCertificate(Base64.getDecoder().decode((String) c)));
    }
    if (chain.isEmpty()) {
      throw new VerifyException("no x5c certificate");
    }
    // ES256 in JWS is r||s (IEEE P1363), not DER.
    Signature es256 = Signature.getInstance("SHA256withECDSAinP1363Format");
    es256.initVerify(chain.get(0).getPublicKey());
    es256.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
    if (!es256.verify(b64url.decode(parts[2]))) {
      throw new VerifyException("signature does not verify");
    }
    java.util.Date when = java.util.Date.from(Instant.parse((String) payload.get("time")));
    for (int i = 0; i < chain.size(); ++i) {
      X509Certificate cert = chain.get(i);
      X509Certificate issuer = i + 1 < chain.size() ? chain.get(i + 1) : ca;
      if (!cert.getIssuerX500Principal().equals(issuer.getSubjectX500Principal())) {
        throw new VerifyException(cert.getSubjectX500Principal() + " is not issued by "
            + issuer.getSubjectX500Principal());
      }
      PublicKey key = issuer.getPublicKey();
      try {
        cert.verify(key);
        cert.checkValidity(when);
      } catch (java.security.GeneralSecurityException e) {
        throw new VerifyException("certificate chain: " + e.getMessage());
      }
    }
    return payload;
  }

  static X509Certificate readCertificate(byte[] derOrPem) throws Exception {
    return (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(derOrPem));
  }

  static byte[] sha256(byte[]... parts) throws Exception {
    MessageDigest d = MessageDigest.getInstance("SHA-256");
    for (byte[] p : parts) {
      d.update(p);
    }
    return d.digest();
  }

  static byte[] leafHash(byte[] leaf) throws Exception {
    return sha256(new byte[] {0}, leaf);
  }

  static byte[] nodeHash(byte[] left, byte[] right) throws Exception {
    return sha256(new byte[] {1}, left, right);
  }

  // The root an RFC 9162 (2.1.3.2) audit path leads to, or null.
  static byte[] inclusionRoot(byte[] leaf, long index, long size, List<byte[]> proof)
      throws Exception {
    if (index >= size) {
      return null;
    }
    long fn = index;
    long sn = size - 1;
    byte[] r = leaf;
    for (byte[] p : proof) {
      if (sn == 0) {
        return null;
      }
      if ((fn & 1) == 1 || fn == sn) {
        r = nodeHash(p, r);
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      } else {
        r = nodeHash(r, p);
      }
      fn >>= 1;
      sn >>= 1;
    }
    return sn == 0 ? r : null;
  }

  static String hex(byte[] b) {
    StringBuilder s = new StringBuilder();
    for (byte x : b) {
      s.append(String.format("%02x", x));
    }
    return s.toString();
  }

  static byte[] unhex(String s) throws VerifyException {
    if (s.length() % 2 != 0) {
      throw new VerifyException("odd hex string");
    }
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; ++i) {
      out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    }
    return out;
  }

  // A small JSON reader for the JWS headers and payloads (objects, arrays,
  // strings, integers, booleans, null): enough for what the signatures cover,
  // so no JSON library is needed.
  static final class Json {
    private final String s;
    private int i = 0;

    Json(String s) {
      this.s = s;
    }

    Object parse() throws VerifyException {
      Object v = value();
      skip();
      if (i != s.length()) {
        throw new VerifyException("JSON: trailing characters");
      }
      return v;
    }

    private void skip() {
      while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
        ++i;
      }
    }

    private char peek() throws VerifyException {
      skip();
      if (i >= s.length()) {
        throw new VerifyException("JSON: unexpected end");
      }
      return s.charAt(i);
    }

    private void expect(char c) throws VerifyException {
      if (peek() != c) {
        throw new VerifyException("JSON: expected " + c + " at " + i);
      }
      ++i;
    }

    private Object value() throws VerifyException {
      char c = peek();
      if (c == '{') {
        ++i;
        Map<String, Object> m = new LinkedHashMap<>();
        if (peek() == '}') {
          ++i;
          return m;
        }
        while (true) {
          String k = string();
          expect(':');
          m.put(k, value());
          if (peek() == ',') {
            ++i;
            continue;
          }
          expect('}');
          return m;
        }
      }
      if (c == '[') {
        ++i;
        List<Object> l = new ArrayList<>();
        if (peek() == ']') {
          ++i;
          return l;
        }
        while (true) {
          l.add(value());
          if (peek() == ',') {
            ++i;
            continue;
          }
          expect(']');
          return l;
        }
      }
      if (c == '"') {
        return string();
      }
      for (String word : new String[] {"true", "false", "null"}) {
        if (s.startsWith(word, i)) {
          i += word.length();
          return word.equals("null") ? null : Boolean.valueOf(word);
        }
      }
      int start = i;
      if (c == '-') {
        ++i;
      }
      while (i < s.length() && Character.isDigit(s.charAt(i))) {
        ++i;
      }
      if (start == i || i - start > 18) {
        throw new VerifyException("JSON: unexpected value at " + start);
      }
      return Long.valueOf(s.substring(start, i));
    }

    private String string() throws VerifyException {
      expect('"');
      StringBuilder out = new StringBuilder();
      while (i < s.length()) {
        char c = s.charAt(i++);
        if (c == '"') {
          return out.toString();
        }
        if (c != '\\') {
          out.append(c);
          continue;
        }
        if (i >= s.length()) {
          break;
        }
        char e = s.charAt(i++);
        switch (e) {
          case 'n': out.append('\n'); break;
          case 't': out.append('\t'); break;
          case 'r': out.append('\r'); break;
          case 'b': out.append('\b'); break;
          case 'f': out.append('\f'); break;
          case 'u':
            if (i + 4 > s.length()) {
              throw new VerifyException("JSON: bad escape");
            }
            out.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
            i += 4;
            break;
          default: out.append(e);
        }
      }
      throw new VerifyException("JSON: unterminated string");
    }
  }

  // --flag value pairs; null (after a message) when they are not usable.
  static Map<String, String> parseArgs(String[] argv) {
    Set<String> known = Set.of("server", "server-name", "ca", "cert", "key", "person",
        "organisation", "pdf", "title", "client-reference", "mode", "cursor-file", "timeout");
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i < argv.length; i += 2) {
      String flag = argv[i].startsWith("--") ? argv[i].substring(2) : "";
      if (!known.contains(flag) || i + 1 >= argv.length) {
        System.err.println("usage: UtpostClient --server HOST:PORT [--server-name NAME] --ca CA.pem"
            + " --cert CERT.pem --key KEY.pem (--person N | --organisation N) --pdf FILE"
            + " --title T --client-reference R [--mode M] [--cursor-file F] [--timeout S]");
        return null;
      }
      out.put(flag, argv[i + 1]);
    }
    for (String required : List.of("server", "ca", "cert", "key", "pdf", "title",
             "client-reference")) {
      if (!out.containsKey(required)) {
        System.err.println("missing --" + required);
        return null;
      }
    }
    if (out.containsKey("person") == out.containsKey("organisation")) {
      System.err.println("give exactly one of --person and --organisation");
      return null;
    }
    return out;
  }
}
