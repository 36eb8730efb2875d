"""Stackable pathways: an achievement earned by holding others (all of a set, or k of n, and credits).

Pure rules over plain values. The service layer asks, when a learner earns a
credential, ``newly_earned(rules, held)``: the pathway achievements now earned
and not yet held, in the order to issue them (a two-level pathway comes after
the level it needs), each with the component credentials to list as evidence.
When a credential is revoked it asks ``revocation_cascade(...)``: which
pathway awards rest on it, directly or through another pathway, and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from credentials.model import Evidence


class PathwayError(ValueError):
    """A rule set that cannot be evaluated (bad k, a cycle)."""


@dataclass(frozen=True)
class PathwayRule:
    """``achievement_id`` is awarded to whoever holds ``required`` of ``components`` (all when None)."""

    achievement_id: str
    components: Sequence[str]
    required: int | None = None  # k of n; None means all
    min_credits: float | None = None
    credits: float | None = None  # credits the pathway credential itself carries, if any

    def __post_init__(self) -> None:
        if not self.components:
            raise PathwayError(f"pathway {self.achievement_id} has no components")
        if len(set(self.components)) != len(self.components):
            raise PathwayError(f"pathway {self.achievement_id} lists a component twice")
        if self.achievement_id in self.components:
            raise PathwayError(f"pathway {self.achievement_id} requires itself")
        if self.required is not None and not 1 <= self.required <= len(self.components):
            raise PathwayError(f"pathway {self.achievement_id}: required must be 1..{len(self.components)}")

    @property
    def needed(self) -> int:
        """How many components must be held."""
        return len(self.components) if self.required is None else self.required


@dataclass(frozen=True)
class HeldCredential:
    """A credential a learner holds (revoked ones are ignored)."""

    credential_id: str
    achievement_id: str
    credits: float = 0.0
    is_revoked: bool = False


@dataclass(frozen=True)
class PathwayResult:
    """Whether a pathway is earned and on what."""

    achievement_id: str
    is_earned: bool
    counted: tuple[HeldCredential, ...]  # the component credentials that count (evidence)
    missing: tuple[str, ...]  # component achievements not held
    credits: float
    reason: str


@dataclass(frozen=True)
class PathwayAward:
    """A pathway credential that was issued, and the component credentials it rests on."""

    credential_id: str
    achievement_id: str
    component_credential_ids: Sequence[str] = field(default_factory=tuple)


def resolve_pending(result: PathwayResult, issued_ids: Mapping[str, str]) -> PathwayResult:
    """``result`` with each ``pending:<achievement>`` component replaced by the id it was issued under."""
    counted = tuple(
        HeldCredential(issued_ids[c.achievement_id], c.achievement_id, c.credits, c.is_revoked)
        if c.credential_id.startswith("pending:") else c
        for c in result.counted
    )
    return PathwayResult(result.achievement_id, result.is_earned, counted, result.missing, result.credits,
                         result.reason)


def component_evidence(result: PathwayResult, names: Mapping[str, str] | None = None) -> list[Evidence]:
    """Evidence entries for a pathway credential: one per component credential that counts."""
    names = names or {}
    return [
        Evidence(id=c.credential_id, name=f"Component: {names.get(c.achievement_id, c.achievement_id)}",
                 narrative=f"Holds {names.get(c.achievement_id, c.achievement_id)} ({c.credits:g} credits).")
        for c in result.counted
    ]


def _best_by_achievement(held: Iterable[HeldCredential]) -> dict[str, HeldCredential]:
    best: dict[str, HeldCredential] = {}
    for credential in held:
        if credential.is_revoked:
            continue
        current = best.get(credential.achievement_id)
        # Several credentials for one achievement (a retake): the one with most credits, then the first id.
        if current is None or (credential.credits, current.credential_id) > (current.credits, credential.credential_id):
            best[credential.achievement_id] = credential
    return best


def evaluate(rule: PathwayRule, held: Iterable[HeldCredential]) -> PathwayResult:
    """Is ``rule``'s achievement earned by the (non-revoked) credentials in ``held``?"""
    best = _best_by_achievement(held)
    counted = tuple(best[a] for a in rule.components if a in best)
    missing = tuple(a for a in rule.components if a not in best)
    credits = float(sum(c.credits for c in counted))
    if len(counted) < rule.needed:
        reason = f"holds {len(counted)} of the {rule.needed} components needed"
        return PathwayResult(rule.achievement_id, False, counted, missing, credits, reason)
    if rule.min_credits is not None and credits < rule.min_credits:
        reason = f"holds {credits:g} credits of the {rule.min_credits:g} needed"
        return PathwayResult(rule.achievement_id, False, counted, missing, credits, reason)
    reason = f"holds {len(counted)} of {len(rule.components)} components"
    if rule.min_credits is not None:
        reason += f" and {credits:g} credits (>= {rule.min_credits:g})"
    return PathwayResult(rule.achievement_id, True, counted, missing, credits, reason)


def _check_acyclic(rules: Mapping[str, PathwayRule]) -> list[str]:
    """Pathway ids in dependency order (components first); raises PathwayError on a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise PathwayError("pathway cycle: " + " -> ".join(trail + (node,)))
        state[node] = 1
        for component in rules[node].components:
            if component in rules:
                visit(component, trail + (node,))
        state[node] = 2
        order.append(node)

    for achievement_id in rules:
        visit(achievement_id, ())
    return order


def newly_earned(rules: Iterable[PathwayRule], held: Iterable[HeldCredential]) -> list[PathwayResult]:
    """Pathways earned now but not held yet, in issuing order (lower levels first).

    A pathway earned in this pass counts as held for the pathways above it
    (with a placeholder credential id ``pending:<achievement id>``).
    """
    by_id = {r.achievement_id: r for r in rules}
    held_list = list(held)
    holding = {c.achievement_id for c in held_list if not c.is_revoked}
    results = []
    for achievement_id in _check_acyclic(by_id):
        if achievement_id in holding:
            continue
        result = evaluate(by_id[achievement_id], held_list)
        if result.is_earned:
            results.append(result)
            credits = by_id[achievement_id].credits
            held_list.append(HeldCredential(f"pending:{achievement_id}", achievement_id,
                                            credits if credits is not None else result.credits))
            holding.add(achievement_id)
    return results


def revocation_cascade(revoked_credential_id: str, awards: Iterable[PathwayAward],
                       reason: str = "") -> list[tuple[str, str]]:
    """Pathway credentials to revoke because ``revoked_credential_id`` was: ``[(credential_id, reason)]``.

    Transitive: revoking a component of a level-1 pathway revokes that
    pathway and every pathway that lists it. Order: nearest first.
    """
    awards = list(awards)
    out: list[tuple[str, str]] = []
    seen = {revoked_credential_id}
    queue = [(revoked_credential_id, reason)]
    while queue:
        current, why = queue.pop(0)
        for award in awards:
            if award.credential_id in seen or current not in award.component_credential_ids:
                continue
            cascade_reason = f"component {current} was revoked" + (f" ({why})" if why else "")
            out.append((award.credential_id, cascade_reason))
            seen.add(award.credential_id)
            queue.append((award.credential_id, why))
    return out


def dependents(revoked_credential_id: str, awards: Iterable[PathwayAward]) -> list[str]:
    """Ids of the pathway credentials that rest, directly or not, on a revoked credential."""
    return [credential_id for credential_id, _ in revocation_cascade(revoked_credential_id, awards)]
