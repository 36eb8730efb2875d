"""Open Badges 3.0 data as plain values: Achievement, Profile, and the unsigned OpenBadgeCredential.

Everything here is a pure function of its inputs (the caller passes ids,
times and salts). The output validates against the official OB 3.0
AchievementCredential JSON Schema; signing is in ``credentials.issue``.

The learner is named by a salted SHA-256 of their e-mail address
(``IdentityObject``, ``hashed: true``), never by the address itself; the salt
is per credential and kept by the issuer, so a learner can prove the
credential is theirs and keeps it when their address changes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from credentials.contexts import OB_V3P0_3_0_3, VC_V2

CREDENTIAL_CONTEXT = [VC_V2, OB_V3P0_3_0_3]
CREDENTIAL_TYPE = ["VerifiableCredential", "OpenBadgeCredential"]
#: Our one term outside VC 2.0 and OB 3.0, defined inline so that it is signed: JSON-LD
#: silently drops an undefined term, and a dropped term is not covered by the proof.
ENGINE_TERMS_CONTEXT = {
    "hashChainHead": "https://www.w3.org/ns/credentials/issuer-dependent#hashChainHead",
}
OB_SCHEMA_URL = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
OB_SCHEMA_TYPE = "1EdTechJsonSchemaValidator2019"

#: Achievement types we offer instructors (OB 3.0's vocabulary has more; 'ext:...' extends it).
ACHIEVEMENT_TYPES = ("Badge", "MicroCredential", "Certificate", "Course", "Assessment", "Competency", "Achievement")


def format_datetime(moment: datetime) -> str:
    """XSD dateTime in UTC with a 'Z', to the second."""
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (UTC)")
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime:
    """Parse an XSD dateTime; a value without an offset is taken as UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def new_salt() -> str:
    """A random per-credential salt for the identity hash."""
    return secrets.token_hex(16)


def hash_identity(email: str, salt: str) -> str:
    """OB IdentityHash of an e-mail: 'sha256$' + hex(sha256(normalised email + salt))."""
    normalised = email.strip().lower()
    return "sha256$" + hashlib.sha256((normalised + salt).encode("utf-8")).hexdigest()


def identity_matches(identity: Mapping[str, Any], email: str) -> bool:
    """True when an IdentityObject names this e-mail address."""
    if identity.get("hashed") is not True:
        return identity.get("identityHash") == email
    return identity.get("identityHash") == hash_identity(email, identity.get("salt", ""))


@dataclass(frozen=True)
class Alignment:
    """A skill, competency or framework level the achievement aligns to."""

    target_name: str
    target_url: str
    target_framework: str | None = None
    target_code: str | None = None
    target_type: str | None = None  # e.g. 'ceasn:Competency', 'CFItem', 'ext:Level'

    def to_json(self) -> dict[str, Any]:
        """OB 3.0 Alignment."""
        out: dict[str, Any] = {"type": ["Alignment"], "targetName": self.target_name, "targetUrl": self.target_url}
        if self.target_framework:
            out["targetFramework"] = self.target_framework
        if self.target_code:
            out["targetCode"] = self.target_code
        if self.target_type:
            out["targetType"] = self.target_type
        return out


