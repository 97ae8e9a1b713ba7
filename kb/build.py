"""`build`: the one function that lists the pipeline's stages in order and writes data/build/ atomically."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .config import EMBEDDING_DIM, Settings
from .errors import CorpusError, KBError
from .extract import Extraction, extract_graph
from .extract.classify import load_classifier
from .extract.cues import load_cues
from .graph import build_graph, graph_to_json
from .link import link_concepts, link_similar
from .models import Document, Node
from .parse import PARSER_VERSION, CorpusRead, read_corpus
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
)
from .taxonomy import load_curation, load_taxonomy
from .vectors import phrase_vectors

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

    Stages: read corpus -> extract -> add reproductions -> embed -> link similar -> graph -> index -> publish.
    Nothing is written unless every stage succeeds; an unchanged input returns at once.
    """
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
    _prune(settings.cache_dir / "parsed", keep={f"{d.content_hash}.json" for d in corpus.documents})
    for warning in corpus.warnings:
        log(f"warning: {warning}")
    extraction = extract_documents(settings, corpus.documents)
    extraction = add_reproductions(extraction, load_repro_results(settings.repro_dir))
    log(f"extracted {len(extraction.nodes)} nodes and {len(extraction.edges)} edges from {len(corpus.documents)} documents")

    vectors, embedded, reused = embed_nodes(settings, extraction.nodes)
    log(f"embedded {embedded} new texts, reused {reused} from the cache")
    extraction = link_similar(extraction, vectors)
    extraction, threshold = link_concepts(extraction, vectors)
    log(f"linked claims to concepts by meaning at cosine >= {threshold:.2f}")
    G = build_graph(extraction)

    staged = staging_dir(settings)
    try:
        write_build(staged, settings, G, corpus.documents, extraction, vectors)
        report = BuildReport(
            up_to_date=False, nodes=_count(G.nodes[n]["kind"] for n in G.nodes),
            edges=_count(d["kind"] for _, _, d in G.edges(data=True)),
            warnings=[*corpus.warnings, *extraction.warnings], embedded=embedded, reused_embeddings=reused,
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
    h = hashlib.sha256(f"{BUILD_FORMAT}|{PARSER_VERSION}".encode())
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode())
        h.update(path.read_bytes())
    for path in [settings.taxonomy_path, settings.curation_path, settings.cues_path, settings.classifier_path]:
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


def _prune(directory: Path, keep: set[str]) -> None:
    """Remove cached parses of files that no longer exist or have changed."""
    for path in directory.glob("*.json") if directory.is_dir() else []:
        if path.name not in keep:
            path.unlink(missing_ok=True)


# --- stage: extract ----------------------------------------------------------------------------------


def extract_documents(settings: Settings, documents: list[Document]) -> Extraction:
    """Extract the claim graph with the curated taxonomy, cue vocabularies and phrase classifier; phrase
    vectors are cached across builds."""
    vectors = phrase_vectors(settings)
    extraction = extract_graph(
        documents, load_taxonomy(settings.taxonomy_path), load_curation(settings.curation_path),
        cues=load_cues(settings.cues_path), classifier=load_classifier(settings.classifier_path), embed=vectors.embed,
    )
    vectors.save()
    return extraction


# --- stage: embed -------------------------------------------------------------------------------------


def embedding_text(node: Node) -> str:
    """The text a node is embedded and lexically indexed by: a claim or evidence sentence with its section
    heading in front (the bare sentence often lacks its subject), a concept by its text. Search ranks claims
    densely through the passage they stand in, which also carries the document title (kb/passages.py)."""
    if node.kind in ("claim", "evidence"):
        section = node.attrs.get("section") or ""
        return f"{section}: {node.text}" if section else node.text
    return node.text or node.label


def lexical_text(node: Node) -> str:
    """The text a node is lexically indexed by: its embedding text plus, for concepts, their aliases."""
    text = embedding_text(node)
    if node.kind in ("failure_mode", "mitigation") and node.attrs.get("aliases"):
        text += " Also called: " + ", ".join(a.rstrip("*") for a in node.attrs["aliases"]) + "."
    return text


