"""A library on Milvus: a Milvus Lite file, a Milvus standalone server or a cluster, through pymilvus.

    REPORT_QA_STORE=./library.db           Milvus Lite (a local file; tests and small libraries)
    REPORT_QA_STORE=http://host:19530      a server or a cluster (MILVUS_TOKEN, or MILVUS_USER and
                                           MILVUS_PASSWORD, from the environment; never in a URI)

One library is three collections named after it (`report_qa_chunks`, `_sentences`, `_reports`):

    chunks      pk "ID/n", report, region, year, n, text, context (jieba-analysed), vector (dense),
                sparse (BM25, made by Milvus from `context` with its BM25 function)
    sentences   pk "ID/n", report, n, vector
    reports     pk, kind ("meta" | "report" | "text" | "log"), report, seq, region, year, body:
                the meta row (schema version, model, chunking, generation), one row per report
                (its record, as JSON) and its text in pieces: the texts are the source of truth;
                and the change log, a row per change (seq: when, in nanoseconds)

Milvus does the searching: dense inner products and BM25 with a report filter.  The chunks and
sentences themselves (offsets, sections) are parsed from the stored texts when the library is
opened, as the FAISS library does, so a row of Milvus is a position in `chunks`, and the
retriever's fusion and the answer step run unchanged on top (store/base.py).
"""
from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import IndexStoreError
from ..ingest.chunks import ChunkingParams, chunks_sha256, renumbered, sentence_chunks
from ..ingest.pipeline import Entry, embed, reopen
from ..language.glossary import Glossary
from ..schema import Chunk
from .base import Library, Part, Store, lexical_tokens, parts_of
from .catalog import Change
from .milvus_client import connect, one_line, redact

log = logging.getLogger(__name__)

# Bump when the collections' fields or what is stored in them change; a library written with
# another version is refused on open with a message, never read wrongly.
SCHEMA_VERSION = 1
MAX_LIMIT = 16_384            # Milvus's largest topk and query limit
TEXT_PIECE = 16_000           # characters per VARCHAR piece (≤ 65,535 bytes in UTF-8)
MAX_VARCHAR = 65_535
CHECK_EVERY = 1.0             # seconds between looks at the library's generation (another writer)
SENTENCE_CACHE = 64           # reports whose sentence vectors are kept after a question needed them
INSERT_BATCH = 256
# Punctuation that the project's own words() drops; Milvus's analyser drops it too, so chunk lengths
# (BM25's length normalisation) are counted alike.
_RANGES = [(0x21, 0x7F), (0xA1, 0x100), (0x2000, 0x2070), (0x2190, 0x2200), (0x2460, 0x2700), (0x3000, 0x3040),
           (0xFE30, 0xFE70), (0xFF00, 0xFF66)]
PUNCTUATION = sorted(ch for lo, hi in _RANGES for ch in map(chr, range(lo, hi)) if not re.fullmatch(r"[\w.%‰]+", ch))
_STOP = frozenset(PUNCTUATION)
ANALYZER = {"tokenizer": {"type": "jieba", "mode": "search"},
            "filter": [{"type": "stop", "stop_words": PUNCTUATION}]}


def _ranges(ids: np.ndarray) -> list[tuple[int, int]]:
    """Sorted ids as [start, stop) runs."""
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    if not len(ids):
        return []
    breaks = np.flatnonzero(np.diff(ids) != 1) + 1
    return [(int(run[0]), int(run[-1]) + 1) for run in np.split(ids, breaks)]


def _quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


