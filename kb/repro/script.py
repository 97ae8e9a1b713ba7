"""Plumbing shared by the reproduction scripts in scripts/repro: flags, budgets, seeding, devices, output files.

A script does `from kb.repro.script import CommonArgs, arg, run_script, ...` (kb is installed in the venv, so
no sys.path edits). Kept free of heavy imports at module level so a script pays only for what it uses.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import sys
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def parse_args(cls: type[T], argv: list[str] | None = None) -> T:
    """Parse command-line flags into the dataclass `cls`; each field becomes `--field-name`, help from metadata."""
    parser = argparse.ArgumentParser(description=(cls.__doc__ or "").strip())
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "").replace("%", "%%")  # argparse formats help with %
        default = f.default
        if isinstance(default, bool):
            parser.add_argument(flag, dest=f.name, default=default, help=help_text,
                                action=argparse.BooleanOptionalAction)
        else:
            kind = type(default) if default is not None else str
            parser.add_argument(flag, dest=f.name, default=default, type=kind, help=f"{help_text} (default: {default})")
    return cls(**vars(parser.parse_args(argv)))


def arg(default: Any, help: str) -> Any:
    """A dataclass field with a help text, for the `Args` classes of the scripts."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class CommonArgs:
    """The flags every reproduction takes; each script's `Args(CommonArgs)` adds its own after these.

    Frozen, so `run(args)` cannot change its caller's arguments: a quick budget is a copy (`quick_budget`).
    """

    seed: int = arg(0, "random seed (random, numpy, torch)")
    device: str = arg("cpu", "cpu or cuda")
    quick: bool = arg(False, "same experiment and hyper-parameters with a smaller budget (a few seconds)")
    out: str = arg("data/build/repro", "directory for NAME.json and NAME.png")


def quick_budget(args: T, **caps: int) -> T:
    """`args` itself, or under `--quick` a copy whose budget fields are capped (`steps=70` -> min(steps, 70)).

    Only sizes (steps, samples, seeds of an estimate) belong in `caps`; learning rates and other
    hyper-parameters stay as they are, so quick mode is the same experiment with less compute.
    """
    if not getattr(args, "quick", False):
        return args
    return dataclasses.replace(args, **{k: min(getattr(args, k), v) for k, v in caps.items()})


def run_script(name: str, args_cls: type[T], run: Any, plot: Any, argv: list[str] | None = None) -> None:
    """A script's `main`: parse flags, run both arms, write JSON + plot, log the verdict."""
    import time

    args = parse_args(args_cls, argv)
    t0 = time.time()
    payload = run(args)
    write_outputs(args.out, name, payload, plot(payload))
    log(f"done {name} signature_met={payload['signature_met']} in {time.time() - t0:.1f}s")


def seed_everything(seed: int, *, torch_threads: int = 1) -> None:
    """Seed random, numpy and (if imported) torch; make torch deterministic and single-box friendly.

    One intra-op thread: the toys use tiny tensors, and on a busy 2-core box a second OpenMP thread spins
    and makes each op several times slower.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")  # only scripts that already imported torch pay for it
    if torch is not None:

        torch.manual_seed(seed)
        torch.set_num_threads(torch_threads)
        torch.use_deterministic_algorithms(True, warn_only=True)


def resolve_device(name: str):
    """The torch device for `--device`; exits with a clear message when CUDA is asked for but missing."""
    import torch

    if name not in ("cpu", "cuda"):
        fail(f"unknown device {name!r}: use cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        fail("CUDA requested but not available: rerun with --device cpu")
    return torch.device(name)


def fail(message: str) -> None:
    """Print a one-line error on stderr and exit with status 2 (the runner shows that line)."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(2)


def log(message: str) -> None:
    """One progress line on stdout, flushed so the runner can stream it."""
    print(message, flush=True)


def jsonable(value: Any) -> Any:
    """Plain-JSON copy of nested numpy/torch values; NaN and inf become None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def result(*, args: Any, metrics: dict, series: dict, signature_met: bool, signature_rule: str) -> dict:
    """The JSON payload every script writes (the runner adds registry fields and timing)."""
    return jsonable({
        "metrics": metrics,
        "series": series,
        "signature_met": bool(signature_met),
        "signature_rule": signature_rule,
        "seed": args.seed,
        "device": args.device,
        "quick": args.quick,
    })


def new_figure(title: str, ncols: int = 1, nrows: int = 1):
    """A titled matplotlib figure (Agg backend) with `nrows` x `ncols` axes, returned as (fig, flat list of axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(max(6.4, 4.6 * ncols), 3.8 * nrows), squeeze=False)
    fig.suptitle(title)
    return fig, list(axes.flat)


def write_outputs(out_dir: str | Path, name: str, payload: dict, fig) -> Path:
    """Write `<out>/<name>.json` and `<out>/<name>.png`; returns the JSON path."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / f"{name}.png", dpi=90)
    plt.close(fig)
    path = out / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(jsonable(payload), indent=1))
    os.replace(tmp, path)
    return path
