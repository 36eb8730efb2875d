"""Bitstring Status List: encoding, the list credential, and revocation seen by verify()."""

from __future__ import annotations

import base64
import copy
import gzip

import pytest

from credentials.issue import issue_credential, sign_data_integrity, sign_jwt
from credentials.keys import IssuerKey
from credentials.status_list import (
    MIN_ENTRIES,
    Bitstring,
    StatusListError,
    allocate_index,
    build_status_list_credential,
    decode_list,
    encode_list,
    read_status,
)
from credentials.verify import verify
from tests.credentials.conftest import NOW, STATUS_URL, demo_credential


def check_of(report: dict, name: str) -> dict:
    return next(c for c in report["checks"] if c["name"] == name)


def test_minimum_size_is_16_kib_of_bits():
    bits = Bitstring()
    assert len(bits) == MIN_ENTRIES == 131_072
    with pytest.raises(StatusListError):
        Bitstring(1024)


def test_set_clear_and_bit_order():
    bits = Bitstring()
    bits.set(0)
    bits.set(9)
    bits.set(MIN_ENTRIES - 1)
    assert bits.get(0) and bits.get(9) and not bits.get(1)
    assert bits.set_indices() == [0, 9, MIN_ENTRIES - 1]
    raw = gzip.decompress(base64.urlsafe_b64decode(bits.encode()[1:] + "=="))
    assert raw[0] == 0b1000_0000 and raw[1] == 0b0100_0000  # index 0 is the first byte's high bit
    bits.clear(9)
    assert bits.set_indices() == [0, MIN_ENTRIES - 1]
    with pytest.raises(StatusListError):
        bits.get(MIN_ENTRIES)
    with pytest.raises(StatusListError):
        bits.set(-1)


def test_encoding_is_multibase_base64url_gzip_and_round_trips():
    encoded = encode_list([3, 4242, 131_000])
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert decode_list(encoded).set_indices() == [3, 4242, 131_000]
    assert encode_list([3, 4242, 131_000]) == encoded  # deterministic (gzip mtime 0)
    assert decode_list(encoded[1:]).set_indices() == [3, 4242, 131_000]  # unprefixed, as older lists
    with pytest.raises(StatusListError):
        decode_list("unot-gzip")


def test_the_1edtech_test_list_decodes():
    encoded = "uH4sIAAAAAAAA_-3BMQEAAAzDoMy_6cnoA9QFAAAAAAAAAAAAAAAAAAAAbD3uPa2cAEAAAA"
    assert decode_list(encoded).set_indices() == [23]


def status_list(ring, revoked=(), purpose="revocation", url=STATUS_URL, issuer=None):
    return build_status_list_credential(list_url=url, issuer_id=issuer or ring.current.did,
                                        bits=Bitstring.with_set(revoked), valid_from=NOW, purpose=purpose)


def test_read_status_checks_purpose_and_index(ring):
    unsigned = status_list(ring, revoked=[17])
    entry = demo_credential(ring)["credentialStatus"]
    assert read_status(unsigned, entry) is True
    assert read_status(unsigned, dict(entry, statusListIndex="18")) is False
    assert read_status(unsigned, dict(entry, statusListIndex=17)) is True  # integers, as some issuers write
    with pytest.raises(StatusListError):
        read_status(unsigned, dict(entry, statusPurpose="suspension"))
    with pytest.raises(StatusListError):
        read_status(unsigned, dict(entry, statusListIndex="seventeen"))


@pytest.mark.parametrize("form", ["json", "jwt"])
def test_revocation_is_seen_by_verify(ring, issued, loader, form):
    credential = issued.credential if form == "json" else issued.jwt
    clear = sign_data_integrity(status_list(ring), ring, created=NOW, loader=loader)
    revoked = sign_data_integrity(status_list(ring, revoked=[17]), ring, created=NOW, loader=loader)

    report = verify(credential, now=NOW, loader=loader, status_fetcher={STATUS_URL: clear}.get)
    assert report["valid"] and check_of(report, "status")["ok"] is True

    report = verify(credential, now=NOW, loader=loader, status_fetcher={STATUS_URL: revoked}.get)
    assert not report["valid"] and check_of(report, "status")["code"] == "status_revoked"

    # The list may also come as a VC-JWT.
    as_jwt = sign_jwt(status_list(ring, revoked=[17]), ring, issued_at=NOW)
    report = verify(credential, now=NOW, loader=loader, status_fetcher={STATUS_URL: as_jwt}.get)
    assert check_of(report, "status")["code"] == "status_revoked"


def test_an_unreachable_list_is_reported_could_not_check(issued, loader):
    def offline(url):
        raise ConnectionError("no route to host")

    for fetcher in (offline, {}.get, None):
        report = verify(issued.credential, now=NOW, loader=loader, status_fetcher=fetcher)
        status = check_of(report, "status")
        assert status["ok"] is None and status["code"] == "status_unchecked"
        assert report["valid"]  # signed, in date, not known to be revoked


def test_a_forged_or_foreign_list_is_refused(ring, issued, loader):
    # Someone else's list, even correctly signed by them.
    stranger = IssuerKey.generate()
    foreign = sign_data_integrity(status_list(ring, issuer=stranger.did), stranger, created=NOW, loader=loader)
    report = verify(issued.credential, now=NOW, loader=loader, status_fetcher={STATUS_URL: foreign}.get)
    assert check_of(report, "status")["code"] == "status_invalid" and not report["valid"]
    # Our list with a bit cleared after signing.
    signed = sign_data_integrity(status_list(ring, revoked=[17]), ring, created=NOW, loader=loader)
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["encodedList"] = encode_list([])
    report = verify(issued.credential, now=NOW, loader=loader, status_fetcher={STATUS_URL: tampered}.get)
    assert check_of(report, "status")["code"] == "status_invalid" and not report["valid"]
    # An unsigned list.
    report = verify(issued.credential, now=NOW, loader=loader, status_fetcher={STATUS_URL: status_list(ring)}.get)
    assert check_of(report, "status")["code"] == "status_invalid"


def test_suspension_lists(ring, loader):
    from credentials.model import status_list_entry

    url = "https://exam.example.org/credentials/status/suspensions"
    credential = demo_credential(ring, status=status_list_entry(url, 5, purpose="suspension"))
    issued = issue_credential(credential, ring, issued_at=NOW, loader=loader)
    suspended = sign_data_integrity(status_list(ring, revoked=[5], purpose="suspension", url=url), ring,
                                    created=NOW, loader=loader)
    report = verify(issued.credential, now=NOW, loader=loader, status_fetcher={url: suspended}.get)
    assert check_of(report, "status")["code"] == "status_suspended" and not report["valid"]


def test_allocate_index_is_random_and_avoids_taken_ones():
    import random

    rng = random.Random(7)
    taken = {allocate_index(set(), rng=rng) for _ in range(50)}
    assert len(taken) == 50 and max(taken) < MIN_ENTRIES
    fresh = allocate_index(taken, rng=rng)
    assert fresh not in taken
    with pytest.raises(StatusListError):
        allocate_index(range(8), size=8)