def embed_nodes(settings: Settings, nodes: dict[str, Node]) -> tuple[dict[str, np.ndarray], int, int]:
    """Vectors for every node, reusing cached vectors by text hash; only new texts are encoded."""
    return embed_texts(settings, {node_id: embedding_text(node) for node_id, node in nodes.items()})


def embed_texts(settings: Settings, texts: dict[str, str]) -> tuple[dict[str, np.ndarray], int, int]:
    """A vector per key of `texts`, reusing vectors cached by text hash; returns (vectors, encoded, reused)."""
    cache_path = settings.cache_dir / "embeddings.npz"
    cache = _load_embedding_cache(cache_path)
    keys = {key: hashlib.sha1(t.encode("utf-8")).hexdigest() for key, t in texts.items()}
    missing = sorted({keys[n]: texts[n] for n in texts if keys[n] not in cache}.items())
    if missing:
        encoder = _encoder(settings)
        vectors = encoder.encode([t for _, t in missing])
        for (key, _), vector in zip(missing, vectors):
            cache[key] = vector
    if missing:
        _save_embedding_cache(cache_path, cache)
    return {key: cache[keys[key]] for key in texts}, len(missing), len(texts) - len(missing)


def prune_embedding_cache(settings: Settings, texts: list[str]) -> None:
    """Drop cached vectors of texts that are no longer embedded."""
    cache_path = settings.cache_dir / "embeddings.npz"
    cache = _load_embedding_cache(cache_path)
    current = {hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts}
    if set(cache) - current:
        _save_embedding_cache(cache_path, {k: v for k, v in cache.items() if k in current})


def _encoder(settings: Settings):
    from .embed import OnnxEncoder, ensure_onnx_model

    return OnnxEncoder.load(ensure_onnx_model(settings.cache_dir))


def _load_embedding_cache(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as data:
            return dict(zip(data["keys"].tolist(), data["vectors"]))
    except (OSError, ValueError, KeyError):
        return {}


def _save_embedding_cache(path: Path, cache: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(cache)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, keys=np.array(keys), vectors=np.stack([cache[k] for k in keys]).astype(np.float32))
    tmp.replace(path)


# --- stage: write --------------------------------------------------------------------------------------


def write_build(staged: Path, settings: Settings, G, documents: list[Document], extraction: Extraction,
                vectors: dict[str, np.ndarray]) -> None:
    """Write graph, documents and search index into the staging directory (runs stay in data/runs)."""
    (staged / GRAPH_FILE).write_text(graph_to_json(G), encoding="utf-8")
    docs = {d.id: {"id": d.id, "kind": d.kind, "path": d.path, "format": d.format, "text": d.text,
                   "meta": d.meta.model_dump(mode="json")} for d in documents}
    (staged / DOCUMENTS_FILE).write_text(dump_json(docs), encoding="utf-8")
    write_index(staged / INDEX_DIR, settings, G, documents, extraction, vectors)


def write_index(directory: Path, settings: Settings, G, documents: list[Document], extraction: Extraction,
                vectors: dict[str, np.ndarray]) -> None:
    """The search index: every node (vectors from `embed_nodes`) and every passage of every document
    (embedded here, cached like node texts)."""
    from .index_entries import index_entries
    from .passages import document_passages
    from .search import HybridIndex

    passages = [p for doc in documents for p in document_passages(doc)]
    passage_vectors, _, _ = embed_texts(settings, {p.id: p.context_text for p in passages})
    prune_embedding_cache(settings, [*(embedding_text(n) for n in extraction.nodes.values()),
                                     *(p.context_text for p in passages)])
    entries = index_entries(G, {i: lexical_text(n) for i, n in extraction.nodes.items()},
                            [(p, p.context_text) for p in passages])
    all_vectors = {**vectors, **passage_vectors}
    matrix = np.stack([all_vectors[i] for i in entries.ids]) if entries.ids else np.zeros((0, EMBEDDING_DIM), np.float32)
    HybridIndex.build(entries.ids, entries.texts, matrix, kinds=entries.kinds, records=entries.records,
                      source_ids=entries.source_ids, ties=entries.ties, neighbours=entries.neighbours,
                      contains=entries.contains).save(directory)
