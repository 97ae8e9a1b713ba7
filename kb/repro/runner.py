"""The runner: run a registered script in a subprocess with a time limit, stream its progress lines, and write
its final result (registry fields + the script's output + the script's content hash + timing) atomically.

Results live in `Settings.repro_dir` (data/runs, committed), so a fresh checkout shows every reproduction's
plot and numbers without running anything. A result stays current only while the script's bytes still hash
to the recorded `script_sha256`; `load_result` marks any other result `stale`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from ..errors import ReproError
from .registry import REPO_ROOT, Reproduction, get_reproduction, list_reproductions


def run_reproduction(name: str, out_dir: Path, *, quick: bool = False, device: str = "cpu", seed: int = 0,
                     timeout: float = 120.0, on_line: Callable[[str], None] | None = None) -> dict:
    """Run one reproduction script and write `out_dir/<name>.json` and `.png`; returns the final result dict.

    Raises ReproError when the script times out, exits non-zero, or writes no result. `device="cuda"` is
    passed through: the script checks torch.cuda.is_available() itself and fails with "CUDA requested but not
    available", which arrives here as the ReproError message.
    """
    repro = get_reproduction(name)
    if device not in ("cpu", "cuda"):
        raise ReproError(f"unknown device {device!r}: use cpu or cuda")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    script_hash = repro.script_hash()  # the bytes that run, read before they start
    started = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out_dir))
    try:
        cmd = [sys.executable, str(repro.script_path), "--out", str(work), "--seed", str(seed), "--device", device]
        if quick:
            cmd.append("--quick")
        t0 = time.monotonic()
        _run_streaming(cmd, name, timeout, on_line)
        seconds = time.monotonic() - t0
        produced = work / f"{name}.json"
        if not produced.exists():
            raise ReproError(f"{name}: the script finished but wrote no {produced.name}")
        payload = json.loads(produced.read_text())
        final = _final_result(repro, payload, started, seconds, seed, script_hash)
        png = work / f"{name}.png"
        if png.exists():
            os.replace(png, out_dir / f"{name}.png")
        else:  # never pair this result with an older run's plot
            (out_dir / f"{name}.png").unlink(missing_ok=True)
        _write_json_atomic(out_dir / f"{name}.json", final)
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load_script_module(name: str) -> ModuleType:
    """Import a reproduction script as a module (for in-process use: `mod.run(mod.Args(quick=True))`)."""
    repro = get_reproduction(name)
    module_name = "kb_repro_" + name.replace("-", "_")
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, repro.script_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up here while the file executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _run_streaming(cmd: list[str], name: str, timeout: float, on_line: Callable[[str], None] | None) -> None:
    """Run cmd from the repo root, pass each stdout line to on_line, kill it after `timeout` seconds."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stderr_tail: deque[str] = deque(maxlen=50)
    drain = threading.Thread(target=lambda: stderr_tail.extend(proc.stderr), daemon=True)
    drain.start()
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        for line in proc.stdout:
            if on_line is not None:
                on_line(line.rstrip("\n"))
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        drain.join(timeout=5)
    if timed_out.is_set():
        raise ReproError(f"{name} timed out after {timeout:g} s")
    if proc.returncode != 0:
        last = next((ln.strip() for ln in reversed(stderr_tail) if ln.strip()), f"exit status {proc.returncode}")
        raise ReproError(f"{name} failed: {last}")


def _final_result(repro: Reproduction, payload: dict, started: datetime, seconds: float, seed: int,
                  script_hash: str) -> dict:
    """Registry fields + the script's payload + run bookkeeping, in the documented key set."""
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    return {
        "name": repro.name,
        "reproduces": repro.reproduces,
        "mitigations": repro.mitigations,
        "signature": repro.signature,
        "signature_met": bool(payload.get("signature_met", False)),
        "signature_rule": payload.get("signature_rule", repro.rule),
        "seed": payload.get("seed", seed),
        "device": payload.get("device"),
        "quick": payload.get("quick"),
        "seconds": round(seconds, 3),
        "run_id": f"{repro.name}-{stamp}-s{seed}",
        "started_at": started.isoformat(timespec="seconds"),
        "metrics": payload.get("metrics", {}),
        "series": payload.get("series", {}),
        "plot": f"{repro.name}.png",
        "anchor": repro.anchor.model_dump(),
        "script": repro.script,
        "script_sha256": script_hash,
    }


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def load_result(name: str, out_dir: Path) -> dict | None:
    """The last result written for `name` in out_dir with `stale` set, or None if there is none.

    `stale` is True when the script changed since the run (or the result predates hashing): its numbers no
    longer describe the code in the repository. Unknown names raise NotFoundError.
    """
    repro = get_reproduction(name)
    path = Path(out_dir) / f"{name}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReproError(f"{path}: unreadable result ({exc}); rerun the reproduction") from None
    if not isinstance(data, dict):
        raise ReproError(f"{path}: not a result object; rerun the reproduction")
    return {**data, "stale": data.get("script_sha256") != repro.script_hash()}


def run_all(out_dir: Path, *, quick: bool = False, device: str = "cpu", seed: int = 0, timeout: float = 120.0,
            on_line: Callable[[str, str], None] | None = None) -> dict[str, dict | ReproError]:
    """Run every registered reproduction in turn; a failure is returned in place of its result, not raised."""
    outcomes: dict[str, dict | ReproError] = {}
    for repro in list_reproductions():
        name = repro.name
        try:
            outcomes[name] = run_reproduction(
                name, out_dir, quick=quick, device=device, seed=seed, timeout=timeout,
                on_line=None if on_line is None else (lambda line, n=name: on_line(n, line)))
        except ReproError as exc:
            outcomes[name] = exc
    return outcomes


def record_run(settings) -> str:
    """Rebuild the graph so the latest recorded runs appear in it as evidence; returns a one-line summary."""
    from ..build import build
    from ..store import GRAPH_FILE

    if not (settings.build_dir / GRAPH_FILE).is_file():
        return "not recorded in the graph yet: run `kb build` to include it"
    report = build(settings)
    return (f"recorded in the graph ({report.nodes.get('reproduction', 0)} reproductions, "
            f"{report.nodes.get('evidence', 0)} evidence nodes)")
