"""The proctoring policy: levels, their adjustable settings, rules that turn signals into flags, the risk score.

Pure: plain values in, plain values out (no Flask, no database, no clock). The
services count signals per attempt and ask `evaluate` what the newest one
means; rules fire on the signal that *crosses* a threshold, so a flag is
raised once per threshold and counting again after a restart gives the same
answer.

Levels (each setting can be overridden in the exam's `proctoring.settings`):

- `none`: nothing is recorded.
- `record_only`: signals are recorded and flags raised for later review;
  nobody is warned, alerted or paused.
- `standard`: the learner is warned when a rule fires; examiners are alerted
  for high-severity flags.
- `strict`: lower thresholds, fullscreen required, clipboard use flagged at
  once, examiners alerted from medium severity, the attempt paused when the
  risk score reaches `pause_at_risk`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

LEVELS = ("none", "record_only", "standard", "strict")
SEVERITIES = ("low", "medium", "high")

#: Signals a browser may send (docs/protocol.md, "Proctoring").
CLIENT_KINDS = ("tab_hidden", "tab_visible", "focus_lost", "focus_gained", "fullscreen_exit", "fullscreen_enter",
                "copy", "cut", "paste", "context_menu", "print", "resize", "offline", "online")
#: Signals the server observes itself.
SERVER_KINDS = ("second_connection", "ip_change", "user_agent_change", "fast_answer", "inactivity", "disconnected")

_COMMON = {
    "max_focus_losses": 5,        # tab_hidden + focus_lost beyond this: flag
    "fullscreen_required": False,
    "max_fullscreen_exits": 0,    # with fullscreen required: exits beyond this: flag
    "max_clipboard": 3,           # copy + cut + paste beyond this: flag
    "flag_print": True,
    "max_context_menus": None,    # None: recorded, never flagged
    "max_offline_events": 3,      # browser offline events beyond this: flag (low)
    "max_disconnected_s": 300,    # time disconnected (server-measured) beyond this: flag
    "inactivity_s": 600,          # no activity for this long while connected: flag (low)
    "fast_answer_ratio": 0.15,    # an answer in less than ratio x the item's estimated_time_s is fast
    "max_fast_answers": 3,        # fast answers beyond this: flag
    "pause_at_risk": None,        # risk score (0..100) at which the attempt is paused, None: never
    "warn": True,                 # warn the learner when a rule the learner controls fires
    "alert_from": "high",         # examiners get an alert for flags of this severity and above
    "snapshot_interval_s": None,  # webcam snapshot every N seconds (needs consent), None: no webcam
    "retention_days": 180,        # signals and snapshots are purged this long after the attempt
    "signal_rate": 20,            # at most this many signals per attempt...
    "signal_window_s": 10,        # ...per window of this many seconds; more are refused (rate_limited)
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "none": {**_COMMON, "warn": False, "alert_from": None},
    "record_only": {**_COMMON, "warn": False, "alert_from": None},
    "standard": dict(_COMMON),
    "strict": {**_COMMON, "max_focus_losses": 2, "fullscreen_required": True, "max_clipboard": 0,
               "max_context_menus": 3, "max_disconnected_s": 120, "inactivity_s": 300, "max_fast_answers": 2,
               "pause_at_risk": 80, "alert_from": "medium"},
}

#: Setting -> (accepted types, lower bound, upper bound, may be None)
_SPEC: dict[str, tuple[tuple[type, ...], float | None, float | None, bool]] = {
    "max_focus_losses": ((int,), 0, 1000, False),
    "fullscreen_required": ((bool,), None, None, False),
    "max_fullscreen_exits": ((int,), 0, 1000, False),
    "max_clipboard": ((int,), 0, 1000, False),
    "flag_print": ((bool,), None, None, False),
    "max_context_menus": ((int,), 0, 1000, True),
    "max_offline_events": ((int,), 0, 1000, True),
    "max_disconnected_s": ((int, float), 0, 7 * 86400, True),
    "inactivity_s": ((int, float), 10, 7 * 86400, True),
    "fast_answer_ratio": ((int, float), 0, 1, True),
    "max_fast_answers": ((int,), 0, 1000, False),
    "pause_at_risk": ((int, float), 1, 100, True),
    "warn": ((bool,), None, None, False),
    "alert_from": ((str,), None, None, True),
    "snapshot_interval_s": ((int,), 10, 3600, True),
    "retention_days": ((int,), 1, 3650, False),
    "signal_rate": ((int,), 1, 10_000, False),
    "signal_window_s": ((int,), 1, 3600, False),
}


class PolicyError(ValueError):
    """A proctoring policy that does not follow the rules above; `problems` maps setting -> message."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class Policy:
    """An exam's effective policy: its level and every setting (defaults filled in)."""

    level: str
    settings: Mapping[str, Any]

    @property
    def is_recording(self) -> bool:
        return self.level != "none"

    @property
    def is_acting(self) -> bool:
        """Whether rules lead to actions (warn, alert, pause) rather than only flags."""
        return self.level in ("standard", "strict")

    def __getitem__(self, key: str) -> Any:
        return self.settings[key]


