"""Mail as it goes on the wire: header fields and part bodies (RFC 5322, 2045, 2047).

Transactional mails (`messages`) and campaigns (`campaigns.render`) are both written
here, so there is one way a header or a line reaches a relay.

Header values are encoded and folded by this module rather than by the email package:
on Python 3.11 compat32's `Header` lets an encoded word on a continuation line reach 76
characters (RFC 2047 allows 75) and encodes a whole subject when one word needs it,
and the modern policies double a space where they fold and (gh-80222) can drop the
quotes around a folded display name. The rules here are few: ASCII words stay as they
are, each run of other words becomes Q encoded words of at most 75 characters, and
every encoded word has whitespace on both sides. Values come through
`messages.header_text`, so they hold no line break and no encoded word of their own.
"""

import binascii
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from email.quoprimime import header_encode
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from functools import lru_cache

CRLF = "\r\n"
ENCODED_WORD_LIMIT = 75  # RFC 2047 section 2
# RFC 2047 section 2 limits a line holding encoded words to 76 characters; the same
# limit for every header line keeps the rule simple (RFC 5322 only asks for 78).
FOLD_AT = 76
ENCODED_WORD_CHROME = len("=?utf-8?q??=")
STAND_IN_ADDRESS = "stand-in@example.invalid"


def q_size(character: str) -> int:
    """Characters `character` takes inside a Q encoded word ("_" for a space, "=XX"...)."""
    return len(header_encode(character.encode("utf-8"), "utf-8")) - ENCODED_WORD_CHROME


def first_encoded_word(text: str, room: int) -> tuple[str | None, str]:
    """(the longest encoded word of `text`'s start within `room` characters, the rest).

    The word is cut between characters, never inside one; (None, text) when not even
    one character fits.
    """
    length, taken = ENCODED_WORD_CHROME, 0
    for character in text:
        if length + q_size(character) > min(room, ENCODED_WORD_LIMIT):
            break
        length += q_size(character)
        taken += 1
    if not taken:
        return None, text
    return header_encode(text[:taken].encode("utf-8"), "utf-8"), text[taken:]


def text_pieces(text: str) -> list[tuple[str, bool]]:
    """(piece, needs encoding): ASCII words alone, each run of other words as one piece.

    Whitespace runs count as one space. The spaces inside a run are encoded with it,
    since a decoder drops the whitespace between adjacent encoded words.
    """
    pieces: list[tuple[str, bool]] = []
    run: list[str] = []
    for word in text.split():
        if word.isascii():
            if run:
                pieces.append((" ".join(run), True))
                run = []
            pieces.append((word, False))
        else:
            run.append(word)
    if run:
        pieces.append((" ".join(run), True))
    return pieces


def folded(name: str, pieces: Iterable[tuple[str, bool]]) -> str:
    """`Name: piece piece ...` folded (CRLF, space) before a piece passing 76 characters.

    Pieces marked for encoding become Q encoded words: one word on the next line when
    it fits there whole, else cut to the room left on the line. A single ASCII word longer
    than a line (a URL) gets a line of its own.
    """
    lines, line_has_words = [f"{name}:"], False
    for piece, encode in pieces:
        rest = piece
        while rest:
            room = FOLD_AT - len(lines[-1]) - 1
            if encode:
                word, remainder = first_encoded_word(rest, room)
                if remainder and line_has_words and not first_encoded_word(rest, FOLD_AT - 1)[1]:
                    word = None  # it fits whole on the next line: a name stays one word
            else:
                word, remainder = (rest if len(rest) <= room else None), ""
            if word is None and line_has_words:
                lines.append("")
                line_has_words = False
                continue
            if word is None:  # alone on its line and still too long: over 76, never raw
                word, remainder = (
                    first_encoded_word(rest, ENCODED_WORD_LIMIT) if encode else (rest, "")
                )
            rest = remainder
            lines[-1] += f" {word}"
            line_has_words = True
    return CRLF.join(lines)


def unstructured(name: str, text: str) -> str:
    """A header field of free text (Subject, List-Unsubscribe...), encoded only where needed."""
    return folded(name, text_pieces(text))


