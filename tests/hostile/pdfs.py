#!/usr/bin/env python3
"""Hostile (and a few good) PDF documents with the answer Utpost gives each.

Standard library only: every PDF is written here, with a correct
cross-reference table unless the case is about a broken one, and zlib for
compressed streams. Nothing generated is committed.

    cases() -> [(name, pdf bytes, Expected), ...]
    python3 tests/hostile/pdfs.py OUTDIR   # OUTDIR/<name>.pdf + manifest.tsv

manifest.tsv has one line per case: name, file, code, may_print (0/1),
sandbox_only (0/1) and a substring of the message, tab-separated.
"""

import collections
import hashlib
import os
import sys
import zlib

# code: "OK" or "INVALID_ARGUMENT". message: a substring of the answer
# ("" for OK). may_print: inspected as a letter whose delivery policy allows
# print. sandbox_only: the answer comes from the sandbox's limits (a worker
# stopped), not from the checks, so only an isolated inspector gives it.
Expected = collections.namedtuple(
    "Expected", "code message may_print sandbox_only", defaults=(True, False))

A4 = "0 0 595.28 841.89"


class Pdf:
    """Objects numbered from 1 in the order added; write() lays them out."""

    def __init__(self, version="1.4"):
        self.version = version
        self.objects = []

    def reserve(self):
        self.objects.append(None)
        return len(self.objects)

    def set(self, num, body):
        self.objects[num - 1] = body if isinstance(body, bytes) else body.encode()

    def add(self, body):
        num = self.reserve()
        self.set(num, body)
        return num

    def stream(self, dictionary, data, compress=False, num=None):
        if compress:
            data = zlib.compress(data, 9)
            dictionary += " /Filter /FlateDecode"
        body = b"<< %s /Length %d >>\nstream\n" % (dictionary.encode(), len(data))
        body += data + b"\nendstream"
        if num is None:
            return self.add(body)
        self.set(num, body)
        return num

    def write(self, root, trailer_extra="", xref=True, header=None,
              encrypt=None):
        out = bytearray(header if header is not None else
                        b"%%PDF-%s\n%%\xe2\xe3\xcf\xd3\n" % self.version.encode())
        offsets = []
        for i, body in enumerate(self.objects):
            offsets.append(len(out))
            if encrypt is not None:
                body = encrypt(i + 1, body)
            out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
        start = len(out)
        if xref:
            out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1)
            for off in offsets:
                out += b"%010d 00000 n \n" % off
        out += (b"trailer\n<< /Size %d /Root %d 0 R %s >>\nstartxref\n%d\n%%%%EOF\n"
                % (len(self.objects) + 1, root, trailer_extra.encode(), start))
        return bytes(out)


def type3_font(pdf):
    """A Type 3 font (embedded by definition) whose every glyph is a stroke."""
    glyph = pdf.stream("", b"500 0 0 0 500 700 d1 0 0 m 400 600 l S")
    return pdf.add(
        "<< /Type /Font /Subtype /Type3 /FontBBox [0 0 500 700] "
        "/FontMatrix [0.001 0 0 0.001 0 0] /CharProcs << /g %d 0 R >> "
        "/Encoding << /Type /Encoding /Differences [32 /g 65 /g] >> "
        "/FirstChar 32 /LastChar 90 /Widths [%s] >>"
        % (glyph, " ".join(["500"] * 59)))


def letter(pages=1, version="1.4", box=A4, font="type3", catalog_extra="",
           page_extra="", text=b"Vedtak om tilskudd", extra=None):
    """A letter: `pages` pages of text. `extra(pdf)` may add objects and
    returns more catalog entries."""
    pdf = Pdf(version)
    catalog = pdf.reserve()
    tree = pdf.reserve()
    if font == "type3":
        f = type3_font(pdf)
    elif font == "helvetica":
        f = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    else:  # TrueType with its font program (the bytes are a stand-in).
        program = pdf.stream("/Length1 64", b"\0" * 64)
        descriptor = pdf.add(
            "<< /Type /FontDescriptor /FontName /DejaVuSans /Flags 32 "
            "/FontBBox [0 0 1000 1000] /ItalicAngle 0 /Ascent 900 /Descent -200 "
            "/CapHeight 700 /StemV 80 /FontFile2 %d 0 R >>" % program)
        f = pdf.add("<< /Type /Font /Subtype /TrueType /BaseFont /DejaVuSans "
                    "/FirstChar 32 /LastChar 32 /Widths [500] "
                    "/FontDescriptor %d 0 R >>" % descriptor)
    kids = []
    for n in range(pages):
        content = pdf.stream(
            "", b"BT /F1 12 Tf 72 760 Td (" + text + b" %d) Tj ET" % (n + 1),
            compress=True)
        kids.append(pdf.add(
            "<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Contents %d 0 R "
            "/Resources << /Font << /F1 %d 0 R >> >> %s >>"
            % (tree, box, content, f, page_extra)))
    pdf.set(tree, "<< /Type /Pages /Kids [%s] /Count %d >>"
            % (" ".join("%d 0 R" % k for k in kids), pages))
    more = extra(pdf) if extra else ""
    pdf.set(catalog, "<< /Type /Catalog /Pages %d 0 R %s %s >>"
            % (tree, catalog_extra, more))
    return pdf, catalog