def validate(spec: Mapping[str, Any] | None) -> Policy:
    """The policy of an exam definition's `proctoring` object; PolicyError names each bad setting."""
    spec = spec or {}
    level = spec.get("level", "none")
    if level not in LEVELS:
        raise PolicyError({"level": f"must be one of {', '.join(LEVELS)}"})
    given = spec.get("settings") or {}
    problems: dict[str, str] = {}
    for key, value in given.items():
        if key not in _SPEC:
            problems[key] = "unknown setting"
            continue
        types, low, high, nullable = _SPEC[key]
        if value is None:
            if not nullable:
                problems[key] = "may not be null"
            continue
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            problems[key] = f"must be {' or '.join(t.__name__ for t in types)}"
        elif low is not None and not low <= value <= high:
            problems[key] = f"must be within {low}..{high}"
        elif key == "alert_from" and value not in SEVERITIES:
            problems[key] = f"must be one of {', '.join(SEVERITIES)}"
    if problems:
        raise PolicyError(problems)
    return Policy(level, {**DEFAULTS[level], **given})


def resolve(spec: Mapping[str, Any] | None) -> Policy:
    """Like `validate`, but a stored definition with a bad setting falls back to the level's default for it."""
    try:
        return validate(spec)
    except PolicyError as exc:
        spec = dict(spec or {})
        if "level" in exc.problems:
            return Policy("none", DEFAULTS["none"])
        settings = {k: v for k, v in (spec.get("settings") or {}).items() if k not in exc.problems}
        return validate({"level": spec.get("level", "none"), "settings": settings})


# --- rules ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Trigger:
    """A rule that fired: the flag to raise (or escalate) and what to do now."""

    rule: str
    severity: str
    #: Counts and thresholds behind it (stored with the flag as evidence).
    detail: dict = field(default_factory=dict)
    #: Text shown to the learner when `warn` is among the actions.
    warning: str | None = None
    #: Subset of ("warn", "alert").
    actions: tuple[str, ...] = ()


def aggregate_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """The derived counts the rules read (focus losses, clipboard uses...)."""
    c = {k: int(v) for k, v in counts.items()}
    c["focus_losses"] = c.get("tab_hidden", 0) + c.get("focus_lost", 0)
    c["clipboard"] = c.get("copy", 0) + c.get("cut", 0) + c.get("paste", 0)
    return c


def _crossing(count: int, limit: int | None) -> int:
    """0 when `count` crosses nothing; 1 when it first exceeds `limit`; 2 when it first exceeds twice that."""
    if limit is None:
        return 0
    first = limit + 1
    if count == first:
        return 1
    if count == 2 * first:
        return 2
    return 0


