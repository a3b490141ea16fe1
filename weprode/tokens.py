"""The only module that signs or hashes with the secret key.

One serializer per purpose, each with its own salt, so a token made for one purpose
is worthless for another. Tokens are signed with the newest key and verified with
`[*SECRET_KEY_FALLBACKS, SECRET_KEY]`, so rotating the key breaks no link already
sent. Checks return a `TokenCheck` (ok / expired / invalid) instead of raising.
"""

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from .keys import hash_key, suppression_key

CONFIRM_SALT = "weprode.newsletter.confirm"
UNSUBSCRIBE_SALT = "weprode.newsletter.unsubscribe"
UNDO_SALT = "weprode.newsletter.undo"
MANAGE_SALT = "weprode.newsletter.manage"
RIGHTS_SALT = "weprode.rights.verify"
RIGHTS_MAX_AGE = timedelta(hours=1)
# What we issue: unpadded URL-safe base64, a dot, unpadded URL-safe base64.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class TokenStatus(StrEnum):
    """What checking a token found; compares equal to its plain string."""

    OK = "ok"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True)
class TokenCheck:
    """The outcome of checking a token, with its payload when the signature is good."""

    status: TokenStatus
    payload: tuple = ()

    @property
    def ok(self) -> bool:
        """True when the token is genuine and still valid."""
        return self.status == TokenStatus.OK


INVALID = TokenCheck(TokenStatus.INVALID)


