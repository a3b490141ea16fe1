"""DKIM signatures for campaign mail (the `dkim` library), and the key from the config."""

from collections.abc import Mapping
from typing import Any

import dkim

# Signed so a forwarder cannot strip or swap the opt-out headers unnoticed.
DKIM_HEADERS = [
    b"from",
    b"reply-to",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
]


def dkim_signature(message: bytes, selector: bytes, domain: bytes, key: bytes) -> bytes:
    """The DKIM-Signature header line for `message` (bytes, CRLF)."""
    return dkim.sign(
        message,
        selector,
        domain,
        key,
        include_headers=DKIM_HEADERS,
        canonicalize=(b"relaxed", b"relaxed"),
    )


def dkim_settings(config: Mapping[str, Any]) -> tuple[bytes | None, bytes, bytes]:
    """(key, selector, domain) when DKIM is configured, else (None, b"", b"")."""
    key_file = config["DKIM_PRIVATE_KEY_FILE"]
    if not key_file:
        return None, b"", b""
    with open(key_file, "rb") as handle:
        key = handle.read()
    return key, config["DKIM_SELECTOR"].encode(), config["DKIM_DOMAIN"].encode()
