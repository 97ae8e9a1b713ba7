"""`build`: the one function that lists the pipeline's stages in order and writes data/build/ atomically."""

from __future__ import annotations

import gc
import hashlib
import io
import pickle
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .config import Settings
from .embed import ensure_onnx_model
from .errors import CorpusError, KBError
from .extract import DocumentReading, Extraction, HitMemo, extract_graph, read_document
from .extract.classify import load_classifier
from .extract.cues import Cues, load_cues
from .graph import build_graph, graph_to_json
from .index_entries import build_index, index_texts
from .link import Nearest, link_concepts, link_similar, nearest_in_other_source
from .models import Document
from .parse import PARSER_VERSION, CorpusRead, read_corpus
from .passages import document_passages
from .repro.evidence import add_reproductions, load_repro_results
from .repro.registry import SCRIPTS_DIR
from .store import (
    DOCUMENTS_FILE,
    GRAPH_FILE,
    INDEX_DIR,
    MANIFEST_FILE,
    dump_json,
    publish,
    read_manifest,
    recover,
    staging_dir,
    write_bytes_atomic,
    write_text_atomic,
)
from .taxonomy import load_curation, load_glossary, load_taxonomy
from .vectors import phrase_vectors, text_vectors

BUILD_FORMAT = "1"


@dataclass(frozen=True)
class BuildReport:
    """What a build did: counts, warnings, whether it was skipped as up to date, and how long it took."""

    up_to_date: bool
    nodes: dict[str, int] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    embedded: int = 0
    reused_embeddings: int = 0
    seconds: float = 0.0


def build(settings: Settings, *, force: bool = False, log: Callable[[str], None] = lambda _msg: None) -> BuildReport:
    """Build the knowledge base from `settings.data_dir` into `settings.build_dir`.

    Stages: read corpus -> extract -> add reproductions -> passages -> embed -> link -> graph -> index, then
    write and publish. Nothing is written unless every stage succeeds; an unchanged input returns at once.
    """
    with _cycle_collection_paused():
        return _build(settings, force=force, log=log)


@contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the build. A build makes millions of small objects (tokens,
    hits, nodes) that live until it ends, and the collector kept rescanning them for cycles there are few of:
    about 15% of a rebuild after a taxonomy edit. Reference counting still frees everything else."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(settings: Settings, *, force: bool, log: Callable[[str], None]) -> BuildReport:
    started = time.perf_counter()
    recover(settings)
    fingerprint = input_fingerprint(settings)
    manifest = read_manifest(settings.build_dir)
    if not force and manifest and manifest.get("fingerprint") == fingerprint:
        if settings.strict:
            read_documents(settings)  # a strict build fails on a bad file whether or not anything changed
        return BuildReport(up_to_date=True, nodes=manifest["nodes"], edges=manifest["edges"],
                           warnings=manifest.get("warnings", []), seconds=time.perf_counter() - started)

    corpus = read_documents(settings)
    store_parses(settings.cache_dir / "parsed", corpus.documents)
    for warning in corpus.warnings:
        log(f"warning: {warning}")
    extraction = extract_documents(settings, corpus.documents)
    extraction = add_reproductions(extraction, load_repro_results(settings.repro_dir))
    log(f"extracted {len(extraction.nodes)} nodes and {len(extraction.edges)} edges from {len(corpus.documents)} documents")

    passages = [p for doc in corpus.documents for p in document_passages(doc)]
    vectors, embedded = embed_index_texts(settings, index_texts(extraction.nodes, passages))
    log(f"embedded {embedded} new texts, reused {len(vectors) - embedded} from the cache")
    extraction = link_similar(extraction, vectors, nearest=cached_nearest(settings.cache_dir / "nearest"))
    extraction, threshold = link_concepts(extraction, vectors)
    log(f"linked claims to concepts by meaning at cosine >= {threshold:.2f}")
    G = build_graph(extraction)
    index = build_index(G, extraction.nodes, passages, vectors, load_glossary(settings.glossary_path).groups)
    ensure_onnx_model(settings.cache_dir)  # the query encoder, current even when every vector came from the cache

    staged = staging_dir(settings)
    try:
        write_build(staged, G, corpus.documents, index)
        report = BuildReport(
            up_to_date=False, nodes=_count(G.nodes[n]["kind"] for n in G.nodes),
            edges=_count(d["kind"] for _, _, d in G.edges(data=True)),
            warnings=[*corpus.warnings, *extraction.warnings], embedded=embedded,
            reused_embeddings=len(vectors) - embedded,
        )
        report = _with_seconds(report, time.perf_counter() - started)
        (staged / MANIFEST_FILE).write_text(dump_json(_manifest(fingerprint, report)), encoding="utf-8")
        publish(settings, staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return report


def _with_seconds(report: BuildReport, seconds: float) -> BuildReport:
    return replace(report, seconds=round(seconds, 3))


def _count(kinds) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def _manifest(fingerprint: str, report: BuildReport) -> dict:
    return {"format": BUILD_FORMAT, "fingerprint": fingerprint, "nodes": report.nodes, "edges": report.edges,
            "warnings": report.warnings, "seconds": report.seconds, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


# --- stage: fingerprint ------------------------------------------------------------------------------


def input_fingerprint(settings: Settings) -> str:
    """A hash of everything a build reads: corpus files, taxonomy, curation, reproduction results and code."""
    h = hashlib.sha256(f"{BUILD_FORMAT}|{PARSER_VERSION}|{code_digest()}".encode())
    for path in [settings.taxonomy_path, settings.curation_path, settings.cues_path, settings.glossary_path,
                 settings.classifier_path]:
        h.update(path.read_bytes() if path.exists() else b"-")
    for root in (settings.corpus_dir, settings.repro_dir, SCRIPTS_DIR):  # scripts: a changed one makes its run stale
        for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()) if root.exists() else []:
            h.update(str(path.relative_to(root)).encode())
            try:
                stat = path.stat()
                if stat.st_size <= settings.max_document_bytes:
                    h.update(path.read_bytes())
                else:
                    h.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
            except OSError:
                h.update(b"unreadable")
    return h.hexdigest()


def code_digest() -> str:
    """A hash of every module of the kb package, names and contents."""
    h = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


# --- stage: read -------------------------------------------------------------------------------------


def read_documents(settings: Settings) -> CorpusRead:
    """Parse the corpus (strict mode turns the first bad file into an error), reusing parsed documents
    cached by content hash so an unchanged file is not parsed again."""
    if not settings.corpus_dir.is_dir():
        raise KBError(f"no corpus folder at {settings.corpus_dir}: put .md, .txt or .html documents there")
    try:
        return read_corpus(settings.corpus_dir, strict=settings.strict, max_bytes=settings.max_document_bytes,
                           cache_dir=settings.cache_dir / "parsed")
    except CorpusError as exc:
        raise KBError(f"{exc} (strict build stopped; the previous build is untouched)") from None


def store_parses(directory: Path, documents: list[Document]) -> None:
    """Cache each document's parse by content hash (so an unchanged file is not parsed again) and remove the
    cached parses of files that no longer exist or have changed."""
    keep = {f"{d.content_hash}.json": d for d in documents}
    directory.mkdir(parents=True, exist_ok=True)
    for name, doc in keep.items():
        if not (directory / name).is_file():
            write_text_atomic(directory / name, doc.model_dump_json())
    for path in directory.glob("*.json"):
        if path.name not in keep:
            path.unlink(missing_ok=True)


# --- stage: extract ----------------------------------------------------------------------------------


def extract_documents(settings: Settings, documents: list[Document]) -> Extraction:
    """Extract the claim graph with the curated taxonomy, cue vocabularies and phrase classifier; phrase
    vectors, the documents' taxonomy-independent readings and their alias hits are cached across builds."""
    vectors = phrase_vectors(settings)
    cues = load_cues(settings.cues_path)
    memo_path = settings.cache_dir / "alias_hits" / f"{code_digest()[:16]}.pickle"
    memo = cached_alias_hits(memo_path)
    extraction = extract_graph(
        documents, load_taxonomy(settings.taxonomy_path), load_curation(settings.curation_path),
        cues=cues, classifier=load_classifier(settings.classifier_path), embed=vectors.embed,
        readings=cached_readings(settings.cache_dir / "readings", documents, cues, settings.cues_path), memo=memo,
    )
    vectors.save()
    store_alias_hits(memo_path, memo)
    return extraction


def cached_alias_hits(path: Path) -> HitMemo:
    """The alias hits and alias keys the last build kept at `path` (a pickle kb itself wrote, named for kb's
    code, since both depend on how matching works), or none."""
    try:
        kept = pickle.loads(path.read_bytes())
        return HitMemo(known=kept["hits"], known_names=kept["names"])
    except Exception:   # missing, damaged or written by other code: match every text again
        return HitMemo()


def store_alias_hits(path: Path, memo: HitMemo) -> None:
    """Keep the hits and alias keys this build looked up at `path`, and nothing written by other code."""
    kept = {"hits": memo.used, "names": memo.used_names}
    write_bytes_atomic(path, pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL))
    for other in path.parent.glob("*.pickle"):
        if other != path:
            other.unlink(missing_ok=True)


