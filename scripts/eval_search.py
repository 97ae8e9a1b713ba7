"""Search quality: hit@k and MRR for dense-only, lexical-only and hybrid search on two query sets.

1. `dev_queries.json` over the build in `--data-dir`. A query counts when one of its top k hits cites one
   of the query's `episodes`, or the hit's text contains every word of one of its `words` entries
   (case-insensitive), as `_about` in the queries file says.
2. The `queries` of `realdev/GOLD.json` over a scratch knowledge base: the `--data-dir` inputs (corpus,
   taxonomy, curation and the other files extraction reads) plus the realdev documents, built into a cache folder named by a hash of those inputs (so a
   re-run only rebuilds when something changed). A query counts when a top-k hit comes from the document
   that holds the answer, or is a failure mode / mitigation tied to that document by provenance.

    python scripts/eval_search.py [--data-dir data] [--queries FILE] [--realdev DIR ...] [--merge NAME]
                                  [--k 5] [--cv 5] [--reuse] [--verbose] [--json]

`--realdev` may be given several times (other folders in the GOLD.json format); each is its own query set,
named by its folder, and `--cv` chooses the settings over all of them together. `--merge NAME` builds all of
them into one scratch knowledge base instead (each folder's files under its own subfolder) and scores their
questions as one set NAME: a folder of several sets' documents is what a reader's corpus looks like, and
search behaves differently at that size (more documents answer near the same question).

`--cv N` chooses the fusion settings (RRF constant, lexical weight, glossary weight, concept expansion, hits
per document, statements on the dense side) by N-fold cross-validation over both query sets together: each
fold's settings are the best on the other folds, and the held-out scores are reported, so the numbers are not
fitted to the strings they score.
The realdev texts are read from `--realdev` at run time; nothing of them is copied into the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import kb
from kb.api import KnowledgeBase
from kb.config import load_settings
from kb.search import DEFAULT_FUSION, Fusion

DEFAULT_QUERIES = Path("/work/shared/dev_queries.json")
DEFAULT_REALDEV = Path("/work/shared/realdev")
MODES = ("dense", "lexical", "hybrid")
MRR_DEPTH = 10
SCRATCH_FORMAT = "1"


@dataclass(frozen=True)
class Query:
    """One evaluation question and the test that says whether a hit answers it."""

    text: str
    answered: Callable[[dict], bool]
    set_name: str


# --- dev_queries.json -----------------------------------------------------------------------------------


def dev_query(entry: dict) -> Query:
    """A dev query: answered by a hit that cites one of its episodes or contains all words of one entry."""
    episodes = set(entry.get("episodes", []))
    words = [[w.lower() for w in group] for group in entry.get("words", [])]

    def answered(hit: dict) -> bool:
        if episodes & set(hit["episodes"]):
            return True
        text = hit["text"].lower()
        return any(all(w in text for w in group) for group in words)

    return Query(entry["q"], answered, "dev")


# --- realdev --------------------------------------------------------------------------------------------


SKIP_INPUTS = ("build", ".cache")


def scratch_dir(base_data: Path, folders: list[Path], cache_root: Path) -> Path:
    """A knowledge base of `base_data`'s inputs plus the documents of the realdev-style `folders` (each
    folder's under `corpus/realdev/<folder name>/` when there are several), made once per distinct input
    (the data files, the documents and kb's own code).

    Its `.cache` (parsed documents, embeddings by text hash, the ONNX export) starts as a copy of the newest
    earlier scratch build's, or of `base_data`'s, so a changed input costs only what changed."""
    inputs = [(p.relative_to(base_data).as_posix(), p) for p in sorted(base_data.rglob("*"))
              if p.is_file() and p.relative_to(base_data).parts[0] not in SKIP_INPUTS
              and not p.relative_to(base_data).parts[0].startswith(".build-")]
    for folder in folders:
        inputs += [(f"corpus/realdev/{_subfolder(folders, folder)}{p.name}", p)
                   for p in sorted((folder / "docs").iterdir()) if p.is_file()]
    code = Path(kb.__file__).resolve().parent   # a changed extraction or index must not reuse an old build
    hashed = inputs + [(f"kb/{p.relative_to(code).as_posix()}", p) for p in sorted(code.rglob("*.py"))]
    h = hashlib.sha256(SCRATCH_FORMAT.encode())
    for rel, path in hashed:
        h.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    target = cache_root / f"realdev-eval-{h.hexdigest()[:16]}"
    if not (target / ".complete").exists():
        tmp = cache_root / f".{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        for rel, path in inputs:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, tmp / rel)
        earlier = sorted(cache_root.glob("realdev-eval-*/.cache"), key=lambda p: p.stat().st_mtime)
        seed = earlier[-1] if earlier else base_data / ".cache"
        if seed.is_dir():   # the knowledge base's own cache holds the scratch builds: never copy those into one
            shutil.copytree(seed, tmp / ".cache", ignore=shutil.ignore_patterns(
                "realdev-eval-*", ".realdev-eval-*", "eval-extract", "synthetic-*"))
        (tmp / ".complete").write_text("")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    return target


def _subfolder(folders: list[Path], folder: Path) -> str:
    """Where a folder's documents go under corpus/realdev/: the top when it is alone, else its own subfolder."""
    return f"{folder.name}/" if len(folders) > 1 else ""


def build_scratch(data_dir: Path, *, log: Callable[[str], None]) -> None:
    """Build (or confirm up to date) the scratch knowledge base; the build's own fingerprint decides."""
    from kb.build import build

    report = build(load_settings(data_dir), log=log)
    log(f"scratch build {'up to date' if report.up_to_date else f'done in {report.seconds:.1f} s'}: {data_dir}")


def concept_documents(kb: KnowledgeBase) -> dict[str, set[str]]:
    """For each failure mode and mitigation, the documents its provenance ties it to: the document it was
    found in, and the source of every edge that touches it."""
    tied: dict[str, set[str]] = {}
    for node_id, data in kb.G.nodes(data=True):
        if data["kind"] in ("failure_mode", "mitigation"):
            docs = {data.get("source_id")}
            docs |= {d.get("source_id") for _, _, d in kb.G.in_edges(node_id, data=True)}
            docs |= {d.get("source_id") for _, _, d in kb.G.out_edges(node_id, data=True)}
            tied[node_id] = {d for d in docs if d}
    return tied


def realdev_queries(kb: KnowledgeBase, realdev: Path, set_name: str = "realdev", subfolder: str = "") -> list[Query]:
    """The GOLD.json queries, each answered by a hit from its document (under corpus/realdev/`subfolder`) or a
    concept tied to that document."""
    gold = json.loads((realdev / "GOLD.json").read_text(encoding="utf-8"))
    doc_of_path = {d["path"]: doc_id for doc_id, d in kb.documents.items()}
    tied = concept_documents(kb)
    queries = []
    for entry in gold:
        doc_id = doc_of_path.get(f"realdev/{subfolder}{Path(entry['file']).name}")
        for text in entry.get("queries", []):
            if doc_id is None:
                raise SystemExit(f"realdev document {entry['file']} is missing from the scratch build")
            queries.append(Query(text, _doc_test(doc_id, tied), set_name))
    return queries


def _doc_test(doc_id: str, tied: dict[str, set[str]]) -> Callable[[dict], bool]:
    def answered(hit: dict) -> bool:
        return hit["source_id"] == doc_id or doc_id in tied.get(hit["id"], ())

    return answered


# --- scoring --------------------------------------------------------------------------------------------


def first_rank(kb: KnowledgeBase, q: Query, mode: str, fusion: Fusion, vector) -> int | None:
    """1-based rank of the first hit that answers `q` within the top MRR_DEPTH, else None."""
    hits = kb.search_records(q.text, k=MRR_DEPTH, mode=mode, fusion=fusion, vector=vector)
    return next((i for i, h in enumerate(hits, 1) if q.answered(h)), None)


def score(ranks: list[int | None], k: int) -> dict:
    """hit@k and MRR@MRR_DEPTH of a list of first-answer ranks."""
    n = max(len(ranks), 1)
    return {f"hit@{k}": round(sum(1 for r in ranks if r and r <= k) / n, 3),
            "mrr": round(sum(1 / r for r in ranks if r) / n, 3), "n": len(ranks)}


def fusion_grid() -> list[Fusion]:
    """Candidate fusion settings for cross-validation: 18 rank-fusion and 90 score-fusion combinations (share,
    depth, document agreement). One hit per document first and no concept expansion stay as chosen by earlier
    runs (216 combinations, in which no fold chose otherwise); the glossary weight as swept over the outside
    sets (kb/search.py, DEFAULT_FUSION)."""
    rank_fusion = [dict(method="rrf", rrf_k=rrf_k, lexical_weight=weight, depth=100, agreement=0.0)
                   for rrf_k, weight in itertools.product((10, 30, 60), (0.75, 1.0, 1.25))]
    score_fusion = [dict(method="score", dense_share=share, depth=depth, agreement=agreement)
                    for share, depth, agreement in itertools.product((0.15, 0.2, 0.3, 0.4, 0.5), (10, 20, 50),
                                                                     (0.0, 0.2, 0.3))]
    return [replace(DEFAULT_FUSION, **side, dense_statements=statements)
            for side in rank_fusion + score_fusion for statements in (True, False)]


def cross_validate(kbs: dict[str, KnowledgeBase], queries: list[Query], vectors: list, folds: int, k: int) -> dict:
    """Held-out hybrid scores when each fold's fusion settings are chosen on the other folds."""
    grid = fusion_grid()
    ranks = [[first_rank(kbs[q.set_name], q, "hybrid", f, v) for q, v in zip(queries, vectors)] for f in grid]

    def objective(g: int, rows: list[int]) -> float:
        s = score([ranks[g][i] for i in rows], k)
        return s[f"hit@{k}"] + 0.5 * s["mrr"]

    order = sorted(range(len(queries)), key=lambda i: hashlib.sha1(queries[i].text.encode()).hexdigest())
    held_out: dict[int, int | None] = {}
    chosen = []
    for fold in range(folds):
        test = [i for j, i in enumerate(order) if j % folds == fold]
        train = [i for j, i in enumerate(order) if j % folds != fold]
        best = max(range(len(grid)), key=lambda g: (objective(g, train), -g))
        chosen.append(asdict(grid[best]))
        held_out.update({i: ranks[best][i] for i in test})
    out = {"folds": folds, "chosen": chosen}
    for set_name in sorted({q.set_name for q in queries}):
        rows = [i for i, q in enumerate(queries) if q.set_name == set_name]
        out[set_name] = score([held_out[i] for i in rows], k)
    best_all = max(range(len(grid)), key=lambda g: (objective(g, list(range(len(queries)))), -g))
    out["best_on_all"] = asdict(grid[best_all])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="built knowledge base for dev_queries")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--realdev", type=Path, action="append",
                        help="folder with GOLD.json and docs/ (repeatable; default ../shared/realdev)")
    parser.add_argument("--cache", type=Path, default=None, help="where scratch builds live (default DATA/.cache)")
    parser.add_argument("--merge", metavar="NAME",
                        help="build every --realdev folder into one knowledge base and score them as one set NAME")
    parser.add_argument("--reuse", action="store_true", help="use the scratch build as it is, even if stale")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--cv", type=int, default=0, metavar="FOLDS", help="cross-validate the fusion settings")
    parser.add_argument("--verbose", action="store_true", help="show each query's outcome per mode")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()

    log = (lambda _m: None) if args.json else (lambda m: print(m, file=sys.stderr))
    settings = load_settings(args.data_dir)
    kbs = {"dev": KnowledgeBase.load(settings=settings)}
    queries = [dev_query(e) for e in json.loads(args.queries.read_text(encoding="utf-8"))["queries"]]
    missing = [str(folder) for folder in args.realdev or [] if not (folder / "GOLD.json").is_file()]
    if missing:
        raise SystemExit(f"error: no GOLD.json in {', '.join(missing)}")
    folders = []
    for folder in args.realdev or [DEFAULT_REALDEV]:
        if (folder / "GOLD.json").is_file():
            folders.append(folder)
        else:
            log(f"note: no GOLD.json in {folder}; scoring the dev questions only")
    groups = [(args.merge, folders)] if args.merge and folders else [
        ("realdev" if folder.resolve() == DEFAULT_REALDEV.resolve() or len(args.realdev or []) < 2 else folder.name,
         [folder]) for folder in folders]
    for name, group in groups:
        scratch = scratch_dir(settings.data_dir, group, args.cache or settings.cache_dir)
        if not (args.reuse and (scratch / "build").is_dir()):
            build_scratch(scratch, log=log)
        kbs[name] = KnowledgeBase.load(scratch)
        for folder in group:
            queries += realdev_queries(kbs[name], folder, name, _subfolder(group, folder))

    vectors = [kbs[q.set_name].encoder.encode([q.text])[0] for q in queries]
    ranks = {m: [first_rank(kbs[q.set_name], q, m, DEFAULT_FUSION, v) for q, v in zip(queries, vectors)] for m in MODES}
    summary: dict = {}
    for set_name in kbs:
        rows = [i for i, q in enumerate(queries) if q.set_name == set_name]
        summary[set_name] = {m: score([ranks[m][i] for i in rows], args.k) for m in MODES}
    if args.cv:
        summary["cv"] = cross_validate(kbs, queries, vectors, args.cv, args.k)
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    if args.verbose:
        for i, q in enumerate(queries):
            marks = " ".join(f"{m[0]}{ranks[m][i] or '-'}" for m in MODES)
            print(f"{q.set_name:<8} {marks:<14} {q.text}")
    for set_name in kbs:
        line = "  ".join(f"{m} hit@{args.k} {s[f'hit@{args.k}']:.3f} mrr {s['mrr']:.3f}"
                         for m, s in summary[set_name].items())
        print(f"{set_name:<8} ({summary[set_name]['hybrid']['n']} queries)  {line}")
    if args.cv:
        cv = summary["cv"]
        for set_name in kbs:
            print(f"{set_name:<8} hybrid, {cv['folds']}-fold held-out: hit@{args.k} {cv[set_name][f'hit@{args.k}']:.3f} "
                  f"mrr {cv[set_name]['mrr']:.3f}")
        print("chosen per fold:", json.dumps(cv["chosen"]))
        print("best on all queries:", json.dumps(cv["best_on_all"]))


if __name__ == "__main__":
    main()
