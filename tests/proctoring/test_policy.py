"""The proctoring policy: levels, settings, rules firing on the crossing signal, risk, pause, notice (pure)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from exam_engine.proctoring import policy as pol


def run(policy, kinds, detail=None):  # noqa: ANN001
    """Feed signals one by one as the services do; the triggers of each."""
    counts: dict[str, int] = {}
    out = []
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
        out.append(pol.evaluate(policy, kind, counts, detail))
    return out


def test_pure_module_imports_no_framework():
    for name in ("policy.py", "collusion.py"):
        tree = ast.parse((Path(pol.__file__).parent / name).read_text())
        roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
        assert not roots & {"flask", "flask_socketio", "sqlalchemy", "socketio", "exam_engine", "item_bank"}, (name, roots)


def test_levels_and_settings():
    assert pol.validate(None).level == "none" and not pol.validate(None).is_recording
    strict = pol.validate({"level": "strict"})
    assert strict["fullscreen_required"] and strict["pause_at_risk"] == 80 and strict.is_acting
    custom = pol.validate({"level": "standard", "settings": {"max_focus_losses": 9, "pause_at_risk": 60}})
    assert custom["max_focus_losses"] == 9 and custom["pause_at_risk"] == 60 and custom["max_clipboard"] == 3
    with pytest.raises(pol.PolicyError) as exc:
        pol.validate({"level": "standard", "settings": {"max_focus_losses": -1, "warn": "yes", "bogus": 1,
                                                         "alert_from": "extreme", "retention_days": None}})
    assert set(exc.value.problems) == {"max_focus_losses", "warn", "bogus", "alert_from", "retention_days"}
    with pytest.raises(pol.PolicyError):
        pol.validate({"level": "paranoid"})
    # A stored definition with a bad setting keeps the level and the good settings.
    resolved = pol.resolve({"level": "strict", "settings": {"max_focus_losses": "many", "max_clipboard": 7}})
    assert resolved.level == "strict" and resolved["max_focus_losses"] == 2 and resolved["max_clipboard"] == 7
    assert pol.resolve({"level": "paranoid"}).level == "none"


def test_focus_losses_fire_on_the_crossing_signal_and_escalate():
    policy = pol.validate({"level": "standard", "settings": {"max_focus_losses": 2}})
    fired = run(policy, ["focus_lost", "tab_hidden", "focus_lost", "focus_lost", "tab_hidden", "focus_lost", "focus_lost"])
    assert [len(t) for t in fired] == [0, 0, 1, 0, 0, 1, 0]
    first, second = fired[2][0], fired[5][0]
    assert (first.rule, first.severity, first.detail["count"]) == ("focus_losses", "medium", 3)
    assert "warn" in first.actions and "alert" not in first.actions and "3 times" in first.warning
    assert (second.severity, second.actions) == ("high", ("warn", "alert"))


def test_record_only_flags_without_actions_and_none_nothing():
    rec = pol.validate({"level": "record_only", "settings": {"max_focus_losses": 0}})
    (trig,), = run(rec, ["focus_lost"])
    assert trig.rule == "focus_losses" and trig.actions == ()
    assert run(pol.validate({"level": "none", "settings": {"max_focus_losses": 0}}), ["focus_lost"]) == [[]]


def test_fullscreen_only_when_required_and_print_at_once():
    std = pol.validate({"level": "standard"})
    assert run(std, ["fullscreen_exit"] * 3) == [[], [], []]
    strict = pol.validate({"level": "strict"})
    fired = run(strict, ["fullscreen_exit", "fullscreen_enter", "fullscreen_exit"])
    assert fired[0][0].rule == "fullscreen" and fired[0][0].severity == "medium" and fired[0][0].actions == ("warn", "alert")
    assert fired[2][0].severity == "high"
    (p,), = run(std, ["print"])
    assert p.rule == "print" and p.severity == "high" and "alert" in p.actions


def test_clipboard_context_menu_and_neutral_kinds():
    strict = pol.validate({"level": "strict"})
    assert run(strict, ["paste"])[0][0].rule == "clipboard"
    std = pol.validate({"level": "standard"})
    fired = run(std, ["copy", "cut", "paste", "copy"])
    assert [len(t) for t in fired] == [0, 0, 0, 1]
    assert run(std, ["context_menu"] * 10) == [[]] * 10  # recorded, never flagged at standard
    for kind in ("tab_visible", "focus_gained", "fullscreen_enter", "resize", "online"):
        assert run(strict, [kind] * 20) == [[]] * 20


def test_server_rules():
    std = pol.validate({"level": "standard"})
    (sc,), = run(std, ["second_connection"], {"ip": "10.0.0.2", "previous_ip": "10.0.0.1", "policy": "takeover"})
    assert sc.severity == "medium" and sc.detail["ip"] == "10.0.0.2" and sc.actions == ()
    assert run(std, ["second_connection"] * 3)[2][0].severity == "high"
    assert run(std, ["ip_change"])[0][0].rule == "ip_change"
    assert run(std, ["user_agent_change"])[0][0].rule == "user_agent_change"
    assert run(std, ["inactivity"], {"idle_s": 700})[0][0].detail == {"idle_s": 700}
    assert [len(t) for t in run(std, ["fast_answer"] * 4)] == [0, 0, 0, 1]
    # Time disconnected fires once, when the total crosses the limit.
    assert pol.evaluate(std, "disconnected", {"disconnected": 1}, {"offline_s": 100, "total_s": 250}) == []
    (d,) = pol.evaluate(std, "disconnected", {"disconnected": 2}, {"offline_s": 100, "total_s": 350})
    assert d.rule == "disconnected" and d.detail == {"total_s": 350, "limit_s": 300}
    assert pol.evaluate(std, "disconnected", {"disconnected": 3}, {"offline_s": 100, "total_s": 450}) == []


def test_fast_answer():
    std = pol.validate({"level": "standard"})
    assert pol.is_fast_answer(std, 10, 120) and not pol.is_fast_answer(std, 30, 120)
    assert not pol.is_fast_answer(std, 1, None)
    assert not pol.is_fast_answer(pol.validate({"level": "standard", "settings": {"fast_answer_ratio": None}}), 1, 120)


def test_risk_score_orders_and_caps():
    assert pol.risk_score([]) == 0
    low, med, high = ([(s, "open", 1)] for s in ("low", "medium", "high"))
    assert pol.risk_score(low) < pol.risk_score(med) < pol.risk_score(high)
    assert pol.risk_score([("medium", "confirmed", 1)]) > pol.risk_score(med)
    assert pol.risk_score([("high", "dismissed", 1)]) == 0
    assert pol.risk_score([("medium", "open", 3)]) > pol.risk_score(med)
    assert pol.risk_score([("high", "confirmed", 5)] * 5) == 100


def test_pause_once_per_crossing():
    strict = pol.validate({"level": "strict", "settings": {"pause_at_risk": 50}})
    assert pol.should_pause(strict, 35, 50) and not pol.should_pause(strict, 50, 85)
    assert not pol.should_pause(pol.validate({"level": "standard"}), 0, 100)
    assert not pol.should_pause(pol.validate({"level": "record_only", "settings": {"pause_at_risk": 10}}), 0, 100)


def test_notice_says_what_is_recorded():
    none = pol.notice(pol.validate(None))
    assert none["is_recorded"] is False and none["records"] == []
    strict = pol.notice(pol.validate({"level": "strict", "settings": {"snapshot_interval_s": 60, "retention_days": 90}}))
    assert strict["webcam"] and strict["consent_required"] and strict["fullscreen_required"]
    assert "paused" in " ".join(strict["automatic_actions"]) and "90 days" in strict["text"]
    assert "webcam" in strict["text"] and "other learners never see them" in strict["text"]