def cached_readings(directory: Path, documents: list[Document], cues: Cues, cues_path: Path) -> dict[str, DocumentReading]:
    """Each document's claim sentences and mentions (`read_document`), kept in `directory` by document content,
    cue file and kb's code, so a build after a taxonomy edit does not clean and scan every document again.
    Files are pickles that kb itself wrote; ones no longer current are removed."""
    version = hashlib.sha256(cues_path.read_bytes() + code_digest().encode()).hexdigest()[:16]
    directory.mkdir(parents=True, exist_ok=True)
    readings, keep = {}, set()
    for doc in documents:
        path = directory / f"{doc.content_hash}-{version}.pickle"
        keep.add(path.name)
        try:
            readings[doc.id] = pickle.loads(path.read_bytes())
        except Exception:   # missing, damaged or written by other code: read the document again
            readings[doc.id] = read_document(doc, cues)
            write_bytes_atomic(path, pickle.dumps(readings[doc.id], protocol=pickle.HIGHEST_PROTOCOL))
    for path in directory.glob("*.pickle"):
        if path.name not in keep:
            path.unlink(missing_ok=True)
    return readings


# --- stage: embed -------------------------------------------------------------------------------------


def embed_index_texts(settings: Settings, texts: dict[str, str]) -> tuple[dict[str, np.ndarray], int]:
    """A vector per row id, reusing vectors cached by text (the cache keeps only this build's texts), and how
    many texts were newly encoded."""
    cache = text_vectors(settings)
    ids = list(texts)
    matrix = cache.embed([texts[i] for i in ids])
    cache.save()
    return dict(zip(ids, matrix)), cache.encoded


def cached_nearest(directory: Path) -> Nearest:
    """`nearest_in_other_source`, its answer kept in `directory` by the bytes of its input: a rebuild after a
    taxonomy edit has the same claims and vectors, and the all-pairs product is a tenth of such a rebuild.
    Only the latest answer is kept."""
    def nearest(matrix: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = hashlib.sha256(matrix.tobytes() + codes.astype(np.int64).tobytes()).hexdigest()[:24]
        path = directory / f"{key}.npz"
        try:
            with np.load(path) as kept:
                return kept["best"], kept["score"]
        except Exception:   # missing, damaged or not ours: compute it again
            best, score = nearest_in_other_source(matrix, codes)
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.npz"):
            old.unlink(missing_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, best=best, score=score)
        write_bytes_atomic(path, buffer.getvalue())
        return best, score
    return nearest


# --- stage: write --------------------------------------------------------------------------------------


def write_build(staged: Path, G, documents: list[Document], index) -> None:
    """Write graph, documents and search index into the staging directory (runs stay in data/runs)."""
    (staged / GRAPH_FILE).write_text(graph_to_json(G), encoding="utf-8")
    docs = {d.id: {"id": d.id, "kind": d.kind, "path": d.path, "format": d.format, "text": d.text,
                   "meta": d.meta.model_dump(mode="json")} for d in documents}
    (staged / DOCUMENTS_FILE).write_text(dump_json(docs), encoding="utf-8")
    index.save(staged / INDEX_DIR)
