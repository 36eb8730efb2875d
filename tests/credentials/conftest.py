"""Shared pieces for the credentials tests: a context loader, a key ring, a demo credential."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from credentials.contexts import OB_V3P0_3_0_3, ContextLoader
from credentials.issue import issue_credential, issuer_profile
from credentials.keys import KeyRing
from credentials.model import Achievement, Alignment, Evidence, build_credential, status_list_entry
from tests._fixtures import fixture_path

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
EMAIL = "learner@example.org"
SALT = "5f1c0ffee0ddba11"
STATUS_URL = "https://exam.example.org/credentials/status/1"


@pytest.fixture
def loader() -> ContextLoader:
    """Local contexts: the installed ones, else the shared fixtures' copy of OB 3.0.3 (read in place)."""
    default = ContextLoader(use_env=False)
    if default.available(OB_V3P0_3_0_3):
        return default
    return ContextLoader({OB_V3P0_3_0_3: fixture_path("openbadges", "contexts-offline", "ob-v3p0-3.0.3.json")},
                         use_env=False)


@pytest.fixture
def ob_schema() -> dict:
    """The official OB 3.0 AchievementCredential JSON Schema, read in place."""
    import json

    return json.loads(fixture_path("openbadges", "v3", "schema", "ob_v3p0_achievementcredential_schema.json")
                      .read_text("utf-8"))


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


def demo_achievement() -> Achievement:
    return Achievement(
        id="https://exam.example.org/achievements/stats-101",
        name="Introductory Statistics",
        description="Descriptive statistics, probability and inference at first-year level.",
        criteria="Pass the proctored Introductory Statistics exam with at least 60%.",
        criteria_url="https://exam.example.org/achievements/stats-101/criteria",
        achievement_type="MicroCredential",
        image="https://exam.example.org/achievements/stats-101/image.png",
        credits_available=5,
        credit_framework="ECTS",
        field_of_study="Statistics",
        level="EQF level 5",
        alignments=(Alignment("Apply basic statistics", "https://esco.example.org/skill/basic-statistics",
                              "ESCO", target_type="ceasn:Competency"),),
    )


def demo_credential(ring: KeyRing, **overrides) -> dict:
    values = dict(
        credential_id="urn:uuid:3f6a9f0e-6d2f-4c63-9a53-0d1a2f0b7e11",
        issuer=issuer_profile(ring, "Example University", url="https://exam.example.org"),
        achievement=demo_achievement(),
        recipient_email=EMAIL,
        salt=SALT,
        valid_from=NOW,
        score=42,
        max_score=50,
        pass_score=30,
        passed=True,
        credits_earned=5,
        evidence=[Evidence(id="https://exam.example.org/sessions/981", name="Proctored exam attempt",
                           narrative="Attempt 981, submitted and graded.",
                           hash_chain_head="sha256:" + "ab" * 32)],
        status=status_list_entry(STATUS_URL, 17),
    )
    values.update(overrides)
    return build_credential(**values)


@pytest.fixture
def unsigned(ring: KeyRing) -> dict:
    return demo_credential(ring)


@pytest.fixture
def issued(unsigned: dict, ring: KeyRing, loader: ContextLoader):
    return issue_credential(unsigned, ring, issued_at=NOW, loader=loader)
