#!/usr/bin/env python
"""Benchmarks of scoring/ side by side with girth (IRT calibration) and catsim (CAT simulation).

Our side needs only this repo (numpy). The other side needs girth 0.8 and
catsim 0.21, which are not dependencies of the engine: install them in a
separate venv and run the script with that venv's python, so both sides run
in the same process on the same data:

    python3 -m venv /work/bench-venv
    /work/bench-venv/bin/pip install "numpy>=2.4,<2.5" girth==0.8.0 catsim==0.21.0
    /work/bench-venv/bin/python benchmarks/bench_scoring.py            # both sides
    .venv/bin/python benchmarks/bench_scoring.py                       # ours only

Each measurement is the median of ``--repeats`` runs (the others' side:
``--their-repeats``), ours and theirs interleaved, so that the noise of a
shared machine hits both. ``--json FILE`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __name__ == "__main__" and "--threads" in sys.argv:
    # BLAS threads must be fixed before numpy loads; applies to both sides alike
    _n = sys.argv[sys.argv.index("--threads") + 1]
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _n

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring import batch, cat, irt  # noqa: E402


def log(msg: str) -> None:
    print(msg, flush=True)


def timed(fn, repeats: int):
    """(median seconds, all seconds, last result) of ``repeats`` calls."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, out


def rmse(x, y) -> float:
    return float(np.sqrt(np.mean((np.asarray(x) - np.asarray(y)) ** 2)))


