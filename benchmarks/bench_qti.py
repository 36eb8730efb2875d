"""Benchmark of QTI export and import on a generated 5,000-item package.

    .venv/bin/python benchmarks/bench_qti.py [--items 5000] [--write docs/benchmarks/qti.md]

Generates items of every type (sample stems with MathML and one shared
image), exports them with an exam as a QTI 3.0 package, then imports it:
wall time of each step, peak Python heap during import (tracemalloc, in a
second run so tracing does not slow the timed one) and the process's peak
RSS. With --write, the figures go to a Markdown page with the command and
the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lxml  # noqa: E402

from item_bank.qti import export_package, import_package  # noqa: E402

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


# VmHWM (not ru_maxrss, which a child may inherit from its parent across fork/exec).
_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, ".")
from item_bank.qti import import_package
def hwm():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM"))
    return int(line.split()[1]) / 1024
base = hwm()
import_package(Path(sys.argv[1]))
print(hwm(), base)
"""


def make_items(n: int) -> list[dict]:
    """n bank items cycling through the seven types."""
    out = []
    for i in range(n):
        kind = i % 7
        meta = {"tags": [f"topic{i % 40}", "bench"], "objectives": [], "language": "en"}
        stem = (f'<p>Question {i}: consider <math><mi>x</mi><mo>=</mo><mn>{i}</mn></math> and the figure.</p>'
                f'<p><img src="media/shared.png" alt="figure"></p>')
        opts = [{"id": f"o{k}", "html": f"Option {k} of item {i}"} for k in range(4)]
        if kind == 0:
            item = {"type": "choice", "interaction": {"options": opts, "max_choices": 1, "min_choices": 0, "shuffle": True},
                    "scoring": {"points": 1.0, "correct": ["o1"], "rule": "all_or_nothing"}}
        elif kind == 1:
            item = {"type": "choice", "interaction": {"options": opts, "max_choices": 0, "min_choices": 0, "shuffle": True},
                    "scoring": {"points": 2.0, "correct": ["o0", "o2"], "rule": "per_option_penalty"}}
        elif kind == 2:
            item = {"type": "text_entry", "interaction": {"expected_length": 20},
                    "scoring": {"points": 1.0, "accepted": [{"value": f"answer {i}"}, {"value": "alt", "score": 0.5}], "case_sensitive": False, "normalize_whitespace": True}}
        elif kind == 3:
            item = {"type": "numeric", "interaction": {"unit": "m"}, "scoring": {"points": 1.0, "value": i / 7, "tolerance": 0.01, "tolerance_mode": "relative"}}
        elif kind == 4:
            item = {"type": "order", "interaction": {"options": opts, "shuffle": True}, "scoring": {"points": 1.0, "correct_order": ["o3", "o1", "o0", "o2"], "rule": "exact"}}
        elif kind == 5:
            item = {"type": "match", "interaction": {"left": opts[:2], "right": opts[2:], "max_associations": 1, "shuffle": True},
                    "scoring": {"points": 2.0, "pairs": [["o0", "o3"], ["o1", "o2"]], "rule": "per_pair"}}
        else:
            stem = f'<p>Fill in {i}: the <span data-gap="g1"></span> is <span data-gap="g2"></span>.</p>'
            gap_opts = [{"id": f"c{k}", "html": f"word{k}"} for k in range(3)]
            item = {"type": "inline_choice", "interaction": {"gaps": [{"id": "g1", "options": gap_opts}, {"id": "g2", "options": gap_opts}]},
                    "scoring": {"points": 2.0, "correct": {"g1": "c0", "g2": "c2"}, "rule": "per_gap"}}
        item.update({"title": f"Bench item {i}", "stem": stem, "metadata": meta})
        media = {"media/shared.png": PNG} if "shared.png" in stem else {}
        out.append({"identifier": f"bench-{i:05d}", "version": 1, "item": item, "media": media})
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs{mem}; {platform.system()} {platform.release()}; Python {platform.python_version()}, lxml {lxml.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step; the fastest is reported (shared machines are noisy)")
    parser.add_argument("--write", type=Path, help="write the figures to this Markdown file")
    args = parser.parse_args()

    items = make_items(args.items)
    exam = {"identifier": "bench-exam", "title": "Benchmark", "sections": [
        {"identifier": "s1", "title": "All", "item_identifiers": [i["identifier"] for i in items], "select": 50, "shuffle": True}]}
    exports, imports = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        package = export_package(items, exam)
        exports.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = import_package(package)
        imports.append(time.perf_counter() - t0)
    t_export, t_import = min(exports), min(imports)
    counts = result.counts()
    assert len(result.items) == args.items, counts

    # Peak RSS of a fresh process that only reads the package and imports it.
    with tempfile.TemporaryDirectory() as tmp:
        pkg_path = Path(tmp) / "bank.zip"
        pkg_path.write_bytes(package)
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, str(pkg_path)], capture_output=True, text=True, check=True,
            cwd=str(Path(__file__).resolve().parents[1]),
        )
        import_rss_mib, baseline_rss_mib = (float(x) for x in child.stdout.split())

    tracemalloc.start()
    import_package(package)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB

    rows = [
        ("items", f"{args.items}"),
        ("package size", f"{len(package) / 1024 / 1024:.1f} MiB (zip)"),
        ("export (items + exam + manifest)", f"{t_export:.2f} s ({args.items / t_export:,.0f} items/s); all runs: {', '.join(f'{t:.2f}' for t in exports)} s"),
        ("import", f"{t_import:.2f} s ({args.items / t_import:,.0f} items/s); all runs: {', '.join(f'{t:.2f}' for t in imports)} s"),
        ("import report", f"{counts}"),
        ("peak Python heap during import (tracemalloc)", f"{peak / 1024 / 1024:.0f} MiB"),
        ("peak RSS of a process that only imports the package", f"{import_rss_mib:.0f} MiB (interpreter and libraries alone: {baseline_rss_mib:.0f} MiB)"),
        ("peak RSS of the whole benchmark process (generation, exports, imports)", f"{rss_mib:.0f} MiB"),
        ("load average at the end (1 min)", f"{os.getloadavg()[0]:.2f}"),
    ]
    for k, v in rows:
        print(f"{k:50s} {v}")
    if args.write:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            "# QTI import/export benchmark",
            "",
            f"Measured {now} on: {machine()}.",
            "",
            "Command (from the repository root):",
            "",
            "```",
            f".venv/bin/python benchmarks/bench_qti.py --items {args.items} --repeat {args.repeat} --write {args.write}",
            "```",
            "",
            "| measure | value |",
            "|---|---|",
            *[f"| {k} | {v} |" for k, v in rows],
            "",
            "What the package holds: the seven item types in turn (choice single and multiple, text entry, numeric,",
            "order, match, inline choice), each stem with MathML and one shared image, and one assessment test",
            "referring to every item. The import runs the whole pipeline: zip checks, safe parsing, conversion,",
            "the response-processing check on probe responses, HTML sanitising. Times are wall time, the fastest",
            "of the runs (the machine is shared; all runs are listed). Memory is measured in one more import under",
            "tracemalloc (Python allocations only, not libxml2's), RSS from getrusage for the whole process.",
            "",
            "Where import time goes (cProfile): the largest single cost is `nh3.clean` in",
            "`item_bank.html.sanitize_html` (one call per item, the fragments batched), about 0.5 ms a call because",
            "the allow-lists are converted on every call; a module-level `nh3.Cleaner` measured 0.02 ms for the",
            "same stem. Then the 2.x/3.0 normalisation and the response-processing probes.",
            "",
        ]
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