#: kind -> (rule, derived count, setting with the limit, warning text, learner-controlled)
_THRESHOLD_RULES = {
    "tab_hidden": ("focus_losses", "focus_losses", "max_focus_losses",
                   "Please stay on the exam page: leaving it is recorded ({n} times so far).", True),
    "focus_lost": ("focus_losses", "focus_losses", "max_focus_losses",
                   "Please stay on the exam page: leaving it is recorded ({n} times so far).", True),
    "copy": ("clipboard", "clipboard", "max_clipboard",
             "Copying and pasting is not allowed during this exam and is recorded.", True),
    "cut": ("clipboard", "clipboard", "max_clipboard",
            "Copying and pasting is not allowed during this exam and is recorded.", True),
    "paste": ("clipboard", "clipboard", "max_clipboard",
              "Copying and pasting is not allowed during this exam and is recorded.", True),
    "context_menu": ("context_menu", "context_menu", "max_context_menus", None, True),
    "offline": ("offline", "offline", "max_offline_events", None, False),
    "fast_answer": ("fast_answers", "fast_answer", "max_fast_answers", None, False),
}


def _rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 99


def _actions(policy: Policy, severity: str, learner_controlled: bool) -> tuple[str, ...]:
    if not policy.is_acting:
        return ()
    actions = []
    if learner_controlled and policy["warn"]:
        actions.append("warn")
    if policy["alert_from"] is not None and _rank(severity) >= _rank(policy["alert_from"]):
        actions.append("alert")
    return tuple(actions)


def evaluate(policy: Policy, kind: str, counts: Mapping[str, int], detail: Mapping[str, Any] | None = None) -> list[Trigger]:
    """What the newest signal `kind` means, given the attempt's counts per kind *including* it."""
    if not policy.is_recording:
        return []
    c = aggregate_counts(counts)
    detail = dict(detail or {})
    out: list[Trigger] = []
    if kind in _THRESHOLD_RULES:
        rule, counter, setting, text, learner_controlled = _THRESHOLD_RULES[kind]
        limit = policy[setting]
        step = _crossing(c.get(counter, 0), limit)
        if step:
            base = "low" if rule in ("offline", "context_menu", "fast_answers") else "medium"
            severity = base if step == 1 else SEVERITIES[min(_rank(base) + 1, 2)]
            out.append(Trigger(rule, severity, {"count": c.get(counter, 0), "limit": limit, "kind": kind},
                               text.format(n=c.get(counter, 0)) if text else None,
                               _actions(policy, severity, learner_controlled)))
    elif kind == "fullscreen_exit" and policy["fullscreen_required"]:
        step = _crossing(c.get("fullscreen_exit", 0), policy["max_fullscreen_exits"])
        if step:
            severity = "medium" if step == 1 else "high"
            out.append(Trigger("fullscreen", severity, {"count": c["fullscreen_exit"],
                                                        "limit": policy["max_fullscreen_exits"]},
                               "This exam must be taken in fullscreen: please return to fullscreen.",
                               _actions(policy, severity, True)))
    elif kind == "print" and policy["flag_print"] and c.get("print", 0) == 1:
        out.append(Trigger("print", "high", {"count": 1}, "Printing the exam is not allowed and is recorded.",
                           _actions(policy, "high", True)))
    elif kind == "second_connection" and c.get("second_connection", 0) in (1, 3):
        severity = "medium" if c["second_connection"] == 1 else "high"
        out.append(Trigger("second_connection", severity, {"count": c["second_connection"], **_pick(detail, "ip", "previous_ip", "policy")},
                           None, _actions(policy, severity, False)))
    elif kind == "ip_change" and c.get("ip_change", 0) in (1, 3):
        severity = "medium" if c["ip_change"] == 1 else "high"
        out.append(Trigger("ip_change", severity, {"count": c["ip_change"], **_pick(detail, "from", "to")}, None,
                           _actions(policy, severity, False)))
    elif kind == "user_agent_change" and c.get("user_agent_change", 0) == 1:
        out.append(Trigger("user_agent_change", "medium", {**_pick(detail, "from", "to")}, None,
                           _actions(policy, "medium", False)))
    elif kind == "inactivity" and c.get("inactivity", 0) == 1:
        out.append(Trigger("inactivity", "low", {"idle_s": detail.get("idle_s")}, None, _actions(policy, "low", False)))
    elif kind == "disconnected":
        limit = policy["max_disconnected_s"]
        total, before = detail.get("total_s", 0), detail.get("total_s", 0) - detail.get("offline_s", 0)
        if limit is not None and before <= limit < total:
            out.append(Trigger("disconnected", "medium", {"total_s": total, "limit_s": limit}, None,
                               _actions(policy, "medium", False)))
    return out


