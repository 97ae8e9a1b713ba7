"""Train the concept-phrase classifier (kb/extract/classify.py) and write its weights as JSON.

Training data, all written by us: data/labels/concept_phrases.yaml (phrases labelled failure_mode,
mitigation or other), the curated taxonomy's labels and aliases, and the structural headings of
data/cues.yaml (other). Prints cross-validated accuracy per class and writes data/models/concept_classifier.json.

    .venv/bin/python scripts/train_concept_classifier.py [--data-dir data] [--c 4.0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]


def training_phrases(data_dir: Path) -> tuple[list[str], list[str]]:
    """(phrases, labels), deduplicated case-insensitively; a phrase labelled twice keeps its first label."""
    from kb.extract.classify import CLASSES
    from kb.taxonomy import load_taxonomy

    rows: list[tuple[str, str]] = []
    labels_path = data_dir / "labels" / "concept_phrases.yaml"
    if labels_path.is_file():
        labelled = yaml.safe_load(labels_path.read_text(encoding="utf-8")) or {}
        for label in CLASSES:
            rows += [(str(p), label) for p in labelled.get(label) or []]
    taxonomy = load_taxonomy(data_dir / "taxonomy.yaml")
    for label, concepts in (("failure_mode", taxonomy.failure_modes), ("mitigation", taxonomy.mitigations)):
        for c in concepts:
            rows += [(c.label.split(" (")[0], label), *((a.rstrip("*"), label) for a in c.aliases)]
    cues = yaml.safe_load((data_dir / "cues.yaml").read_text(encoding="utf-8"))
    rows += [(h.rstrip("*").capitalize(), "other") for h in cues["structural_headings"]]
    seen: dict[str, str] = {}
    for phrase, label in rows:
        key = phrase.strip().lower()
        if key and key not in seen:
            seen[key] = label
    phrases = sorted(seen)
    originals = {p.strip().lower(): p.strip() for p, _ in rows}
    return [originals[k] for k in phrases], [seen[k] for k in phrases]


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from kb.config import load_settings
    from kb.extract.classify import CLASSES, ConceptClassifier, feature_matrix
    from kb.extract.cues import load_cues
    from kb.vectors import phrase_vectors

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "data")
    parser.add_argument("--c", type=float, default=4.0, help="inverse regularization strength")
    args = parser.parse_args(argv)
    settings = load_settings(args.data_dir)
    phrases, labels = training_phrases(settings.data_dir)
    cues = load_cues(settings.cues_path)
    cache = phrase_vectors(settings)
    X = feature_matrix(phrases, cache.embed(phrases), cues)
    cache.save()
    y = np.array([CLASSES.index(label) for label in labels])
    model = LogisticRegression(C=args.c, max_iter=3000)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    predicted = cross_val_predict(model, X, y, cv=folds)
    print(f"{len(phrases)} phrases: " + ", ".join(f"{c} {int((y == i).sum())}" for i, c in enumerate(CLASSES)))
    print(f"5-fold accuracy {float((predicted == y).mean()):.3f}")
    for i, c in enumerate(CLASSES):
        mask = predicted == i
        precision = float((y[mask] == i).mean()) if mask.any() else 0.0
        recall = float((predicted[y == i] == i).mean())
        print(f"  {c:13} precision {precision:.3f} recall {recall:.3f}")
    model.fit(X, y)
    meta = {"phrases": len(phrases), "cv_accuracy": round(float((predicted == y).mean()), 4), "C": args.c}
    out = settings.classifier_path
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(ConceptClassifier(CLASSES, model.coef_, model.intercept_, meta).to_json(), encoding="utf-8")
    print(f"wrote {out.relative_to(settings.data_dir.parent) if out.is_relative_to(settings.data_dir.parent) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
