"""The concept-phrase classifier: does a short phrase name a failure mode, a mitigation, or neither?

A multinomial logistic regression over the phrase's MiniLM embedding plus a few cue features (failure or fix
head word, imperative fix verb, structural heading, length). It is trained by
scripts/train_concept_classifier.py on phrases we wrote (data/labels/concept_phrases.yaml) and the curated
taxonomy, and stored as plain JSON weights (data/models/concept_classifier.json), so applying it needs numpy
only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import KBError
from ..text import normalize
from .cues import Cues

CLASSES = ("failure_mode", "mitigation", "other")
CUE_FEATURES = ("failure_head", "mitigation_head", "fix_verb_start", "structural", "words", "digit", "acronym",
                "gerund_start")
_WORDS = re.compile(r"[a-z0-9][a-z0-9@'+-]*")


def cue_features(phrase: str, cues: Cues) -> np.ndarray:
    """The cue features of one phrase, in CUE_FEATURES order."""
    words = _WORDS.findall(normalize(phrase))
    stripped = [w.strip("-'") for w in words]
    return np.array([
        float(any(w in cues.failure_heads for w in stripped)),
        float(any(w in cues.mitigation_heads for w in stripped)),
        float(bool(stripped) and stripped[0] in cues.fix_verbs),
        float(cues.is_structural(phrase)),
        min(len(words), 8) / 8.0,
        float(any(c.isdigit() for c in phrase)),
        float(any(len(t) >= 2 and t.isupper() for t in re.findall(r"[A-Za-z]+", phrase))),
        float(bool(stripped) and stripped[0].endswith("ing")),
    ], dtype=np.float32)


def feature_matrix(phrases: Sequence[str], vectors: np.ndarray, cues: Cues) -> np.ndarray:
    """Embedding plus cue features, one row per phrase."""
    cue_rows = np.stack([cue_features(p, cues) for p in phrases]) if phrases else np.zeros((0, len(CUE_FEATURES)))
    return np.hstack([vectors, cue_rows]).astype(np.float32)


@dataclass(frozen=True)
class ConceptClassifier:
    """Weights of the phrase classifier and how it was trained."""

    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    meta: dict

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (rows sum to one), columns in `classes` order."""
        logits = features @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def to_json(self) -> str:
        return json.dumps({"classes": list(self.classes), "coef": np.round(self.coef, 6).tolist(),
                           "intercept": np.round(self.intercept, 6).tolist(), "meta": self.meta}, indent=0) + "\n"


def load_classifier(path: Path) -> ConceptClassifier:
    """Load the trained weights; a missing or broken file is a one-line KBError naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        classifier = ConceptClassifier(tuple(data["classes"]), np.asarray(data["coef"], dtype=np.float32),
                                       np.asarray(data["intercept"], dtype=np.float32), data.get("meta", {}))
    except FileNotFoundError:
        raise KBError(f"{path}: concept classifier weights are missing (run scripts/train_concept_classifier.py)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise KBError(f"{path}: unreadable concept classifier weights ({type(exc).__name__})") from None
    if classifier.classes != CLASSES:
        raise KBError(f"{path}: classifier classes {classifier.classes} are not {CLASSES}")
    return classifier
