"""Time the static-site and MkDocs exports on a synthetic corpus of N documents.

    python scripts/bench_site.py [--n 1000] [--dir /tmp/kb-synth-1000] [--skip-build]

Steps, each timed in its own process the way a user runs it: generate the corpus
(scripts/gen_synthetic_corpus.py), `kb build` (embeds every node; reported separately), `kb export site`
(target <= 15 s for 1,000 documents), `kb export mkdocs`, and `mkdocs build --strict` on that export.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_SITE_SECONDS = 15.0


def timed(cmd: list[str], cwd: Path = ROOT) -> tuple[float, str]:
    """Run `cmd`, fail loudly on a non-zero exit, and return (wall seconds, last output line)."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    lines = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    return seconds, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="synthetic documents")
    parser.add_argument("--dir", type=Path, default=None, help="data directory (default /tmp/kb-synth-N)")
    parser.add_argument("--skip-build", action="store_true", help="reuse an existing build in --dir")
    args = parser.parse_args()
    data = args.dir or Path(f"/tmp/kb-synth-{args.n}")
    kb = [str(BIN / "kb"), "--data-dir", str(data)]
    rows = []
    if not args.skip_build:
        rows.append(("generate corpus", *timed([sys.executable, str(ROOT / "scripts" / "gen_synthetic_corpus.py"), str(args.n), str(data)])))
        onnx = ROOT / "data" / ".cache" / "onnx-minilm"
        if onnx.is_dir() and not (data / ".cache" / "onnx-minilm").exists():
            shutil.copytree(onnx, data / ".cache" / "onnx-minilm")
        rows.append(("kb build (embeds every node)", *timed([*kb, "build"])))
    site, docs = data / "export-site", data / "export-mkdocs"
    rows.append(("kb export site", *timed([*kb, "export", "site", str(site)])))
    rows.append(("kb export mkdocs", *timed([*kb, "export", "mkdocs", str(docs)])))
    rows.append(("mkdocs build --strict", *timed([str(BIN / "mkdocs"), "build", "--strict", "-q"], cwd=docs)))
    files = sum(1 for p in site.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 1e6
    print(f"\n{args.n} synthetic documents in {data}; site: {files} files, {size:.1f} MB\n")
    print(f"{'step':32} {'seconds':>8}  output")
    for name, seconds, last in rows:
        print(f"{name:32} {seconds:8.1f}  {last[:90]}")
    site_seconds = next(s for name, s, _ in rows if name == "kb export site")
    verdict = "meets" if site_seconds <= TARGET_SITE_SECONDS else "MISSES"
    print(f"\nkb export site {verdict} the {TARGET_SITE_SECONDS:.0f} s target ({site_seconds:.1f} s, process start included)")


if __name__ == "__main__":
    main()