class MilvusStore(Store):
    """The Store interface over a library's collections; chunk rows are positions in `chunks`."""

    def __init__(self, client, names: dict[str, str], chunks: list[Chunk], parts: list[Part],
                 owners: np.ndarray, glossary: Glossary, vocab: set[str], guard=None):
        self.client, self.names = client, names
        self.chunks, self.parts, self.sentence_chunks, self.glossary = chunks, parts, owners, glossary
        self._vocab = vocab
        self._by_report = {p.report: p for p in parts}
        self._sentences: OrderedDict[str, np.ndarray] = OrderedDict()
        self._guard = guard or (lambda f, *a, **kw: f(*a, **kw))

    @property
    def vocab(self) -> set[str]:
        return self._vocab

    def _call(self, method: str, *args, **kwargs):
        return self._guard(getattr(self.client, method), *args, **kwargs)

    def _rows(self, hits) -> list[tuple[int, float]]:
        """Search hits as (chunk row, score)."""
        out = []
        for h in hits:
            rid, _, n = str(h["id"] if "id" in h else h["pk"]).rpartition("/")
            part = self._by_report.get(rid)
            if part is not None and int(n) < len(part.chunks):
                out.append((part.chunks.start + int(n), float(h["distance"])))
        return out

    def _scope(self, reports: set[str] | None) -> tuple[str, int]:
        if not reports:
            return "", len(self.chunks)
        known = [r for r in reports if r in self._by_report]
        return (f"report in [{', '.join(_quote(r) for r in sorted(known))}]",
                sum(len(self._by_report[r].chunks) for r in known))

    def lexical_scores(self, tokens: list[str], reports: set[str] | None = None) -> np.ndarray:
        """BM25 by Milvus, summed over `tokens` as bm25s sums them.  Milvus's analyser segments a query
        again in search mode (增长速度 → 增长, 速度, 增长速度), so each word and the words it splits into
        are asked as separate queries of one search call, and the per-word scores are recombined to
        count each of `tokens` exactly once (see `recombine`)."""
        out = np.zeros(len(self.chunks))
        where, n = self._scope(reports)
        if not tokens or not n:
            return out
        queries, weights = recombine(tokens, self.vocab)
        if not queries:
            return out
        results = self._call("search", self.names["chunks"], data=queries, anns_field="sparse",
                             limit=min(n, MAX_LIMIT), filter=where, search_params={"metric_type": "BM25"})
        for hits, weight in zip(results, weights):
            if weight:
                for row, score in self._rows(hits):
                    out[row] += weight * abs(score)      # Milvus Lite reports BM25 as a negated distance
        return np.maximum(out, 0.0)

    def dense_search(self, qvec: np.ndarray, k: int) -> np.ndarray:
        hits = self._call("search", self.names["chunks"], data=[np.asarray(qvec, np.float32).tolist()],
                          anns_field="vector", limit=min(k, MAX_LIMIT), search_params={"metric_type": "IP"})[0]
        return np.array([row for row, _ in self._rows(hits)], dtype=np.int64)

    def cosines(self, qvec: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        ids = np.arange(len(self.chunks)) if ids is None else np.asarray(ids, dtype=np.int64)
        sims = {}
        clauses = []
        for a, b in _ranges(ids):     # a report's chunks are contiguous: a few ranges, not a list of ids
            for p in self.parts:
                lo, hi = max(a, p.chunks.start), min(b, p.chunks.stop)
                if lo < hi:
                    base = p.chunks.start
                    clauses.append(f'(report == {_quote(p.report)} and n >= {lo - base} and n < {hi - base})')
        vec = [np.asarray(qvec, np.float32).tolist()]
        for i in range(0, len(clauses), 256):
            group = clauses[i:i + 256]
            limit = min(len(ids), MAX_LIMIT)
            hits = self._call("search", self.names["chunks"], data=vec, anns_field="vector", limit=limit,
                              filter=" or ".join(group), search_params={"metric_type": "IP"})[0]
            sims.update(self._rows(hits))
        return np.array([sims.get(int(i), 0.0) for i in ids], dtype=np.float64)

    def sentence_rows(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        starts = np.array([p.sentences.start for p in self.parts])
        owner = np.searchsorted(starts, rows, side="right") - 1
        out = None
        for j in np.unique(owner):
            p = self.parts[int(j)]
            vectors = self._report_sentences(p)
            pick = owner == j
            if out is None:
                out = np.empty((len(rows), vectors.shape[1]), dtype=np.float32)
            out[pick] = vectors[rows[pick] - p.sentences.start]
        return out if out is not None else np.empty((0, 0), dtype=np.float32)

    def _report_sentences(self, p: Part) -> np.ndarray:
        """All sentence vectors of one report, fetched once and kept while it is asked about."""
        if p.report in self._sentences:
            self._sentences.move_to_end(p.report)
            return self._sentences[p.report]
        n = len(p.sentences)
        got = []
        for lo in range(0, n, MAX_LIMIT):
            got += self._call("query", self.names["sentences"],
                              filter=f"report == {_quote(p.report)} and n >= {lo} and n < {lo + MAX_LIMIT}",
                              output_fields=["n", "vector"], limit=MAX_LIMIT)
        if len(got) != n:
            raise IndexStoreError(f"Milvus holds {len(got)} sentence vectors of report {p.report}, not {n}: "
                                  "the library is incomplete; add the report again.")
        vectors = np.empty((n, len(got[0]["vector"])), dtype=np.float32)
        for row in got:
            vectors[int(row["n"])] = row["vector"]
        self._sentences[p.report] = vectors
        while len(self._sentences) > SENTENCE_CACHE:
            self._sentences.popitem(last=False)
        return vectors

    def reports_where(self, region: str | None = None, year: int | None = None) -> set[str]:
        """The reports of a region and/or a year, as Milvus filters them."""
        where = [f"kind == \"report\""]
        if region:
            where.append(f"region == {_quote(region)}")
        if year:
            where.append(f"year == {int(year)}")
        rows = self._call("query", self.names["reports"], filter=" and ".join(where),
                          output_fields=["report"], limit=MAX_LIMIT)
        return {r["report"] for r in rows}


def analyse(text: str) -> list[str]:
    """What Milvus's analyser (ANALYZER: jieba, search mode, punctuation dropped) makes of `text`."""
    import jieba
    stop = _STOP
    return [t for t in (w.strip().lower() for w in jieba.cut_for_search(text)) if t and t not in stop]


def recombine(tokens: list[str], vocab: set[str]) -> tuple[list[str], list[float]]:
    """Queries and weights such that the weighted sum of their BM25 scores is the sum of each token's own.

    A query text scores as the sum over the words the analyser makes of it; for the tokens and every
    word they split into, one query each, and a least-squares solve for the weights that add up to
    each token once (exact whenever it can be: always, for the words seen on the gold set)."""
    queries: list[str] = []
    todo = list(dict.fromkeys(tokens))
    while todo:
        w = todo.pop(0)
        if w in queries:
            continue
        queries.append(w)
        todo += [t for t in analyse(w) if t not in queries and t in vocab]
    words = sorted({t for q in queries for t in analyse(q)} & vocab)
    if not words:
        return [], []
    col = {t: j for j, t in enumerate(words)}
    a = np.zeros((len(queries), len(words)))
    for i, q in enumerate(queries):
        for t in analyse(q):
            if t in col:
                a[i, col[t]] += 1
    target = np.array([1.0 if t in set(tokens) else 0.0 for t in words])
    weights = np.linalg.lstsq(a.T, target, rcond=None)[0]
    keep = np.abs(weights) > 1e-9
    return [q for q, k in zip(queries, keep) if k], [float(x) for x, k in zip(weights, keep) if k]


def _schemas(client, dim: int):
    from pymilvus import DataType, Function, FunctionType
    chunks = client.create_schema(auto_id=False, description=f"report-qa chunks, schema {SCHEMA_VERSION}")
    chunks.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=256)
    chunks.add_field("report", DataType.VARCHAR, max_length=128)
    chunks.add_field("region", DataType.VARCHAR, max_length=128)
    chunks.add_field("year", DataType.INT64)
    chunks.add_field("n", DataType.INT64)
    chunks.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
    chunks.add_field("context", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True,
                     analyzer_params=ANALYZER)
    chunks.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    chunks.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["context"], output_field_names=["sparse"]))
    sentences = client.create_schema(auto_id=False, description=f"report-qa sentences, schema {SCHEMA_VERSION}")
    sentences.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=256)
    sentences.add_field("report", DataType.VARCHAR, max_length=128)
    sentences.add_field("n", DataType.INT64)
    sentences.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    reports = client.create_schema(auto_id=False, description=f"report-qa reports, schema {SCHEMA_VERSION}")
    reports.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=256)
    reports.add_field("kind", DataType.VARCHAR, max_length=16)
    reports.add_field("report", DataType.VARCHAR, max_length=128)
    reports.add_field("seq", DataType.INT64)
    reports.add_field("region", DataType.VARCHAR, max_length=128)
    reports.add_field("year", DataType.INT64)
    reports.add_field("body", DataType.VARCHAR, max_length=MAX_VARCHAR)
    reports.add_field("v", DataType.FLOAT_VECTOR, dim=2)    # Milvus wants a vector in every collection
    return chunks, sentences, reports


