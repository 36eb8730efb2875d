"""W3C Bitstring Status List v1.0: the published list that says which credentials are revoked.

The list is a bitstring of at least 16 KiB (131,072 entries, so that one
credential's position says little about its holder), GZIP-compressed and
carried as multibase base64url ('u' + unpadded base64url) in a
``BitstringStatusListCredential``. Bit 0 is the most significant bit of the
first byte. A credential points at its bit with a ``BitstringStatusListEntry``
(see ``model.status_list_entry``).
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from credentials.contexts import VC_V2
from credentials.keys import b64url, b64url_decode
from credentials.model import format_datetime

MIN_ENTRIES = 131_072  # 16 KiB of bits, the spec's minimum
STATUS_PURPOSES = ("revocation", "suspension", "refresh", "message")


class StatusListError(ValueError):
    """An encoded list or list credential that cannot be read; ``code`` is stable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Bitstring:
    """A mutable bitstring of status entries (1 = set, e.g. revoked)."""

    def __init__(self, size: int = MIN_ENTRIES, data: bytes | None = None):
        if data is None:
            if size < MIN_ENTRIES or size % 8:
                raise StatusListError("status_list_invalid",
                                      f"a status list holds at least {MIN_ENTRIES} entries, a multiple of 8")
            data = bytes(size // 8)
        self._bits = bytearray(data)

    def __len__(self) -> int:
        return len(self._bits) * 8

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise StatusListError("status_index_out_of_range", f"index {index} outside 0..{len(self) - 1}")
        return index // 8, 7 - index % 8

    def get(self, index: int) -> bool:
        """True when bit ``index`` is set."""
        byte, shift = self._locate(index)
        return bool(self._bits[byte] >> shift & 1)

    def set(self, index: int, value: bool = True) -> None:
        """Set (or clear, with value=False) bit ``index``."""
        byte, shift = self._locate(index)
        if value:
            self._bits[byte] |= 1 << shift
        else:
            self._bits[byte] &= ~(1 << shift) & 0xFF

    def clear(self, index: int) -> None:
        """Clear bit ``index``."""
        self.set(index, False)

    def set_indices(self) -> list[int]:
        """Indices of every set bit, ascending."""
        return [byte * 8 + bit for byte, value in enumerate(self._bits) if value
                for bit in range(8) if value >> (7 - bit) & 1]

    def encode(self) -> str:
        """Multibase base64url of the GZIP-compressed bits: the ``encodedList`` value."""
        # mtime=0 keeps the output a pure function of the bits.
        return "u" + b64url(gzip.compress(bytes(self._bits), mtime=0))

    @classmethod
    def decode(cls, encoded: str) -> Bitstring:
        """Parse an ``encodedList``; also accepts unprefixed base64url, as older lists used."""
        text = encoded[1:] if encoded.startswith("u") else encoded
        try:
            data = gzip.decompress(b64url_decode(text))
        except (ValueError, OSError, EOFError) as exc:
            raise StatusListError("status_list_invalid", f"encodedList is not gzip+base64url: {exc}") from exc
        return cls(data=data)

    @classmethod
    def with_set(cls, indices: Iterable[int], size: int = MIN_ENTRIES) -> Bitstring:
        """A list with the given bits set."""
        bits = cls(size)
        for index in indices:
            bits.set(index)
        return bits


def allocate_index(used: Iterable[int], size: int = MIN_ENTRIES, *, rng: random.Random | None = None) -> int:
    """A free index for a new credential, chosen at random (the spec's advice: order leaks issue time)."""
    taken = set(used)
    if len(taken) >= size:
        raise StatusListError("status_list_full", "every index of this list is taken: start a new list")
    chooser = rng or random.SystemRandom()
    while True:
        index = chooser.randrange(size)
        if index not in taken:
            return index


def encode_list(indices: Iterable[int], size: int = MIN_ENTRIES) -> str:
    """``encodedList`` with the given indices set."""
    return Bitstring.with_set(indices, size).encode()


def decode_list(encoded: str) -> Bitstring:
    """Bitstring of an ``encodedList``."""
    return Bitstring.decode(encoded)


def build_status_list_credential(
    *,
    list_url: str,
    issuer_id: str,
    bits: Bitstring,
    valid_from: datetime,
    purpose: str = "revocation",
    valid_until: datetime | None = None,
    ttl_ms: int | None = None,
) -> dict[str, Any]:
    """The unsigned BitstringStatusListCredential published at ``list_url`` (sign it like any credential)."""
    if purpose not in STATUS_PURPOSES:
        raise StatusListError("status_purpose_invalid", f"unknown status purpose {purpose!r}")
    subject: dict[str, Any] = {
        "id": list_url + "#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": bits.encode(),
    }
    if ttl_ms is not None:
        subject["ttl"] = ttl_ms
    credential: dict[str, Any] = {
        "@context": [VC_V2],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "validFrom": format_datetime(valid_from),
        "credentialSubject": subject,
    }
    if valid_until is not None:
        credential["validUntil"] = format_datetime(valid_until)
    return credential


def read_status(list_credential: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    """True when the entry's bit is set in the (already verified) list credential."""
    types = list_credential.get("type")
    if not isinstance(types, list) or "BitstringStatusListCredential" not in types:
        raise StatusListError("status_list_invalid", "not a BitstringStatusListCredential")
    subject = list_credential.get("credentialSubject")
    if isinstance(subject, list):
        subject = subject[0] if subject else None
    if not isinstance(subject, Mapping) or "encodedList" not in subject:
        raise StatusListError("status_list_invalid", "the list credential has no encodedList")
    purpose = entry.get("statusPurpose")
    if subject.get("statusPurpose") not in (purpose, [purpose]) and not (
        isinstance(subject.get("statusPurpose"), list) and purpose in subject["statusPurpose"]
    ):
        raise StatusListError("status_list_invalid",
                              f"list purpose {subject.get('statusPurpose')!r} differs from entry's {purpose!r}")
    try:
        index = int(entry.get("statusListIndex"))  # a string per spec; some issuers write an integer
    except (TypeError, ValueError) as exc:
        raise StatusListError("status_entry_invalid", "statusListIndex is not an integer") from exc
    return Bitstring.decode(subject["encodedList"]).get(index)