def simple(**kw):
    pdf, catalog = letter(**kw)
    return pdf.write(catalog)


def one_page_with(content_stream_data, resources="<< >>", compress=True,
                  extra=None):
    """One A4 page whose content is `content_stream_data`."""
    pdf = Pdf()
    catalog = pdf.reserve()
    tree = pdf.reserve()
    res = resources(pdf) if callable(resources) else resources
    content = pdf.stream("", content_stream_data, compress=compress)
    page = pdf.add("<< /Type /Page /Parent %d 0 R /MediaBox [%s] "
                   "/Contents %d 0 R /Resources %s >>" % (tree, A4, content, res))
    pdf.set(tree, "<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page)
    pdf.set(catalog, "<< /Type /Catalog /Pages %d 0 R >>" % tree)
    return pdf.write(catalog)


# --- resource bombs ----------------------------------------------------------

def deep_page_tree(levels=50000):
    pdf = Pdf()
    catalog = pdf.reserve()
    nodes = [pdf.reserve() for _ in range(levels)]
    content = pdf.stream("", b"0 0 m 1 1 l S")
    page = pdf.add("<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Contents %d 0 R "
                   "/Resources << >> >>" % (nodes[-1], A4, content))
    for i, num in enumerate(nodes):
        kid = nodes[i + 1] if i + 1 < levels else page
        parent = " /Parent %d 0 R" % nodes[i - 1] if i else ""
        pdf.set(num, "<< /Type /Pages /Kids [%d 0 R] /Count 1%s >>" % (kid, parent))
    pdf.set(catalog, "<< /Type /Catalog /Pages %d 0 R >>" % nodes[0])
    return pdf.write(catalog)


def page_tree_loop():
    pdf = Pdf()
    catalog = pdf.reserve()
    tree = pdf.reserve()
    inner = pdf.reserve()
    content = pdf.stream("", b"0 0 m 1 1 l S")
    page = pdf.add("<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Contents %d 0 R "
                   "/Resources << >> >>" % (inner, A4, content))
    pdf.set(tree, "<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % inner)
    # The inner node lists its own parent as a kid.
    pdf.set(inner, "<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R %d 0 R] /Count 1 >>"
            % (tree, page, tree))
    pdf.set(catalog, "<< /Type /Catalog /Pages %d 0 R >>" % tree)
    return pdf.write(catalog)


def deflate_zeros(size, chunk=1 << 20):
    """`size` zero bytes deflated (zlib format), about 1/1000 of the size."""
    c = zlib.compressobj(9)
    block = b"\0" * chunk
    parts = [c.compress(block) for _ in range(size // chunk)]
    parts.append(c.flush())
    return b"".join(parts)


def decompression_bomb(size=1 << 30):
    data = deflate_zeros(size)
    pdf = Pdf()
    catalog = pdf.reserve()
    tree = pdf.reserve()
    content = pdf.stream("/Filter /FlateDecode", data)
    page = pdf.add("<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Contents %d 0 R "
                   "/Resources << >> >>" % (tree, A4, content))
    pdf.set(tree, "<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page)
    pdf.set(catalog, "<< /Type /Catalog /Pages %d 0 R >>" % tree)
    return pdf.write(catalog)


def bomb_in_unused_stream(size=1 << 30):
    """The bomb is in an object nothing refers to."""
    data = deflate_zeros(size)

    def extra(pdf):
        pdf.stream("/Filter /FlateDecode", data)
        return ""
    return simple(extra=extra)


def self_drawing_form(fan_out=4):
    """A form XObject that draws itself `fan_out` times (under 1 KB)."""
    def resources(pdf):
        form = pdf.reserve()
        names = " ".join("/X%d %d 0 R" % (i, form) for i in range(fan_out))
        draws = b" ".join(b"q /X%d Do Q" % i for i in range(fan_out))
        pdf.stream("/Type /XObject /Subtype /Form /BBox [0 0 10 10] "
                   "/Resources << /XObject << %s >> >>" % names,
                   b"0 0 m 1 1 l S " + draws, num=form)
        return "<< /XObject << /X0 %d 0 R >> >>" % form
    return one_page_with(b"q /X0 Do Q", resources, compress=False)


def forms_drawing_each_other(forms=8, fan_out=4):
    """Forms 0..n-1, each drawing all the others, sharing one resource dict."""
    def resources(pdf):
        nums = [pdf.reserve() for _ in range(forms)]
        shared = pdf.reserve()
        pdf.set(shared, "<< /XObject << %s >> >>" % " ".join(
            "/X%d %d 0 R" % (i, n) for i, n in enumerate(nums)))
        for i, n in enumerate(nums):
            draws = b" ".join(b"/X%d Do" % ((i + k + 1) % forms)
                              for k in range(fan_out))
            pdf.stream("/Type /XObject /Subtype /Form /BBox [0 0 10 10] "
                       "/Resources %d 0 R" % shared, draws, num=n)
        return "%d 0 R" % shared
    return one_page_with(b"/X0 Do", resources, compress=False)


def huge_page_count(pages=100000, fan_out=100):
    """`pages` pages in a balanced tree, all sharing one content stream."""
    pdf = Pdf()
    catalog = pdf.reserve()
    tree = pdf.reserve()
    content = pdf.stream("", b"0 0 m 1 1 l S")
    middles = []
    for m in range(pages // fan_out):
        node = pdf.reserve()
        kids = [pdf.add("<< /Type /Page /Parent %d 0 R /Contents %d 0 R >>"
                        % (node, content)) for _ in range(fan_out)]
        pdf.set(node, "<< /Type /Pages /Parent %d 0 R /Kids [%s] /Count %d >>"
                % (tree, " ".join("%d 0 R" % k for k in kids), fan_out))
        middles.append(node)
    pdf.set(tree, "<< /Type /Pages /Kids [%s] /Count %d /MediaBox [%s] "
            "/Resources << >> >>"
            % (" ".join("%d 0 R" % m for m in middles), pages, A4))
    pdf.set(catalog, "<< /Type /Catalog /Pages %d 0 R >>" % tree)
    return pdf.write(catalog)


def one_page_many_times(times=200000):
    """One page listed `times` times in one /Kids array."""
    pdf = Pdf()
    catalog = pdf.reserve()
    tree = pdf.reserve()
    content = pdf.stream("", b"0 0 m 1 1 l S")
    page = pdf.add("<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Contents %d 0 R "
                   "/Resources << >> >>" % (tree, A4, content))
    pdf.set(tree, "<< /Type /Pages /Kids [%s] /Count %d >>"
            % (("%d 0 R " % page) * times, times))
    pdf.set(catalog, "<< /Type /Catalog /Pages %d 0 R >>" % tree)
    return pdf.write(catalog)


def content_cpu_burner(size=200 << 20):
    """A content stream of millions of operators, within the decoded limit."""
    c = zlib.compressobj(9)
    block = b"1 0 0 1 0 0 cm\n" * (1 << 16)
    parts = [c.compress(block) for _ in range(size // len(block))]
    parts.append(c.flush())
    data = b"".join(parts)
    pdf = Pdf()
    catalog = pdf.reserve()
    tree = pdf.reserve()
    content = pdf.stream("/Filter /FlateDecode", data)
    page = pdf.add("<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Contents %d 0 R "
                   "/Resources << >> >>" % (tree, A4, content))
    pdf.set(tree, "<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page)
    pdf.set(catalog, "<< /Type /Catalog /Pages %d 0 R >>" % tree)
    return pdf.write(catalog)


def nested(opening, closing, depth=100000):
    """An object nested `depth` levels deep, referred to by the catalog."""
    def extra(pdf):
        junk = pdf.add(opening * depth + closing * depth)
        return "/Junk %d 0 R" % junk
    return simple(extra=extra)


def nested_arrays():
    return nested("[", "]")


def nested_dicts():
    return nested("<< /A ", ">> ")


# --- active and hidden content -----------------------------------------------

def javascript_open_action():
    def extra(pdf):
        js = pdf.add("<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>")
        return "/OpenAction %d 0 R" % js
    return simple(extra=extra)


def javascript_name_tree():
    def extra(pdf):
        js = pdf.stream("", b"app.launchURL('https://example.invalid')")
        action = pdf.add("<< /S /JavaScript /JS %d 0 R >>" % js)
        tree = pdf.add("<< /Names [(a) %d 0 R] >>" % action)
        return "/Names << /JavaScript %d 0 R >>" % tree
    return simple(extra=extra)


def javascript_page_aa():
    return simple(page_extra="/AA << /O << /S /JavaScript /JS (this.print\\(\\)) >> >>")


def javascript_in_annotation_link():
    return simple(page_extra="/Annots [<< /Type /Annot /Subtype /Link "
                  "/Rect [0 0 100 100] /A << /S /JavaScript /JS (1) >> >>]")


def launch_action():
    return simple(catalog_extra="/OpenAction << /S /Launch /F (cmd.exe) "
                  "/Win << /F (cmd.exe) /P (/c calc) >> >>")


def embedded_file():
    def extra(pdf):
        data = pdf.stream("/Type /EmbeddedFile", b"MZ\x90\x00 not really an exe")
        spec = pdf.add("<< /Type /Filespec /F (setup.exe) /EF << /F %d 0 R >> >>"
                       % data)
        return "/Names << /EmbeddedFiles << /Names [(setup.exe) %d 0 R] >> >>" % spec
    return simple(extra=extra)


def file_attachment_annotation():
    def extra(pdf):
        data = pdf.stream("", b"payload")
        return ("/Junk << /FS << /Type /Filespec /F (a.bin) /EF << /F %d 0 R >> >> >>"
                % data)
    return simple(extra=extra)


def xfa_form():
    def extra(pdf):
        xfa = pdf.stream("", b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>")
        return "/AcroForm << /Fields [] /XFA %d 0 R >>" % xfa
    return simple(extra=extra)


# --- encryption (standard security handler, revision 2, RC4 40-bit) ----------

PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) & 0xFF])
    return bytes(out)


def encrypted(user_password=b""):
    pdf, catalog = letter()
    doc_id = hashlib.md5(b"utpost hostile").digest()
    owner = (b"owner" + PAD)[:32]
    o = rc4(hashlib.md5(owner).digest()[:5], (user_password + PAD)[:32])
    p = -44  # Print allowed, little else.
    key = hashlib.md5((user_password + PAD)[:32] + o +
                      (p & 0xFFFFFFFF).to_bytes(4, "little") + doc_id).digest()[:5]
    u = rc4(key, PAD)
    encrypt = pdf.add("<< /Filter /Standard /V 1 /R 2 /Length 40 /P %d "
                      "/O <%s> /U <%s> >>" % (p, o.hex(), u.hex()))

    def encrypt_object(num, body):
        if num == encrypt or b"stream\n" not in body:
            return body
        head, rest = body.split(b"stream\n", 1)
        data = rest[: -len(b"\nendstream")]
        obj_key = hashlib.md5(key + num.to_bytes(3, "little") +
                              b"\0\0").digest()[:10]
        return head + b"stream\n" + rc4(obj_key, data) + b"\nendstream"
    return pdf.write(catalog, "/Encrypt %d 0 R /ID [<%s> <%s>]"
                     % (encrypt, doc_id.hex(), doc_id.hex()),
                     encrypt=encrypt_object)


# --- broken structure --------------------------------------------------------

def truncated():
    whole = simple(pages=3)
    return whole[: len(whole) // 3]


def broken_xref():
    """Every offset in the xref table is wrong: qpdf rebuilds it."""
    good = simple()
    head, tail = good.split(b"xref\n", 1)
    lines = tail.split(b"\n")
    fixed = [lines[0], lines[1]]
    for line in lines[2:]:
        if line.endswith(b" n "):
            line = b"%010d 00000 n " % 7
        fixed.append(line)
    return head + b"xref\n" + b"\n".join(fixed)


def no_xref():
    pdf, catalog = letter()
    return pdf.write(catalog, xref=False)


def startxref_out_of_range():
    good = simple()
    start = good.rindex(b"startxref\n") + len(b"startxref\n")
    end = good.index(b"\n", start)
    return good[:start] + b"999999999" + good[end:]


def garbage_after_header():
    rnd = bytes((i * 7919 + 13) & 0xFF for i in range(1 << 20))
    return b"%PDF-1.7\n" + rnd


def no_root():
    return b"%PDF-1.4\n1 0 obj\n<< /A 1 >>\nendobj\ntrailer\n<< /Size 2 >>\n%%EOF\n"


def no_pages():
    pdf = Pdf()
    catalog = pdf.reserve()
    tree = pdf.add("<< /Type /Pages /Kids [] /Count 0 >>")
    pdf.set(catalog, "<< /Type /Catalog /Pages %d 0 R >>" % tree)
    return pdf.write(catalog)


def cases():
    """[(name, pdf bytes, Expected)], cheapest first."""
    INVALID = "INVALID_ARGUMENT"
    not_pdf = "documents[0].content: not a PDF"
    refused = "documents[0].content: not accepted: "
    return [
        ("valid_letter_type3_font", simple(), Expected("OK", "")),
        ("valid_letter_truetype_embedded", simple(font="truetype"),
         Expected("OK", "")),
        ("valid_letter_three_pages", simple(pages=3), Expected("OK", "")),
        ("helvetica_not_embedded_print", simple(font="helvetica"),
         Expected(INVALID, "font 'Helvetica' is not embedded")),
        ("helvetica_not_embedded_digital", simple(font="helvetica"),
         Expected("OK", "", may_print=False)),
        ("us_letter_page", simple(box="0 0 612 792"),
         Expected(INVALID, "not A4 portrait")),
        ("pdf_2_0", simple(version="2.0"), Expected(INVALID, "PDF version 2.0")),
        # The gateway's field checks refuse it before any inspection.
        ("empty", b"", Expected(INVALID, "empty document")),
        ("html_not_pdf", b"<html><body>letter</body></html>",
         Expected(INVALID, not_pdf + ": does not start with %PDF-")),
        ("garbage_after_header", garbage_after_header(), Expected(INVALID, not_pdf)),
        ("no_root", no_root(), Expected(INVALID, not_pdf)),
        ("no_pages", no_pages(), Expected(INVALID, not_pdf + ": has no pages")),
        ("truncated", truncated(), Expected(INVALID, not_pdf)),
        ("broken_xref_repaired", broken_xref(), Expected("OK", "")),
        ("no_xref_repaired", no_xref(), Expected("OK", "")),
        ("startxref_out_of_range_repaired", startxref_out_of_range(),
         Expected("OK", "")),
        ("encrypted_empty_user_password", encrypted(),
         Expected(INVALID, refused + "is encrypted")),
        ("encrypted_with_user_password", encrypted(b"secret"),
         Expected(INVALID, refused + "is encrypted")),
        ("javascript_open_action", javascript_open_action(),
         Expected(INVALID, refused + "contains JavaScript")),
        ("javascript_name_tree_digital", javascript_name_tree(),
         Expected(INVALID, refused + "contains JavaScript", may_print=False)),
        ("javascript_page_additional_action", javascript_page_aa(),
         Expected(INVALID, refused + "contains JavaScript")),
        ("javascript_link_annotation", javascript_in_annotation_link(),
         Expected(INVALID, refused + "contains JavaScript")),
        ("launch_action", launch_action(),
         Expected(INVALID, refused + "contains a launch action")),
        ("embedded_executable", embedded_file(),
         Expected(INVALID, refused + "contains an embedded file")),
        ("file_specification_with_ef", file_attachment_annotation(),
         Expected(INVALID, refused + "contains an embedded file")),
        ("xfa_form", xfa_form(), Expected(INVALID, refused + "contains an XFA form")),
        ("nested_arrays_100000", nested_arrays(), Expected("OK", "")),
        ("nested_dicts_100000", nested_dicts(), Expected("OK", "")),
        ("page_tree_loop", page_tree_loop(), Expected(INVALID, not_pdf)),
        ("deep_page_tree_50000", deep_page_tree(),
         Expected(INVALID, refused + "page tree deeper than 32 levels")),
        ("huge_page_count_100000", huge_page_count(),
         Expected(INVALID, refused + "more than 1000 pages")),
        ("one_page_listed_200000_times", one_page_many_times(),
         Expected(INVALID, refused + "more than 1000 pages")),
        ("self_drawing_form_fan_out_4", self_drawing_form(), Expected("OK", "")),
        ("forms_drawing_each_other", forms_drawing_each_other(),
         Expected("OK", "")),
        ("decompression_bomb_1gib", decompression_bomb(),
         Expected(INVALID, refused + "streams decode to more than 256 MiB")),
        ("decompression_bomb_unreferenced", bomb_in_unused_stream(),
         Expected(INVALID, refused + "streams decode to more than 256 MiB")),
        ("content_stream_cpu_burner", content_cpu_burner(),
         Expected(INVALID, "documents: inspection stopped: exceeded the",
                  sandbox_only=True)),
    ]


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: pdfs.py OUTDIR\n")
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    lines = []
    for name, data, expected in cases():
        file_name = name + ".pdf"
        with open(os.path.join(out, file_name), "wb") as f:
            f.write(data)
        lines.append("\t".join([name, file_name, expected.code,
                                "1" if expected.may_print else "0",
                                "1" if expected.sandbox_only else "0",
                                expected.message]))
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