@dataclass(frozen=True)
class Profile:
    """The issuer: ``id`` is a did:key or an https URL."""

    id: str
    name: str
    url: str | None = None
    email: str | None = None
    description: str | None = None
    image: str | None = None

    def to_json(self) -> dict[str, Any]:
        """OB 3.0 Profile."""
        out: dict[str, Any] = {"id": self.id, "type": ["Profile"], "name": self.name}
        for key in ("url", "email", "description"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.image:
            out["image"] = {"id": self.image, "type": "Image"}
        return out


@dataclass(frozen=True)
class Achievement:
    """What an instructor defines and an exam awards (OB 3.0 Achievement)."""

    id: str
    name: str
    description: str
    criteria: str  # narrative (Markdown allowed)
    criteria_url: str | None = None
    achievement_type: str = "Badge"
    image: str | None = None
    credits_available: float | None = None
    credit_framework: str | None = None  # e.g. 'ECTS': carried as an alignment
    field_of_study: str | None = None
    level: str | None = None  # e.g. 'EQF 6': carried as an alignment of type ext:Level
    level_url: str | None = None
    alignments: Sequence[Alignment] = field(default_factory=tuple)
    tags: Sequence[str] = field(default_factory=tuple)
    human_code: str | None = None
    version: str | None = None
    creator: Profile | None = None

    def all_alignments(self) -> list[Alignment]:
        """Declared alignments plus the level and credit framework, as alignments."""
        extra = []
        if self.level:
            extra.append(Alignment(self.level, self.level_url or self.id + "#level", target_type="ext:Level"))
        if self.credit_framework:
            extra.append(Alignment(self.credit_framework, self.id + "#credits",
                                   target_framework=self.credit_framework, target_type="ext:CreditFramework"))
        return list(self.alignments) + extra

    def to_json(self) -> dict[str, Any]:
        """OB 3.0 Achievement."""
        if self.achievement_type not in ACHIEVEMENT_TYPES and not self.achievement_type.startswith("ext:"):
            raise ValueError(f"unknown achievement type {self.achievement_type!r}")
        criteria: dict[str, Any] = {"narrative": self.criteria}
        if self.criteria_url:
            criteria["id"] = self.criteria_url
        out: dict[str, Any] = {
            "id": self.id,
            "type": ["Achievement"],
            "achievementType": self.achievement_type,
            "name": self.name,
            "description": self.description,
            "criteria": criteria,
        }
        if self.image:
            out["image"] = {"id": self.image, "type": "Image"}
        if self.credits_available is not None:
            out["creditsAvailable"] = float(self.credits_available)
        if self.field_of_study:
            out["fieldOfStudy"] = self.field_of_study
        alignments = self.all_alignments()
        if alignments:
            out["alignment"] = [a.to_json() for a in alignments]
        if self.tags:
            out["tag"] = list(self.tags)
        if self.human_code:
            out["humanCode"] = self.human_code
        if self.version:
            out["version"] = self.version
        if self.creator:
            out["creator"] = self.creator.to_json()
        return out


@dataclass(frozen=True)
class Evidence:
    """The attempt that earned the credential, with the head of its hash-chained event log."""

    id: str  # the attempt's URL
    name: str
    narrative: str | None = None
    hash_chain_head: str | None = None  # e.g. 'sha256:<hex>'
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        """OB 3.0 Evidence; ``hashChainHead`` is defined by ENGINE_TERMS_CONTEXT, so it is signed."""
        out: dict[str, Any] = {"id": self.id, "type": ["Evidence"], "name": self.name}
        if self.narrative:
            out["narrative"] = self.narrative
        description = self.description
        if self.hash_chain_head:
            out["hashChainHead"] = self.hash_chain_head
            description = (description + " " if description else "") + (
                f"Head of the attempt's hash-chained event log: {self.hash_chain_head}")
        if description:
            out["description"] = description
        return out


@dataclass(frozen=True)
class ResultEntry:
    """One result line: a score, a pass/fail, a grade."""

    description: str  # e.g. 'Score', 'Outcome'
    value: str
    status: str | None = None  # OB ResultStatusType, e.g. 'Completed'

    def to_json(self, result_description_id: str | None = None) -> dict[str, Any]:
        """OB 3.0 Result (value as a string, as the schema wants)."""
        out: dict[str, Any] = {"type": ["Result"], "value": self.value}
        if result_description_id:
            out["resultDescription"] = result_description_id
        if self.status:
            out["status"] = self.status
        return out


def evidence_chain_head(evidence: Mapping[str, Any]) -> str | None:
    """The attempt's hash-chain head named by an Evidence object, if any."""
    head = evidence.get("hashChainHead")
    return head if isinstance(head, str) else None


def status_list_entry(status_list_url: str, index: int, purpose: str = "revocation") -> dict[str, Any]:
    """A BitstringStatusListEntry pointing at bit ``index`` of the list credential."""
    return {
        "id": f"{status_list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": status_list_url,
    }


def build_credential(
    *,
    credential_id: str,
    issuer: Profile,
    achievement: Achievement,
    recipient_email: str,
    salt: str,
    valid_from: datetime,
    valid_until: datetime | None = None,
    score: float | None = None,
    max_score: float | None = None,
    pass_score: float | None = None,
    passed: bool | None = None,
    credits_earned: float | None = None,
    evidence: Sequence[Evidence] = (),
    status: Mapping[str, Any] | None = None,
    name: str | None = None,
    awarded_at: datetime | None = None,
) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential for one award, as a JSON-ready dict.

    ``recipient_email`` goes in only as ``hash_identity(recipient_email, salt)``.
    ``status`` is the ``credentialStatus`` entry (see ``status_list_entry``).
    """
    achievement_json = achievement.to_json()
    results: list[dict[str, Any]] = []
    descriptions: list[dict[str, Any]] = []
    if score is not None:
        score_id = achievement.id + "#result-score"
        score_description: dict[str, Any] = {"id": score_id, "type": ["ResultDescription"], "name": "Score",
                                             "resultType": "RawScore", "valueMin": "0"}
        if max_score is not None:
            score_description["valueMax"] = f"{max_score:g}"
        if pass_score is not None:
            score_description["requiredValue"] = f"{pass_score:g}"
        descriptions.append(score_description)
        results.append(ResultEntry("Score", f"{score:g}").to_json(score_id))
    if passed is not None:
        pass_id = achievement.id + "#result-outcome"
        descriptions.append({"id": pass_id, "type": ["ResultDescription"], "name": "Outcome",
                             "resultType": "Status"})
        results.append(ResultEntry("Outcome", "Passed" if passed else "Failed",
                                   status="Completed" if passed else "Failed").to_json(pass_id))
    if descriptions:
        achievement_json["resultDescription"] = descriptions

    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [{
            "type": "IdentityObject",
            "identityHash": hash_identity(recipient_email, salt),
            "identityType": "emailAddress",
            "hashed": True,
            "salt": salt,
        }],
        "achievement": achievement_json,
    }
    if results:
        subject["result"] = results
    if credits_earned is not None:
        subject["creditsEarned"] = float(credits_earned)

    credential: dict[str, Any] = {
        "@context": list(CREDENTIAL_CONTEXT),
        "id": credential_id,
        "type": list(CREDENTIAL_TYPE),
        "name": name or achievement.name,
        "issuer": issuer.to_json(),
        "validFrom": format_datetime(valid_from),
        "credentialSubject": subject,
        "credentialSchema": [{"id": OB_SCHEMA_URL, "type": OB_SCHEMA_TYPE}],
    }
    if achievement.image:
        credential["image"] = {"id": achievement.image, "type": "Image"}
    if awarded_at is not None:
        credential["awardedDate"] = format_datetime(awarded_at)
    if valid_until is not None:
        credential["validUntil"] = format_datetime(valid_until)
    if evidence:
        credential["evidence"] = [e.to_json() for e in evidence]
        if any(e.hash_chain_head for e in evidence):
            credential["@context"].append(dict(ENGINE_TERMS_CONTEXT))
    if status is not None:
        credential["credentialStatus"] = dict(status)
    return credential
