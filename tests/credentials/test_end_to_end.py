"""A two-level pathway and revocation, end to end in the pure library: issue, stack, revoke, verify."""

from __future__ import annotations

from datetime import timedelta

from credentials import Achievement, KeyRing, issue_credential, verify
from credentials.issue import sign_data_integrity
from credentials.model import status_list_entry
from credentials.pathways import (
    HeldCredential,
    PathwayAward,
    PathwayRule,
    component_evidence,
    newly_earned,
    resolve_pending,
    revocation_cascade,
)
from credentials.status_list import Bitstring, build_status_list_credential
from tests.credentials.conftest import NOW, demo_credential

LIST_URL = "https://exam.example.org/credentials/status/main"


def achievement(slug: str, kind: str = "Badge", credits: float = 5) -> Achievement:
    return Achievement(id=f"https://exam.example.org/achievements/{slug}", name=slug.title(),
                       description=f"{slug} description", criteria=f"Pass {slug}", achievement_type=kind,
                       credits_available=credits)


def test_two_level_pathway_then_revocation(loader):
    ring = KeyRing.generate()
    badges = {slug: achievement(slug) for slug in ("stats", "sql", "python", "html", "css")}
    cert_data = achievement("data-analyst", "Certificate", 15)
    cert_web = achievement("web", "Certificate", 10)
    diploma = achievement("data-diploma", "MicroCredential", 30)
    rules = [
        PathwayRule(cert_data.id, [badges[s].id for s in ("stats", "sql", "python")]),
        PathwayRule(cert_web.id, [badges["html"].id, badges["css"].id], required=2, min_credits=10),
        PathwayRule(diploma.id, [cert_data.id, cert_web.id], credits=30),
    ]
    by_id = {a.id: a for a in [*badges.values(), cert_data, cert_web, diploma]}
    issued, held, awards, index = {}, [], [], iter(range(100, 200))
    status_index = {}  # credential id -> its bit in the list

    def award(achv: Achievement, evidence=(), credits=5.0):
        credential_id = f"urn:uuid:cred-{achv.id.rsplit('/', 1)[1]}"
        status_index[credential_id] = next(index)
        extra = {"evidence": list(evidence)} if evidence else {}  # else the demo attempt evidence
        credential = demo_credential(ring, credential_id=credential_id, achievement=achv, credits_earned=credits,
                                     status=status_list_entry(LIST_URL, status_index[credential_id]), **extra)
        issued[credential_id] = issue_credential(credential, ring, issued_at=NOW, loader=loader)
        held.append(HeldCredential(credential_id, achv.id, credits))
        return credential_id

    for slug in badges:
        award(badges[slug])
    # The last component earned: both certificates, then the diploma, in that order.
    earned = newly_earned(rules, held)
    assert [r.achievement_id for r in earned] == [cert_data.id, cert_web.id, diploma.id]
    ids_by_achievement = {}
    names = {k: v.name for k, v in by_id.items()}
    for result in earned:
        result = resolve_pending(result, ids_by_achievement)  # the lower level was issued just before
        credential_id = award(by_id[result.achievement_id], component_evidence(result, names), credits=result.credits)
        ids_by_achievement[result.achievement_id] = credential_id
        awards.append(PathwayAward(credential_id, result.achievement_id, [c.credential_id for c in result.counted]))
    diploma_id = ids_by_achievement[diploma.id]
    diploma_vc = issued[diploma_id].credential
    assert [e["id"] for e in diploma_vc["evidence"]] == [ids_by_achievement[cert_data.id], ids_by_achievement[cert_web.id]]
    assert newly_earned(rules, held) == []

    def published(revoked_ids):
        bits = Bitstring.with_set(status_index[i] for i in revoked_ids)
        unsigned = build_status_list_credential(list_url=LIST_URL, issuer_id=ring.current.did, bits=bits,
                                                valid_from=NOW)
        return sign_data_integrity(unsigned, ring, created=NOW, loader=loader)

    later = NOW + timedelta(days=1)
    before = published([])
    for credential_id in issued:
        report = verify(issued[credential_id].credential, now=later, loader=loader, status_fetcher={LIST_URL: before}.get)
        assert report["valid"], (credential_id, report)

    # Revoke the SQL badge: the data certificate and the diploma go with it; the web certificate stays.
    sql_id = "urn:uuid:cred-sql"
    cascade = revocation_cascade(sql_id, awards, reason="exam irregularity")
    assert [cid for cid, _ in cascade] == [ids_by_achievement[cert_data.id], diploma_id]
    assert all("exam irregularity" in why for _, why in cascade)
    after = published([sql_id, *[cid for cid, _ in cascade]])
    for credential_id, form in ((sql_id, "credential"), (diploma_id, "jwt"), (ids_by_achievement[cert_data.id], "credential")):
        report = verify(getattr(issued[credential_id], form), now=later, loader=loader,
                        status_fetcher={LIST_URL: after}.get)
        assert not report["valid"]
        assert [c["code"] for c in report["checks"] if c["name"] == "status"] == ["status_revoked"]
    web = verify(issued[ids_by_achievement[cert_web.id]].jwt, now=later, loader=loader,
                 status_fetcher={LIST_URL: after}.get)
    assert web["valid"]
    # Held credentials minus the revoked ones no longer earn the data certificate.
    still_held = [h for h in held if h.credential_id not in {sql_id, *[cid for cid, _ in cascade]}]
    assert cert_data.id not in {r.achievement_id for r in newly_earned(rules[:1], still_held)}
