"""VERP: each mail to a subscriber goes out with its own envelope sender.

With BOUNCE_ADDRESS = `bounces@weprode.com`, a mail's `MAIL FROM` (hence the
`Return-Path` the receiving side keeps, and where any bounce goes) is
`bounces+<tag>@weprode.com`. The tag is signed (see `tokens.delivery_tag_maker`), so a
bounce names the delivery it concerns without quoting an address, and nobody can
make us act on a report about someone else.
"""

import functools
import re
from collections.abc import Callable
from email.utils import parseaddr

from flask import current_app

from .. import tokens

# The kinds of mail a tag can name (one byte in the tag; never renumber).
MAIL_KINDS = {"campaign": 1, "confirm": 2, "already": 3}
KIND_NAMES = {number: name for name, number in MAIL_KINDS.items()}


def bounce_address() -> tuple[str, str] | None:
    """(local part, domain) of BOUNCE_ADDRESS, or None when VERP is off."""
    return split_address(current_app.config.get("BOUNCE_ADDRESS") or "")


@functools.lru_cache(maxsize=8)
def split_address(value: str) -> tuple[str, str] | None:
    """(local part, domain) of an address setting, or None (parsed once per value)."""
    address = parseaddr(value)[1]
    local, _, domain = address.rpartition("@")
    return (local, domain.lower()) if local and domain else None


def envelope_sender_maker(kind: str, campaign_id: int = 0) -> Callable[[int], str] | None:
    """`subscriber_id -> bounces+<tag>@domain` for one kind of mail, or None when off."""
    address = bounce_address()
    if address is None:
        return None
    local, domain = address
    make_tag = tokens.delivery_tag_maker(MAIL_KINDS[kind], campaign_id)
    return lambda subscriber_id: f"{local}+{make_tag(subscriber_id)}@{domain}"


def envelope_sender(kind: str, subscriber_id: int, campaign_id: int = 0) -> str | None:
    """One mail's VERP envelope sender, or None when BOUNCE_ADDRESS is not set."""
    maker = envelope_sender_maker(kind, campaign_id)
    return maker(subscriber_id) if maker else None


def tags_in(text: str) -> list[str]:
    """Every VERP tag of our bounce address (BOUNCE_ADDRESS) found in `text`."""
    return list(tags_of(text, bounce_address()))


def tags_of(text: str | bytes, address: tuple[str, str] | None) -> tuple[str, ...]:
    """Every tag of `local+<tag>@domain` in `text` (or raw bytes), lowered, once each,
    in order; none when `address` (local part, domain) is None (VERP off).

    Matched without regard to case, and also when the tag is the wrong length or
    alphabet, so that an altered tag is seen (and reported) rather than overlooked.
    Needs no app: worker processes call it (see `reading`).
    """
    if address is None:
        return ()
    # Lowering first and matching case-sensitively is ten times faster than re.I
    # (the regex engine can then skip ahead to the literal).
    if isinstance(text, bytes):
        found = bytes_tag_pattern(*address).finditer(text.lower())
        return tuple(dict.fromkeys(match.group(1).decode("ascii") for match in found))
    found = tag_pattern(*address).finditer(text.lower())
    return tuple(dict.fromkeys(match.group(1) for match in found))


@functools.lru_cache(maxsize=8)
def tag_pattern(local: str, domain: str) -> re.Pattern[str]:
    """The regular expression of `local+<tag>@domain` in lowered text (built once per
    bounce address)."""
    return re.compile(rf"\b{re.escape(local.lower())}\+([a-z0-9]+)@{re.escape(domain.lower())}\b")


@functools.lru_cache(maxsize=8)
def bytes_tag_pattern(local: str, domain: str) -> re.Pattern[bytes]:
    """`tag_pattern` for raw bytes."""
    return re.compile(tag_pattern(local, domain).pattern.encode())


def check_tag(tag: str) -> tokens.DeliveryTag | None:
    """The genuine tag's content, or None (forged, altered or not ours)."""
    return tokens.check_delivery_tag(tag)