def wire_address(address: str, utf8: bool) -> str:
    """The address as written in a header: the domain in IDNA unless SMTPUTF8 carries it."""
    local, _, domain = address.rpartition("@")
    if utf8 or domain.isascii():
        return address
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def address_pieces(item: str | tuple[str, str], utf8: bool = False) -> list[tuple[str, bool]]:
    """One mailbox as header pieces: a name quoted if ASCII, else encoded, then `<address>`."""
    name, address = item if isinstance(item, tuple) else parseaddr(item)
    address = wire_address(address, utf8)
    name = " ".join(name.split())
    if not name:
        return [(address, False)]
    if name.isascii():
        # formataddr quotes a name holding specials ("," "@" ":"...), so it stays a name;
        # it refuses a UTF-8 address (SMTPUTF8), hence the ASCII stand-in.
        shown = formataddr((name, STAND_IN_ADDRESS)).removesuffix(f" <{STAND_IN_ADDRESS}>")
        return [(f"{shown} <{address}>", False)]
    return [(name, True), (f"<{address}>", False)]


def address_field(name: str, mailboxes: Iterable[str | tuple[str, str]], utf8: bool = False) -> str:
    """A From, To or Reply-To field naming `mailboxes`, comma-separated and folded."""
    pieces: list[tuple[str, bool]] = []
    for mailbox in mailboxes:
        if pieces:
            last, encode = pieces[-1]
            pieces[-1] = (last + ",", encode)
        pieces += address_pieces(mailbox, utf8)
    return folded(name, pieces)


def date_value(moment: datetime | float | None = None) -> str:
    """An RFC 5322 date in UTC written `+0000` (`-0000` says the zone is unknown)."""
    if moment is None:
        moment = time.time()
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return format_datetime(moment.astimezone(UTC))


def domain_of(sender: str | tuple[str, str]) -> str:
    """The domain of a sender address (for Message-IDs), `weprode.com` if it has none."""
    address = sender[1] if isinstance(sender, tuple) else parseaddr(sender)[1]
    return wire_address(address, utf8=False).rpartition("@")[2] or "weprode.com"


def new_message_id(sender: str | tuple[str, str]) -> str:
    """A unique Message-ID on the sender's domain, not on this machine's host name."""
    return make_msgid(domain=domain_of(sender))


def quoted_printable(text: str) -> str:
    """UTF-8 text as quoted-printable: CRLF lines of at most 76 characters, 7-bit.

    Passes intact through a relay without 8BITMIME, and stays readable in the source.
    A trailing space (the "-- " signature separator) is kept as "=20".

    Encoded line by line: quoted-printable decides everything within a line (soft
    breaks, trailing spaces), so the result is the same as encoding the whole text,
    and the lines every reader of a campaign shares are encoded once (`qp_line`).
    Encoding both parts of each message whole was a third of its building time.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the text ended with a line break: no empty line after it
    return "".join(map(qp_line, lines))


@lru_cache(maxsize=2048)
def qp_line(line: str) -> str:
    """One line (without its end) as quoted-printable, ended by CRLF.

    Cached: a campaign's shared lines (a few hundred, both languages) come back at
    every message or so and stay; the few naming one reader (about six per message)
    pass through. About 1 MB when full.
    """
    return binascii.b2a_qp((line + CRLF).encode("utf-8"), istext=True).decode("ascii")


def text_part(subtype: str, text: str) -> str:
    """The headers and body of one `text/<subtype>` part, UTF-8 and quoted-printable."""
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
        f"{quoted_printable(text)}"
    )


def new_boundary() -> str:
    """A MIME boundary: "=_" never occurs in quoted-printable or base64 text."""
    return f"=_weprode_{secrets.token_hex(12)}"


def alternative(boundary: str, text: str, html: str) -> str:
    """A multipart/alternative body: the plain text first, the HTML (preferred) last."""
    return (
        f"--{boundary}{CRLF}{text_part('plain', text)}"
        f"--{boundary}{CRLF}{text_part('html', html)}"
        f"--{boundary}--{CRLF}"
    )


def content(text: str, html: str | None, boundary: str | None = None) -> tuple[list[str], str]:
    """(MIME header lines, body) for a text with an optional HTML alternative."""
    if html is None:
        return [
            "MIME-Version: 1.0",
            'Content-Type: text/plain; charset="utf-8"',
            "Content-Transfer-Encoding: quoted-printable",
        ], quoted_printable(text)
    boundary = boundary or new_boundary()
    headers = [
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    return headers, alternative(boundary, text, html)
