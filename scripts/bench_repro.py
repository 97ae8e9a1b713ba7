"""Benchmark the reproductions: every script over fresh seeds, full and quick, as separate processes.

For each script and mode it reports on how many seeds the signature held, the median and largest wall time of a
run (interpreter start included: the time a user waits for `python scripts/repro/NAME.py`), and every numeric
metric as mean +- sd over the seeds: the top-level ones (the script's headline effect sizes) first, then the
nested ones under dotted names (`failure.gold_final`, `mitigation.clip-cov.passk_final`), so a script whose
metrics are all per arm still gets its effect sizes. Metrics that are the same on every run (settings such as k)
are listed once instead of as rows. The 1-minute load average is recorded after every run.

    .venv/bin/python scripts/bench_repro.py                         # all scripts, seeds 7001-7008, full + quick
    .venv/bin/python scripts/bench_repro.py --names no-foothold --seeds 7001,7002 --modes quick
    .venv/bin/python scripts/bench_repro.py --json out/bench_repro.json --markdown out/bench_repro.md
    .venv/bin/python scripts/bench_repro.py --device cuda --modes full     # the same runs on a GPU

Seeds 7001-7008 appear nowhere else in the repository (tests use 0-4, recorded runs 0), so the thresholds in
the rules were not tuned on them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kb.repro.registry import list_reproductions

DEFAULT_SEEDS = tuple(range(7001, 7009))


def run_once(script: Path, name: str, seed: int, quick: bool, timeout: float, device: str = "cpu") -> dict:
    """One run in a fresh interpreter; returns seconds, signature_met and the top-level numeric metrics."""
    with tempfile.TemporaryDirectory(prefix="bench-repro-") as out:
        cmd = [sys.executable, str(script), "--seed", str(seed), "--out", out, "--device", device,
               *(["--quick"] if quick else [])]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, MPLBACKEND="Agg"))
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no stderr"])[-1]
            return {"seconds": seconds, "signature_met": False, "error": last, "effects": {},
                    "load1": os.getloadavg()[0]}
        payload = json.loads((Path(out) / f"{name}.json").read_text())
    return {"seconds": seconds, "signature_met": bool(payload["signature_met"]), "effects": flatten(payload["metrics"]),
            "load1": os.getloadavg()[0]}


def flatten(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Every numeric leaf of a metrics dict under a dotted name (lists, booleans and nulls are skipped)."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def summarize(runs: list[dict]) -> dict:
    """Held count, wall-time median/max and mean +- sd of each effect over the runs of one script and mode."""
    keys = sorted({k for r in runs for k in r["effects"]})
    effects = {}
    for k in keys:
        values = [r["effects"][k] for r in runs if k in r["effects"]]
        effects[k] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                      "min": min(values), "max": max(values)}
    seconds = [r["seconds"] for r in runs]
    loads = [r["load1"] for r in runs if "load1" in r]
    return {"runs": len(runs), "held": sum(r["signature_met"] for r in runs),
            "median_s": statistics.median(seconds), "max_s": max(seconds), "effects": effects,
            "load1": {"min": min(loads), "max": max(loads)} if loads else None,
            "errors": sorted({r["error"] for r in runs if "error" in r})}


def markdown(report: dict) -> str:
    """The report as Markdown: one timing/verdict table, then effect sizes per script."""
    lines = [f"Seeds {', '.join(map(str, report['seeds']))} on {report.get('device', 'cpu')}; wall time includes "
             "interpreter start; load = 1-minute load average after each run (min-max).", "",
             "| reproduction | mode | signature held | median s | max s | load |", "|---|---|---|---|---|---|"]
    for name, modes in report["results"].items():
        for mode, s in modes.items():
            load = f"{s['load1']['min']:.1f}-{s['load1']['max']:.1f}" if s.get("load1") else "–"
            lines.append(f"| {name} | {mode} | {s['held']}/{s['runs']} | {s['median_s']:.1f} | {s['max_s']:.1f} "
                         f"| {load} |")
    for name, modes in report["results"].items():
        lines += ["", f"**{name}**", "", "| effect | " + " | ".join(modes) + " |",
                  "|---|" + "---|" * len(modes)]
        keys = sorted({k for s in modes.values() for k in s["effects"]}, key=lambda k: ("." in k, k))
        constant = {}
        for k in keys:
            stats = [s["effects"].get(k) for s in modes.values()]
            if all(e is not None and e["min"] == e["max"] for e in stats) and len({e["min"] for e in stats}) == 1:
                constant[k] = stats[0]["min"]
                continue
            cells = [f"{e['mean']:.3g} ± {e['sd']:.2g}" if e is not None else "–" for e in stats]
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
        if constant:
            lines += ["", "Same on every run: " + ", ".join(f"{k} = {v:.4g}" for k, v in constant.items())]
        errors = sorted({e for s in modes.values() for e in s.get("errors", [])})
        if errors:
            lines += ["", "Errors: " + "; ".join(errors)]
    return "\n".join(lines) + "\n"


def save(report: dict, json_path: str, markdown_path: str) -> None:
    """Write the report so far to the requested files."""
    for path, text in ((json_path, json.dumps(report, indent=1)), (markdown_path, markdown(report))):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", default="", help="comma-separated reproductions (default: all registered)")
    parser.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)), help="comma-separated seeds")
    parser.add_argument("--modes", default="full,quick", help="full, quick or both")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the scripts run")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before one run is abandoned")
    parser.add_argument("--json", default="", help="also write the report as JSON here")
    parser.add_argument("--markdown", default="", help="also write the Markdown tables here")
    args = parser.parse_args(argv)
    registered = {r.name: r for r in list_reproductions()}
    names = [n for n in args.names.split(",") if n] or list(registered)
    unknown = [n for n in names if n not in registered]
    if unknown:
        parser.error(f"unknown reproduction(s) {', '.join(unknown)}: choose from {', '.join(registered)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    modes = [m for m in args.modes.split(",") if m]
    if not modes or set(modes) - {"full", "quick"}:
        parser.error(f"--modes must be full, quick or full,quick, got {args.modes!r}")

    report = {"seeds": seeds, "device": args.device, "results": {}}
    for name in names:
        report["results"][name] = {}
        for mode in modes:
            runs = []
            for seed in seeds:
                r = run_once(registered[name].script_path, name, seed, mode == "quick", args.timeout, args.device)
                runs.append({**r, "seed": seed})
                print(f"{name} {mode} seed {seed}: {'held' if r['signature_met'] else 'NOT held'} "
                      f"{r['seconds']:.1f} s {r.get('error', '')}", flush=True)
                report["results"][name][mode] = {**summarize(runs), "per_seed": runs}
                save(report, args.json, args.markdown)  # after every run, so a long benchmark can be cut short
    print(markdown(report))
    return 0 if all(s["held"] == s["runs"] for m in report["results"].values() for s in m.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