def _pick(d: Mapping[str, Any], *keys: str) -> dict:
    return {k: d[k] for k in keys if k in d}


def is_fast_answer(policy: Policy, dwell_s: float, estimated_time_s: float | None) -> bool:
    """An answer given in less than `fast_answer_ratio` of the item's estimated time."""
    ratio = policy["fast_answer_ratio"]
    if ratio is None or not estimated_time_s or estimated_time_s <= 0:
        return False
    return 0 <= dwell_s < ratio * estimated_time_s


# --- risk and automatic actions ----------------------------------------------------------------

#: Risk points per flag by severity; a confirmed flag counts 1.5 times, a dismissed one not at all.
RISK_WEIGHTS = {"low": 5.0, "medium": 15.0, "high": 35.0}
STATUS_FACTORS = {"open": 1.0, "confirmed": 1.5, "dismissed": 0.0}


def risk_score(flags: list[tuple[str, str, int]]) -> float:
    """Risk 0..100 of an attempt from its flags as (severity, status, count)."""
    total = 0.0
    for severity, status, count in flags:
        # A flag that kept firing weighs a little more (log-like growth, capped).
        repeat = 1.0 + min(max(count - 1, 0), 4) * 0.25
        total += RISK_WEIGHTS.get(severity, 0.0) * STATUS_FACTORS.get(status, 0.0) * repeat
    return round(min(total, 100.0), 1)


def should_pause(policy: Policy, risk_before: float, risk_after: float) -> bool:
    """Pause when the risk crosses `pause_at_risk` upwards (once per crossing, so a resume sticks)."""
    threshold = policy["pause_at_risk"]
    return policy.is_acting and threshold is not None and risk_before < threshold <= risk_after


# --- what the learner is told before starting ----------------------------------------------------

_RECORDED = {
    "tab_hidden": "when you leave the exam page or switch tabs",
    "focus_lost": "when the exam window loses focus",
    "fullscreen_exit": "when you leave fullscreen",
    "clipboard": "copy, cut and paste (not what you copy)",
    "context_menu": "right-clicks (context menu)",
    "print": "attempts to print",
    "resize": "window size changes",
    "offline": "when your device goes offline and back",
    "server": "your IP address and browser at each connection, a second connection or device, "
              "answer timing, inactivity and time disconnected",
}


def notice(policy: Policy) -> dict:
    """What is recorded and what may happen, shown to the learner before starting (and in `join`)."""
    if not policy.is_recording:
        return {"level": "none", "is_recorded": False, "records": [], "webcam": False, "consent_required": False,
                "text": "This exam is not proctored: nothing about your behaviour is recorded."}
    s = policy.settings
    actions = []
    if policy.is_acting and s["warn"]:
        actions.append("you may see a warning on screen")
    if policy.is_acting and s["alert_from"]:
        actions.append("an examiner may be alerted and contact you")
    if policy.is_acting and s["pause_at_risk"] is not None:
        actions.append("your attempt may be paused until an examiner resumes it")
    webcam = s["snapshot_interval_s"] is not None
    records = list(_RECORDED.values())
    text = ("This exam is proctored. We record " + "; ".join(records) + "."
            + (f" A webcam picture is taken every {s['snapshot_interval_s']} seconds." if webcam else "")
            + (" If a rule is broken, " + ", ".join(actions) + "." if actions else "")
            + " Examiners of this exam review the records; other learners never see them."
            + f" They are deleted {s['retention_days']} days after the attempt.")
    return {"level": policy.level, "is_recorded": True, "records": records, "webcam": webcam,
            "snapshot_interval_s": s["snapshot_interval_s"], "consent_required": webcam,
            "fullscreen_required": bool(s["fullscreen_required"]), "automatic_actions": actions,
            "retention_days": s["retention_days"], "text": text}