def signing_keys() -> list[str | bytes]:
    """Verification keys, oldest first; itsdangerous signs with the last one."""
    config = current_app.config
    return [*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"]]


def serializer(salt: str) -> URLSafeSerializer:
    """A URL-safe serializer for one purpose."""
    return URLSafeSerializer(signing_keys(), salt=salt)


def epoch(moment: datetime) -> int:
    """Seconds since the epoch, the compact form of time we put in tokens."""
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    """The inverse of `epoch`."""
    return datetime.fromtimestamp(seconds, UTC)


def make_timed(salt: str, subscriber_id: int, issued_at: datetime) -> str:
    """A token naming a subscriber and the moment it was issued for."""
    return serializer(salt).dumps([subscriber_id, epoch(issued_at)])


def check_timed(salt: str, token: str, now: datetime, max_age: timedelta) -> TokenCheck:
    """Check a `make_timed` token against `now`; payload is (subscriber_id, issued_at)."""
    payload = load(salt, token, arity={2})
    if payload is None:
        return INVALID
    subscriber_id, issued = payload
    issued_at = from_epoch(issued)
    if now - issued_at > max_age or issued_at - now > timedelta(minutes=5):
        return TokenCheck(TokenStatus.EXPIRED, (subscriber_id, issued_at))
    return TokenCheck(TokenStatus.OK, (subscriber_id, issued_at))


def make_confirm_token(subscriber_id: int, requested_at: datetime) -> str:
    """The double opt-in link's token, tied to one signup request."""
    return make_timed(CONFIRM_SALT, subscriber_id, requested_at)


def confirm_max_age() -> timedelta:
    """How long a confirmation link stays valid (NEWSLETTER_CONFIRM_MAX_AGE_DAYS)."""
    return timedelta(days=current_app.config["NEWSLETTER_CONFIRM_MAX_AGE_DAYS"])


def check_confirm_token(token: str, now: datetime) -> TokenCheck:
    """Valid for `confirm_max_age()` after the request."""
    return check_timed(CONFIRM_SALT, token, now, confirm_max_age())


def make_undo_token(subscriber_id: int, churned_at: datetime) -> str:
    """The "undo" button's token after unsubscribing, tied to that churn."""
    return make_timed(UNDO_SALT, subscriber_id, churned_at)


def check_undo_token(token: str, now: datetime) -> TokenCheck:
    """Valid for NEWSLETTER_UNDO_MAX_AGE_HOURS after the churn."""
    hours = current_app.config["NEWSLETTER_UNDO_MAX_AGE_HOURS"]
    return check_timed(UNDO_SALT, token, now, timedelta(hours=hours))


def make_rights_token(request_id: int, received_at: datetime) -> str:
    """The link proving a rights request comes from the address's owner."""
    return make_timed(RIGHTS_SALT, request_id, received_at)


def check_rights_token(token: str, now: datetime) -> TokenCheck:
    """Valid for one hour after the request; payload is (request_id, received_at)."""
    return check_timed(RIGHTS_SALT, token, now, RIGHTS_MAX_AGE)


def make_unsubscribe_token(subscriber_id: int, campaign_id: int | None = None) -> str:
    """The opt-out link's token: never expires, names no address, may name a campaign."""
    payload = [subscriber_id] if campaign_id is None else [subscriber_id, campaign_id]
    return serializer(UNSUBSCRIBE_SALT).dumps(payload)


def unsubscribe_token_maker(campaign_id: int | None) -> Callable[[int], str]:
    """A fast `make_unsubscribe_token(id, campaign_id)` for one campaign's send."""
    return fast_token_maker(UNSUBSCRIBE_SALT, [] if campaign_id is None else [campaign_id])


def make_manage_token(subscriber_id: int) -> str:
    """The preference page's token: never expires, names no address.

    Its own salt: the unsubscribe token travels in `List-Unsubscribe` headers that
    mailbox providers read, and must not also open the page that edits a name.
    """
    return serializer(MANAGE_SALT).dumps([subscriber_id])


def manage_token_maker() -> Callable[[int], str]:
    """A fast `make_manage_token` for a whole send."""
    return fast_token_maker(MANAGE_SALT, [])


def fast_token_maker(salt: str, trailing: list[int]) -> Callable[[int], str]:
    """Makes `serializer(salt).dumps([subscriber_id, *trailing])`, fast.

    Builds the same bytes as itsdangerous (compact JSON, URL-safe base64, HMAC with
    the derived key) but derives the key once instead of once per message: token
    making was a tenth of the time spent building each campaign message.
    """
    signer = serializer(salt).make_signer()
    key, separator = signer.derive_key(), signer.sep
    # By name, so `hmac.digest` takes OpenSSL's one-shot path (no HMAC object per call).
    digest = signer.digest_method().name
    # The compact JSON of [subscriber_id, *trailing] is "[" + the id + this tail.
    tail = json.dumps(trailing, separators=(",", ":"))[1:]
    tail = "," + tail if trailing else tail

    def make(subscriber_id: int) -> str:
        payload = base64_encode(f"[{subscriber_id:d}{tail}".encode())
        signature = base64_encode(hmac.digest(key, payload, digest))
        return (payload + separator + signature).decode("ascii")

    return make


@lru_cache(maxsize=8)
def derived_keys(
    keys: tuple[str | bytes, ...], salt: str
) -> tuple[tuple[bytes, ...], Callable[..., Any]]:
    """The signer's derived key for each configured key (newest last), computed once."""
    signer = URLSafeSerializer(list(keys), salt=salt).make_signer()
    return tuple(signer.derive_key(key) for key in signer.secret_keys), signer.digest_method


def load(salt: str, token: str, arity: set[int]) -> tuple[int, ...] | None:
    """The token's payload as a tuple of `arity` ints, or None if it is not ours.

    Verifies `payload.signature` against every key's HMAC as itsdangerous does, with
    the keys derived once instead of a serializer built per call (one-click requests
    check one per POST); our tokens are never compressed, so a compressed payload is
    simply invalid.

    Only the exact string we issued is accepted. Base64 decoding forgives a lot (it
    skips characters outside its alphabet, tolerates `=` padding, and ignores the
    unused low bits of the last character), so `!!~~` or `é€` inside the signature,
    `==` appended or another spelling of the same bytes used to pass. The token must
    have our shape, and each part must be what encoding its decoded bytes gives back.
    """
    if not isinstance(token, str) or not TOKEN_SHAPE.fullmatch(token):
        return None
    payload, signature = token.encode("ascii").split(b".")
    keys, digest = derived_keys(tuple(signing_keys()), salt)
    try:
        expected, body = base64_decode(signature), base64_decode(payload)
        if base64_encode(expected) != signature or base64_encode(body) != payload:
            return None
        valid = any(
            hmac.compare_digest(hmac.new(key, payload, digest).digest(), expected) for key in keys
        )
        data = json.loads(body) if valid else None
    except (BadData, ValueError):
        return None
    if not isinstance(data, list) or len(data) not in arity:
        return None
    if not all(isinstance(item, int) and not isinstance(item, bool) for item in data):
        return None
    return tuple(data)


def check_unsubscribe_token(token: str) -> TokenCheck:
    """Payload is (subscriber_id, campaign_id or None)."""
    payload = load(UNSUBSCRIBE_SALT, token, arity={1, 2})
    if payload is None:
        return INVALID
    campaign_id = payload[1] if len(payload) == 2 else None
    return TokenCheck(TokenStatus.OK, (payload[0], campaign_id))


def check_manage_token(token: str) -> TokenCheck:
    """Payload is (subscriber_id,)."""
    payload = load(MANAGE_SALT, token, arity={1})
    return INVALID if payload is None else TokenCheck(TokenStatus.OK, payload)


def address_hash_keys() -> tuple[bytes, ...]:
    """HMAC keys for address hashes; the suppression key, the one we store under, last.

    Before suppressions had a key of their own they were hashed under each secret
    key; those hashes are still looked up while their key is configured.
    """
    return derived_hash_keys(tuple(signing_keys()), suppression_key())


@lru_cache(maxsize=8)
def derived_hash_keys(keys: tuple[str | bytes, ...], suppression: bytes) -> tuple[bytes, ...]:
    """`address_hash_keys` for given signing keys and suppression key, derived once."""
    legacy = dict.fromkeys(hash_key(key) for key in keys)
    legacy.pop(suppression, None)
    return (*legacy, suppression)


def address_hashes(normalised_email: str) -> list[str]:
    """Keyed hashes of an address under every known key; the last is the one we store.

    The suppression list stores hashes, never addresses, so an erased person's address
    cannot be read back, yet we can still refuse to mail it.
    """
    message = normalised_email.encode()
    return [hmac.new(key, message, hashlib.sha256).hexdigest() for key in address_hash_keys()]


def address_hash(normalised_email: str) -> str:
    """The address's hash under the suppression key, for storing."""
    return address_hashes(normalised_email)[-1]


# The VERP tag in a bounce address (`bounces+<tag>@domain`): which mail went to whom.
DELIVERY_TAG_SALT = "weprode.deliverability.verp"
# Tag = base32(kind byte, subscriber id, campaign id, 5 bytes each) + base32(HMAC, 10
# bytes): 34 characters, so `bounces+<tag>` stays far under SMTP's 64-octet local part.
# Base32 in lower case survives MTAs that lower-case local parts; 80 bits of HMAC
# cannot be guessed, and the ids say nothing about the address.
DELIVERY_TAG_ID_BYTES = 5
DELIVERY_TAG_MAC_BYTES = 10
DELIVERY_TAG_LENGTH = 34
DELIVERY_TAG_SHAPE = re.compile(rf"[a-z2-7]{{{DELIVERY_TAG_LENGTH}}}", re.ASCII)


@dataclass(frozen=True)
class DeliveryTag:
    """What a genuine VERP tag names: the kind of mail, the subscriber, the campaign."""

    kind: int
    subscriber_id: int
    campaign_id: int  # 0 for a mail that belongs to no campaign


def delivery_tag_maker(kind: int, campaign_id: int = 0) -> Callable[[int], str]:
    """A fast `subscriber_id -> tag` for one kind of mail (and one campaign's send).

    The key is derived once, as for `unsubscribe_token_maker`: a campaign makes one
    tag per recipient.
    """
    keys, _digest = derived_keys(tuple(signing_keys()), DELIVERY_TAG_SALT)
    key = keys[-1]

    def make(subscriber_id: int) -> str:
        body = delivery_tag_body(kind, subscriber_id, campaign_id)
        mac = hmac.new(key, body, hashlib.sha256).digest()[:DELIVERY_TAG_MAC_BYTES]
        return base64.b32encode(body + mac).decode("ascii").rstrip("=").lower()

    return make


def delivery_tag_body(kind: int, subscriber_id: int, campaign_id: int) -> bytes:
    """The signed bytes of a tag: kind, then both ids in fixed width."""
    width = DELIVERY_TAG_ID_BYTES
    return bytes([kind]) + subscriber_id.to_bytes(width, "big") + campaign_id.to_bytes(width, "big")


def check_delivery_tag(tag: str) -> DeliveryTag | None:
    """The tag's content when we made it (under any configured key), else None.

    Compared case-insensitively, because MTAs may lower- or upper-case a local part;
    anything else altered (one character, the length) fails the HMAC or the shape.
    """
    if not isinstance(tag, str) or not DELIVERY_TAG_SHAPE.fullmatch(tag.lower()):
        return None
    raw = base64.b32decode(tag.upper() + "=" * (-len(tag) % 8))
    body, mac = raw[:-DELIVERY_TAG_MAC_BYTES], raw[-DELIVERY_TAG_MAC_BYTES:]
    if base64.b32encode(raw).decode("ascii").rstrip("=").lower() != tag.lower():
        return None
    keys, _digest = derived_keys(tuple(signing_keys()), DELIVERY_TAG_SALT)
    expected = (hmac.new(key, body, hashlib.sha256).digest() for key in keys)
    if not any(hmac.compare_digest(e[:DELIVERY_TAG_MAC_BYTES], mac) for e in expected):
        return None
    width = DELIVERY_TAG_ID_BYTES
    return DeliveryTag(
        body[0],
        int.from_bytes(body[1 : 1 + width], "big"),
        int.from_bytes(body[1 + width :], "big"),
    )