def machine() -> dict:
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:  # pragma: no cover - informative only
            return ""

    return {"nproc": sh("nproc"), "lscpu": sh("lscpu | head -n 15"), "python": sys.version.split()[0],
            "numpy": np.__version__, "platform": platform.platform(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")}


# --- IRT calibration -----------------------------------------------------------------

def bench_calibration(args, out: dict) -> None:
    rng = np.random.default_rng(args.seed)
    n, k = args.examinees, args.items
    a = np.clip(rng.lognormal(0.0, 0.3, k), 0.5, 2.5)
    b = np.clip(rng.normal(0.0, 1.0, k), -2.5, 2.5)
    c = rng.uniform(0.1, 0.25, k)
    theta = rng.normal(size=n)
    x2 = irt.simulate_responses(theta, a, b, seed=args.seed + 1)
    x3 = irt.simulate_responses(theta, a, b, c, seed=args.seed + 2)
    log(f"[calibration] 2PL, {n} examinees x {k} items, generated from known parameters")
    try:
        import girth  # noqa: F401
        from girth import threepl_mml, twopl_mml
    except ImportError:
        girth_ok = False
        log("  girth is not installed here: our side only")
    else:
        girth_ok = True
    ours_t, theirs_t = [], []
    ours = theirs = None
    for r in range(max(args.repeats, args.their_repeats if girth_ok else 0)):
        if r < args.repeats:
            t, _, ours = timed(lambda: irt.calibrate(x2, "2PL"), 1)
            ours_t.append(t)
            log(f"  ours   run {r + 1}: {t:.3f} s ({ours.n_iter} EM iterations, converged={ours.converged})")
        if girth_ok and r < args.their_repeats:
            t, _, theirs = timed(lambda: twopl_mml(x2.T.astype(int)), 1)
            theirs_t.append(t)
            log(f"  girth  run {r + 1}: {t:.3f} s")
    res = {"ours_seconds": statistics.median(ours_t), "ours_runs": ours_t, "ours_rmse_a": rmse(ours.a, a),
           "ours_rmse_b": rmse(ours.b, b), "ours_converged": ours.converged, "ours_iterations": ours.n_iter}
    if girth_ok:
        res.update({"girth_seconds": statistics.median(theirs_t), "girth_runs": theirs_t,
                    "girth_rmse_a": rmse(theirs["Discrimination"], a), "girth_rmse_b": rmse(theirs["Difficulty"], b)})
        res["speedup"] = res["girth_seconds"] / res["ours_seconds"]
    out["calibration_2pl"] = res
    log(f"  2PL: ours {res['ours_seconds']:.3f} s, RMSE a {res['ours_rmse_a']:.4f} b {res['ours_rmse_b']:.4f}"
        + (f" | girth {res['girth_seconds']:.3f} s, RMSE a {res['girth_rmse_a']:.4f} b {res['girth_rmse_b']:.4f}"
           f" | {res['speedup']:.1f}x faster" if girth_ok else ""))

    log(f"[calibration] 3PL, {n} x {k}, generated with c ~ U(0.10, 0.25); ours with a Beta(5,17) prior on c")
    t, runs, o3 = timed(lambda: irt.calibrate(x3, "3PL", c_prior=(5, 17)), args.repeats)
    res3 = {"ours_seconds": t, "ours_runs": runs, "ours_rmse_a": rmse(o3.a, a), "ours_rmse_b": rmse(o3.b, b),
            "ours_rmse_c": rmse(o3.c, c), "ours_converged": o3.converged, "ours_iterations": o3.n_iter}
    log(f"  ours: {t:.3f} s, converged={o3.converged}, RMSE a {res3['ours_rmse_a']:.4f} b {res3['ours_rmse_b']:.4f}"
        f" c {res3['ours_rmse_c']:.4f}")
    if girth_ok:
        try:
            t0 = time.perf_counter()
            g3 = threepl_mml(x3.T.astype(int))
            res3["girth_seconds"] = time.perf_counter() - t0
            res3["girth_rmse_a"] = rmse(g3["Discrimination"], a)
            res3["girth_rmse_b"] = rmse(g3["Difficulty"], b)
            res3["girth_rmse_c"] = rmse(g3["Guessing"], c)
            log(f"  girth: {res3['girth_seconds']:.3f} s, RMSE a {res3['girth_rmse_a']:.4f} b {res3['girth_rmse_b']:.4f}"
                f" c {res3['girth_rmse_c']:.4f}")
        except Exception as e:  # girth 0.8's threepl_mml fails on numpy 2.x
            res3["girth_error"] = f"{type(e).__name__}: {e}"
            log(f"  girth threepl_mml failed: {res3['girth_error']}")
    out["calibration_3pl"] = res3


# --- CAT ------------------------------------------------------------------------------

def bench_cat(args, out: dict) -> None:
    rng = np.random.default_rng(args.seed + 10)
    m, n, length = args.bank, args.cat_examinees, args.cat_length
    a = np.clip(rng.normal(1.2, 0.25, m), 0.3, 3.0)   # catsim's generator: a ~ N(1.2, 0.25), b ~ N(0, 1)
    b = rng.normal(0.0, 1.0, m)
    theta = rng.normal(size=n)
    bank = cat.ItemBank.from_arrays(a, b)
    config = cat.CatConfig(max_length=length)
    log(f"[cat] {n} examinees, {m}-item 2PL bank, {length} items each, maximum information")
    try:
        from catsim.estimation import NumericalSearchEstimator
        from catsim.initialization import FixedPointInitializer
        from catsim.item_bank import ItemBank as CsBank
        from catsim.selection import MaxInfoSelector
        from catsim.simulation import Simulator
        from catsim.stopping import TestLengthStopper
    except ImportError:
        catsim_ok = False
        log("  catsim is not installed here: our side only")
    else:
        catsim_ok = True

    def ours_run():
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover
            return cat.simulate(bank, theta, config, seed=args.seed)
        with tqdm(total=length, desc="  ours CAT steps", leave=False, file=sys.stdout) as bar:
            return cat.simulate(bank, theta, config, seed=args.seed, progress=lambda i, t: bar.update(1))

    ours_t, theirs_t = [], []
    ours = sim = None
    for r in range(max(args.repeats, args.their_repeats if catsim_ok else 0)):
        if r < args.repeats:
            t, _, ours = timed(ours_run, 1)
            ours_t.append(t)
            log(f"  ours   run {r + 1}: {t:.3f} s, RMSE {ours.rmse:.4f}")
        if catsim_ok and r < args.their_repeats:
            items = np.column_stack([a, b, np.zeros(m), np.ones(m)])
            sim = Simulator(CsBank(items), theta, seed=args.seed)
            t0 = time.perf_counter()
            sim.simulate(FixedPointInitializer(0.0), MaxInfoSelector(), NumericalSearchEstimator(),
                         TestLengthStopper(max_items=length), verbose=args.verbose)
            theirs_t.append(time.perf_counter() - t0)
            log(f"  catsim run {r + 1}: {theirs_t[-1]:.3f} s, RMSE {sim.rmse:.4f}")
    res = {"ours_seconds": statistics.median(ours_t), "ours_runs": ours_t, "ours_rmse": ours.rmse,
           "ours_bias": ours.bias, "ours_mean_length": ours.mean_length, "ours_max_exposure": ours.max_exposure,
           "estimator": "EAP, N(0,1) prior, 81-point grid"}
    if catsim_ok:
        est = np.array(sim.latest_estimations)
        res.update({"catsim_seconds": statistics.median(theirs_t), "catsim_runs": theirs_t,
                    "catsim_rmse": rmse(est, theta), "catsim_bias": float(np.mean(est - theta)),
                    "catsim_estimator": "NumericalSearchEstimator (MLE, Dodd's rule for extremes)"})
        res["speedup"] = res["catsim_seconds"] / res["ours_seconds"]
    out["cat_simulation"] = res
    # exposure control (ours only): the price in RMSE of keeping items from overexposure
    exp_res = {}
    for name, cfg in (("max_info", config), ("randomesque_5", cat.CatConfig(max_length=length, randomesque=5))):
        r_ = cat.simulate(bank, theta, cfg, seed=args.seed)
        exp_res[name] = {"rmse": r_.rmse, "max_exposure": r_.max_exposure, "unused_share": r_.unused_share,
                         "seconds": r_.seconds}
    t0 = time.perf_counter()
    k_sh = cat.sympson_hetter_parameters(bank, config, r_max=0.25, n_examinees=n, iterations=8, seed=args.seed)
    t_sh = time.perf_counter() - t0
    r_ = cat.simulate(bank, theta, cat.CatConfig(max_length=length, sympson_hetter=k_sh), seed=args.seed)
    exp_res["sympson_hetter_0.25"] = {"rmse": r_.rmse, "max_exposure": r_.max_exposure, "unused_share": r_.unused_share,
                                      "seconds": r_.seconds, "parameter_derivation_seconds": t_sh}
    for name, v in exp_res.items():
        log(f"  exposure {name:22s} RMSE {v['rmse']:.4f}  max exposure {v['max_exposure']:.3f}  "
            f"unused {v['unused_share']:.1%}  {v['seconds']:.3f} s")
    out["cat_exposure"] = exp_res
    log(f"  CAT: ours {res['ours_seconds']:.3f} s RMSE {res['ours_rmse']:.4f}"
        + (f" | catsim {res['catsim_seconds']:.3f} s RMSE {res['catsim_rmse']:.4f} | {res['speedup']:.1f}x faster"
           if catsim_ok else ""))

    # one examinee at a time, as the engine calls it: selection and a full step, on a 5,000-item bank
    big_m = args.big_bank
    big = cat.ItemBank.from_arrays(np.clip(rng.normal(1.2, 0.25, big_m), 0.3, 3.0), rng.normal(0, 1, big_m),
                                   sections=rng.choice(["s1", "s2", "s3", "s4"], big_m))
    log(f"[cat] next-item latency, one examinee at a time, {big_m}-item bank, {args.latency_examinees} examinees x {length} items")
    lat: dict[str, list] = {"select": [], "select_balanced_randomesque": [], "next_step": []}
    cpu: dict[str, list] = {k: [] for k in lat}  # thread CPU time: the code's cost without preemption
    cfg_plain = cat.CatConfig(max_length=length)
    cfg_rich = cat.CatConfig(max_length=length, blueprint={"s1": .4, "s2": .3, "s3": .2, "s4": .1}, randomesque=5)
    r2 = np.random.default_rng(args.seed + 11)
    for e in range(args.latency_examinees):
        th = r2.normal()
        state = cat.CatState()
        for _ in range(length):
            theta_hat, _ = cat.estimate(big, state, cfg_plain)
            t0, c0 = time.perf_counter(), time.thread_time()
            cat.select_next_item(big, state, cfg_plain, theta=theta_hat, rng=r2)
            lat["select"].append(time.perf_counter() - t0)
            cpu["select"].append(time.thread_time() - c0)
            t0, c0 = time.perf_counter(), time.thread_time()
            cat.select_next_item(big, state, cfg_rich, theta=theta_hat, rng=r2)
            lat["select_balanced_randomesque"].append(time.perf_counter() - t0)
            cpu["select_balanced_randomesque"].append(time.thread_time() - c0)
            t0, c0 = time.perf_counter(), time.thread_time()
            step, state = cat.next_step(big, state, cfg_plain, rng=r2)
            lat["next_step"].append(time.perf_counter() - t0)
            cpu["next_step"].append(time.thread_time() - c0)
            i = step.item_index
            p = 1 / (1 + np.exp(-big.a[i] * (th - big.b[i])))
            state = state.record(i, r2.random() < p)
    res_l = {}
    for name, v in lat.items():
        v = np.array(v) * 1e3
        c = np.array(cpu[name]) * 1e3
        res_l[name] = {"p50_ms": float(np.percentile(v, 50)), "p99_ms": float(np.percentile(v, 99)),
                       "max_ms": float(v.max()), "calls": int(v.size),
                       "cpu_p50_ms": float(np.percentile(c, 50)), "cpu_p99_ms": float(np.percentile(c, 99))}
        log(f"  {name:30s} wall p50 {res_l[name]['p50_ms']:.3f} ms  p99 {res_l[name]['p99_ms']:.3f} ms | "
            f"CPU p50 {res_l[name]['cpu_p50_ms']:.3f} ms  p99 {res_l[name]['cpu_p99_ms']:.3f} ms  ({v.size} calls)")
    out["cat_latency_5000"] = res_l


# --- batch grading ----------------------------------------------------------------------

def bench_batch(args, out: dict) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.scoring._generators import random_item, random_response

    rng = random.Random(args.seed)
    n = args.responses
    items = [random_item(rng) for _ in range(300)]
    log(f"[batch] generating {n:,} mixed responses to 300 items of all seven types ...")
    idx = [rng.randrange(len(items)) for _ in range(n)]
    resps = [random_response(rng, *items[i]) for i in idx]
    kinds = {}
    for i in idx:
        kinds[items[i][0]] = kinds.get(items[i][0], 0) + 1
    t0 = time.perf_counter()
    compiled = batch.compile_items(items)
    t_compile = time.perf_counter() - t0
    log(f"  compile keys: {t_compile * 1e3:.1f} ms; encoding responses (Python, once) ...")
    t0 = time.perf_counter()
    enc = batch.encode_responses(compiled, idx, resps)
    t_encode = time.perf_counter() - t0
    log(f"  encode: {t_encode:.2f} s")
    runs = []
    for r in range(max(5, args.repeats)):
        t0 = time.perf_counter()
        scores = batch.grade_encoded(compiled, enc)
        runs.append(time.perf_counter() - t0)
        log(f"  grade run {r + 1}: {runs[-1]:.3f} s")
    out["batch_grading"] = {"responses": n, "by_type": kinds, "compile_seconds": t_compile, "encode_seconds": t_encode,
                            "grade_seconds_median": statistics.median(runs), "grade_seconds_first": runs[0],
                            "grade_runs": runs, "total_score": float(scores.score.sum())}
    log(f"  grading {n:,} responses: median {statistics.median(runs):.3f} s (first run {runs[0]:.3f} s)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["calibration", "cat", "batch"], action="append",
                   help="run only these parts (repeatable)")
    p.add_argument("--examinees", type=int, default=10_000)
    p.add_argument("--items", type=int, default=50)
    p.add_argument("--bank", type=int, default=500)
    p.add_argument("--big-bank", type=int, default=5_000)
    p.add_argument("--cat-examinees", type=int, default=1_000)
    p.add_argument("--cat-length", type=int, default=20)
    p.add_argument("--latency-examinees", type=int, default=100)
    p.add_argument("--responses", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=5, help="runs of our side (median reported)")
    p.add_argument("--their-repeats", type=int, default=1, help="runs of girth/catsim (median reported)")
    p.add_argument("--seed", type=int, default=20261128)
    p.add_argument("--json", type=Path, help="write the figures to this file")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--threads", type=int, help="BLAS threads for both sides (sets OPENBLAS_NUM_THREADS before numpy loads)")
    args = p.parse_args(argv)
    parts = args.only or ["calibration", "cat", "batch"]
    out: dict = {"machine": machine(), "command": " ".join([Path(sys.executable).as_posix()] + sys.argv)}
    log(f"python {out['machine']['python']}, numpy {np.__version__}, nproc {out['machine']['nproc']}")
    if "calibration" in parts:
        bench_calibration(args, out)
    if "cat" in parts:
        bench_cat(args, out)
    if "batch" in parts:
        bench_batch(args, out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
