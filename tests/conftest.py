"""Shared fixtures: a knowledge base built once per session from the shipped data/, through the real model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.config import copy_inputs

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


def copy_data_dir(dest: Path, *, with_build: Path | None = None, cache_only: bool = False) -> Path:
    """Copy the shipped corpus, taxonomy and curation into `dest`; from `with_build` (a built data dir) also
    copy its model/embedding cache and, unless `cache_only`, its build."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(DATA / "corpus", dest / "corpus")
    copy_inputs(DATA, dest)
    if with_build is not None:
        shutil.copytree(with_build / ".cache", dest / ".cache")
        if not cache_only:
            shutil.copytree(with_build / "build", dest / "build")
    return dest


@pytest.fixture(scope="session")
def built_data_dir(tmp_path_factory) -> Path:
    """A data dir holding a full build of the shipped corpus (built once; treat it as read-only)."""
    from kb.build import build
    from kb.config import load_settings

    data_dir = copy_data_dir(tmp_path_factory.mktemp("kb") / "data")
    build(load_settings(data_dir))
    return data_dir


@pytest.fixture()
def data_copy(built_data_dir, tmp_path) -> Path:
    """A private, writable copy of the built data dir."""
    return copy_data_dir(tmp_path / "data", with_build=built_data_dir)


@pytest.fixture(scope="session")
def kb(built_data_dir):
    """The KnowledgeBase of the session build."""
    from kb.api import KnowledgeBase

    return KnowledgeBase.load(built_data_dir)


@pytest.fixture()
def restore_torch_globals():
    """The reproduction scripts set torch's determinism and thread count; give the rest of the session its own
    back (used by the modules that run scripts in-process)."""
    import torch

    deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    yield
    torch.use_deterministic_algorithms(deterministic)
    torch.set_num_threads(threads)
