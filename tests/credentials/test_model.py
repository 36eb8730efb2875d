"""The unsigned credential: what goes in, and that every variant fits the official schema."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jsonschema
import pytest

from credentials.model import (
    Achievement,
    Profile,
    build_credential,
    format_datetime,
    hash_identity,
    new_salt,
    parse_datetime,
)
from credentials.verify import structure_errors
from tests.credentials.conftest import EMAIL, NOW, SALT, demo_achievement, demo_credential


def test_identity_hash_follows_the_ob_format():
    assert hash_identity(EMAIL, SALT).startswith("sha256$") and len(hash_identity(EMAIL, SALT)) == 7 + 64
    assert hash_identity("Learner@Example.org ", SALT) == hash_identity(EMAIL, SALT)
    assert hash_identity(EMAIL, "other") != hash_identity(EMAIL, SALT)
    assert new_salt() != new_salt()


def test_the_credential_carries_what_the_issue_lists(ring):
    credential = demo_credential(ring)
    subject = credential["credentialSubject"]
    achievement = subject["achievement"]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["@context"][:2] == ["https://www.w3.org/ns/credentials/v2",
                                          "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert achievement["achievementType"] == "MicroCredential" and achievement["creditsAvailable"] == 5.0
    assert achievement["fieldOfStudy"] == "Statistics"
    assert {a["targetName"] for a in achievement["alignment"]} == {"Apply basic statistics", "EQF level 5", "ECTS"}
    assert [r["value"] for r in subject["result"]] == ["42", "Passed"]
    assert subject["result"][1]["status"] == "Completed"
    assert subject["creditsEarned"] == 5.0
    assert credential["credentialSchema"][0]["type"] == "1EdTechJsonSchemaValidator2019"
    assert credential["credentialStatus"]["type"] == "BitstringStatusListEntry"
    assert credential["credentialStatus"]["statusListIndex"] == "17"
    assert structure_errors(credential) == []


def minimal(ring):
    return build_credential(
        credential_id="https://exam.example.org/credentials/1",
        issuer=Profile(id="https://exam.example.org/issuer", name="Example University"),
        achievement=Achievement(id="https://exam.example.org/achievements/1", name="Badge", description="d",
                                criteria="c"),
        recipient_email=EMAIL, salt=SALT, valid_from=NOW)


@pytest.mark.fixtures
@pytest.mark.parametrize("variant", ["full", "minimal", "failed", "expiring", "certificate"])
def test_every_variant_validates_against_the_official_schema(ring, ob_schema, variant):
    credential = {
        "full": lambda: demo_credential(ring),
        "minimal": lambda: minimal(ring),
        "failed": lambda: demo_credential(ring, score=10, passed=False, credits_earned=None),
        "expiring": lambda: demo_credential(ring, valid_until=NOW + timedelta(days=730), awarded_at=NOW),
        "certificate": lambda: demo_credential(ring, achievement=Achievement(
            id="https://exam.example.org/achievements/cert", name="Certificate", description="d", criteria="c",
            achievement_type="Certificate", tags=("data",), human_code="CERT-1", version="2026")),
    }[variant]()
    # The schema wants a proof set when there is a proof; an unsigned credential has none.
    jsonschema.Draft201909Validator(ob_schema).validate(credential)


def test_unknown_achievement_types_are_refused():
    achievement = Achievement(id="https://x/a", name="n", description="d", criteria="c", achievement_type="Trophy")
    with pytest.raises(ValueError):
        achievement.to_json()
    extended = Achievement(id="https://x/a", name="n", description="d", criteria="c", achievement_type="ext:Trophy")
    assert extended.to_json()["achievementType"] == "ext:Trophy"


def test_datetimes_are_utc_and_aware():
    assert format_datetime(datetime(2026, 3, 1, 13, 0, 5, 999, tzinfo=timezone(timedelta(hours=1)))) == \
        "2026-03-01T12:00:05Z"
    with pytest.raises(ValueError):
        format_datetime(datetime(2026, 3, 1))
    assert parse_datetime("2026-03-01T12:00:05Z") == datetime(2026, 3, 1, 12, 0, 5, tzinfo=timezone.utc)
    assert parse_datetime("2026-03-01T12:00:05").tzinfo is not None


def test_demo_achievement_is_reusable():
    assert demo_achievement().to_json() == demo_achievement().to_json()