def _index_params(client, kind: str, large: bool):
    ip = client.prepare_index_params()
    if kind == "reports":
        ip.add_index("v", index_type="FLAT", metric_type="L2")
        return ip
    # Exact search while it is cheap (the FAISS store's rule); HNSW on a server holding many reports.
    if large:
        ip.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": 32, "efConstruction": 80})
    else:
        ip.add_index("vector", index_type="FLAT", metric_type="IP")
    if kind == "chunks":
        # bm25s's defaults, so both stores score alike.
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params={"bm25_k1": 1.5, "bm25_b": 0.75})
    return ip


class MilvusLibrary(Library):
    """The write-side Library (store/base.py) on Milvus."""

    def __init__(self, uri: str, embedder, params: ChunkingParams = ChunkingParams(),
                 name: str = "report_qa"):
        self.uri, self.embedder, self.params = str(uri), embedder, params
        self.name = re.sub(r"[^A-Za-z0-9_]", "_", name) or "report_qa"
        if not re.match(r"[A-Za-z_]", self.name):
            self.name = "_" + self.name
        self.names = {k: f"{self.name}_{k}" for k in ("chunks", "sentences", "reports")}
        self.root = redact(self.uri) + f" ({self.name})"      # what messages call the library
        self.entries: list = []
        self.index: MilvusStore | None = None
        self.generation = ""
        self._client = None
        self._checked, self._stale = 0.0, False

    # -- connection --------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            self._client = connect(self.uri)
        return self._client

    def _guard(self, f, *args, **kwargs):
        try:
            return f(*args, **kwargs)
        except IndexStoreError:
            raise
        except Exception as e:
            raise IndexStoreError(f"Milvus at {redact(self.uri)} failed: {one_line(e)}") from None

    def _call(self, method: str, *args, **kwargs):
        return self._guard(getattr(self.client, method), *args, **kwargs)

    # -- reading -----------------------------------------------------------------
    def _expected(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "model_id": self.embedder.model_id,
                "chunking": self.params.to_dict()}

    def _meta(self) -> dict | None:
        rows = self._call("get", self.names["reports"], ids=["meta"], output_fields=["body"])
        return json.loads(rows[0]["body"]) if rows else None

    def live(self) -> str:
        meta = self._meta()
        return meta.get("generation", "") if meta else ""

    def changed(self) -> bool:
        """Another process has added or removed a report since this one loaded (looked at once a second;
        in between, the last look's answer: asked twice in a row, as the engine asks before and after
        taking its lock, it must not say False the second time)."""
        now = time.monotonic()
        if now - self._checked >= CHECK_EVERY:
            self._checked, self._stale = now, self.live() != self.generation
        return self._stale

    def check(self) -> None:
        meta = self._ensure()
        if not self.entries and not self.generation:
            self._load(meta)

    def _ensure(self) -> dict:
        """Create the collections if the library is new; refuse one of another schema version."""
        have = set(self._call("list_collections"))
        mine = set(self.names.values())
        if mine <= have:
            self._call("load_collection", self.names["reports"])
            meta = self._meta()
            version = (meta or {}).get("schema_version")
            if version != SCHEMA_VERSION:
                raise IndexStoreError(
                    f"The Milvus library {self.name!r} at {redact(self.uri)} has schema version {version}; "
                    f"this report-qa reads version {SCHEMA_VERSION}. Drop its collections "
                    f"({', '.join(sorted(mine))}) or choose another library name.")
            return meta
        if mine & have:
            raise IndexStoreError(f"The Milvus library {self.name!r} at {redact(self.uri)} is incomplete "
                                  f"(it has {', '.join(sorted(mine & have))} only). Drop those collections.")
        dim = int(self.embedder.dim)
        large = "://" in self.uri
        for kind, schema in zip(("chunks", "sentences", "reports"), _schemas(self.client, dim)):
            self._call("create_collection", self.names[kind], schema=schema,
                       index_params=_index_params(self.client, kind, large))
            self._call("load_collection", self.names[kind])
        meta = dict(self._expected(), generation=uuid.uuid4().hex, dim=dim)
        self._put_meta(meta)
        return meta

    def _put_meta(self, meta: dict) -> None:
        self._call("upsert", self.names["reports"], [
            {"pk": "meta", "kind": "meta", "report": "", "seq": 0, "region": "", "year": 0,
             "body": json.dumps(meta, ensure_ascii=False), "v": [0.0, 0.0]}])

    def open(self, seeds: list[Path] = (), progress: bool = True) -> "MilvusLibrary":
        meta = self._ensure()
        for kind in self.names.values():
            self._call("load_collection", kind)
        stale = self._load(meta)
        if stale:
            log.warning("Re-embedding in the Milvus library %s: %s", self.name,
                        "; ".join(f"{rid}: {why}" for rid, why in stale.items()))
            self._rewrite(stale, progress)
        if not self.entries and seeds:
            self.add(seeds, progress=progress)
        return self

    def _load(self, meta: dict) -> dict[str, str]:
        """Read every report's record and text; returns the reports whose vectors must be made again."""
        rows = self._call("query", self.names["reports"], filter='kind == "report"',
                          output_fields=["report", "seq", "body"], limit=MAX_LIMIT)
        rows.sort(key=lambda r: r["seq"])
        same_setup = all(meta.get(k) == v for k, v in self._expected().items())
        entries, stale, first = [], {}, 0
        for row in rows:
            rec = json.loads(row["body"])
            rid = rec["id"]
            entry = reopen(self._text(rid, rec.get("pieces", 0)), rec, self.params, first)
            first += len(entry.chunks)
            if not same_setup:
                stale[rid] = "built with another model or chunking"
            elif chunks_sha256(entry.chunks) != rec.get("chunks_sha256"):
                stale[rid] = "the parser or chunker has changed"
            entries.append(entry)
        self.entries, self.generation = entries, meta.get("generation", "")
        self._checked, self._stale = time.monotonic(), False
        self.index = self._store() if entries and not stale else None
        return stale

    def _text(self, rid: str, pieces: int) -> str:
        rows = self._call("query", self.names["reports"], filter=f'kind == "text" and report == {_quote(rid)}',
                          output_fields=["seq", "body"], limit=MAX_LIMIT)
        if len(rows) != pieces:
            raise IndexStoreError(f"The text of report {rid} in the Milvus library {self.name} is incomplete "
                                  f"({len(rows)} of {pieces} pieces).")
        return "".join(r["body"] for r in sorted(rows, key=lambda r: r["seq"]))

    def _store(self) -> MilvusStore:
        chunks, owners, counts = [], [], []
        for e in self.entries:
            owners.append(sentence_chunks(e.doc, e.chunks) - e.chunks[0].chunk_id + len(chunks))
            chunks += e.chunks
            counts.append((e.report.id, len(e.chunks), len(e.doc.sentences)))
        # The question's words are looked up in the same words as bm25s's vocabulary in the FAISS store.
        vocab = {t for c in chunks for t in (lexical_tokens(c) or ["∅"])}
        return MilvusStore(self.client, self.names, chunks, parts_of(counts), np.concatenate(owners),
                           Glossary.build(vocab), vocab, guard=self._guard)

    # -- writing -----------------------------------------------------------------
    @contextlib.contextmanager
    def write_lock(self):
        """No lock across processes (Milvus Lite serves one process; a server wants one writer, see the
        README); the library is brought up to date first, as the FAISS library does under its lock."""
        meta = self._ensure()
        if self.live() != self.generation:
            self._load(meta)
        yield

    def commit(self, entries: list[Entry], added: list[Entry], removed: list[Entry], progress: bool) -> None:
        """Delete the removed reports' rows, insert the added ones', then bump the generation; the
        entries in memory are renumbered, not parsed again from the stored texts."""
        for e in removed:
            self._delete(e.report.id)
        for e in added:
            self._insert(e, progress)
        meta = self._bump()
        first, kept = 0, []
        for e in entries:
            # Milvus holds the vectors, and keeps no original file: neither stays in memory.
            kept.append(replace(e, chunks=renumbered(e.chunks, first), chunk_vectors=None, sentence_vectors=None,
                                source=None))
            first += len(e.chunks)
        self.entries, self.generation = kept, meta["generation"]
        self._checked = time.monotonic()
        self.index = self._store() if kept else None

    def append_log(self, changes: list[Change]) -> None:
        now = time.time_ns()
        self._insert_rows("reports", [
            {"pk": f"log#{uuid.uuid4().hex}", "kind": "log", "report": c.report, "seq": now + i, "region": "",
             "year": 0, "body": json.dumps(c.to_dict(), ensure_ascii=False), "v": [0.0, 0.0]}
            for i, c in enumerate(changes)])

    def log(self) -> list[Change]:
        self._ensure()
        rows = self._call("query", self.names["reports"], filter='kind == "log"', output_fields=["seq", "body"],
                          limit=MAX_LIMIT)
        return [Change(**json.loads(r["body"])) for r in sorted(rows, key=lambda r: r["seq"])]

    def rebuild(self, progress: bool = True) -> None:
        self._rewrite({e.report.id: "on request" for e in self.entries}, progress)

    def _rewrite(self, stale: dict[str, str], progress: bool) -> None:
        """Embed the reports `stale` again from their stored texts ("*": all of them)."""
        meta = self._meta() or {}
        for e in self.entries:
            if e.report.id in stale or "*" in stale:
                self._delete(e.report.id, keep_text=False)
                self._insert(replace(e, report=replace(e.report, chunks=len(e.chunks))), progress)
        self._load(self._bump(dict(meta, **self._expected())))

    def _bump(self, meta: dict | None = None) -> dict:
        meta = dict(meta or self._meta() or self._expected(), generation=uuid.uuid4().hex)
        self._put_meta(meta)
        return meta

    def _insert(self, entry: Entry, progress: bool) -> None:
        """A report's texts, chunks and sentences, then its record: a report is there once its record is.
        An entry not embedded yet (a stale one, re-embedded from its stored text) is embedded here."""
        record, raw, doc, chunks = entry.report, entry.raw, entry.doc, entry.chunks
        rid = record.id
        cv, sv = (entry.chunk_vectors, entry.sentence_vectors) if entry.chunk_vectors is not None else \
            embed(self.embedder, doc, chunks, progress)
        cv, sv = np.asarray(cv, np.float32), np.asarray(sv, np.float32)
        region, year = doc.meta.region_code or record.region or "", int(record.year or 0)
        self._delete(rid)        # leftovers of an add that stopped half way
        pieces = [raw[i:i + TEXT_PIECE] for i in range(0, len(raw), TEXT_PIECE)] or [""]
        self._insert_rows("reports", [
            {"pk": f"{rid}#text#{i}", "kind": "text", "report": rid, "seq": i, "region": region, "year": year,
             "body": piece, "v": [0.0, 0.0]} for i, piece in enumerate(pieces)])
        self._insert_rows("chunks", [
            {"pk": f"{rid}/{n}", "report": rid, "region": region, "year": year, "n": n,
             "text": c.text[:TEXT_PIECE], "context": c.context[:TEXT_PIECE], "vector": cv[n].tolist()}
            for n, c in enumerate(chunks)])
        self._insert_rows("sentences", [{"pk": f"{rid}/{n}", "report": rid, "n": n, "vector": sv[n].tolist()}
                                        for n in range(len(sv))])
        seq = max([e_seq for e_seq in self._seqs()] or [0]) + 1
        body = dict(record.to_dict(), chunks_sha256=chunks_sha256(chunks),
                    pieces=len(pieces))
        self._insert_rows("reports", [{"pk": f"report#{rid}", "kind": "report", "report": rid, "seq": seq,
                                       "region": region, "year": year,
                                       "body": json.dumps(body, ensure_ascii=False), "v": [0.0, 0.0]}])

    def _seqs(self) -> list[int]:
        rows = self._call("query", self.names["reports"], filter='kind == "report"', output_fields=["seq"],
                          limit=MAX_LIMIT)
        return [int(r["seq"]) for r in rows]

    def _insert_rows(self, kind: str, rows: list[dict]) -> None:
        for i in range(0, len(rows), INSERT_BATCH):
            self._call("insert", self.names[kind], rows[i:i + INSERT_BATCH])

    def _delete(self, rid: str, keep_text: bool = False) -> None:
        """A report's record first (so it is gone for readers at once), then everything else of it."""
        self._call("delete", self.names["reports"], filter=f'kind == "report" and report == {_quote(rid)}')
        self._call("delete", self.names["chunks"], filter=f"report == {_quote(rid)}")
        self._call("delete", self.names["sentences"], filter=f"report == {_quote(rid)}")
        if not keep_text:
            self._call("delete", self.names["reports"], filter=f'kind == "text" and report == {_quote(rid)}')

    def drop(self) -> None:
        """Remove the library's collections (tests; `python -m qa` has no command for it)."""
        for name in self.names.values():
            if self._call("has_collection", name):
                self._call("drop_collection", name)
        self.entries, self.index, self.generation = [], None, ""

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass
            self._client = None

