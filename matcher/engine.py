"""The engine: store + cached embedder + the current corpus, behind a few methods the CLI and API use.

This is where external ids and country names are translated for the pure core, and where writes
refresh the matching state (a deletion takes effect before `delete` returns).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from matcher.backends import backend_model_id
from matcher.calls import CallRequest, ConsortiumResult, make_aspects, parse_group_min, solve_call
from matcher.chunking import split_sentences
from matcher.config import Config
from matcher.consortium import TeamRules
from matcher.corpus import Corpus, CorpusBuilder, corpus_texts, profile_document
from matcher.countries import expand_countries
from matcher.embedding import DEFAULT_MODEL_ID, Embedder, SentenceTransformerEmbedder
from matcher.errors import InfeasibleConsortium, InvalidQuery, MatcherError, ProfileNotFound
from matcher.lexical import LexicalIndex
from matcher.matching import MAX_K, PreparedQuery, Suggestion, match
from matcher.profiles import Profile
from matcher.rules import MatchRules
from matcher.store import Store, UpsertResult, save_npy_atomic, text_hash, write_text_atomic
from matcher.vectors import CachedEmbedder

log = logging.getLogger("matcher.engine")

__all__ = ["Engine", "MatchRequest", "MAX_TEXT_CHARS", "MAX_ASPECTS"]

MAX_TEXT_CHARS = 20_000
MAX_ASPECTS = 12
MAX_TEAM = 30
MAX_TEAMS = 10


@dataclass(frozen=True)
class MatchRequest:
    """A match as a user asks it: external ids and country names, not rows."""

    profile_id: str | None = None
    text: str | None = None
    k: int = 10
    countries: tuple[str, ...] = ()
    exclude_countries: tuple[str, ...] = ()
    exclude_own_country: bool = True
    exclude_coauthors: bool = False
    exclude_same_institution: bool = False
    kinds: tuple[str, ...] = ()
    diversity: float | None = None
    extra: dict[str, object] = field(default_factory=dict)


def _default_factory(config: Config) -> Callable[[], Embedder]:
    def make() -> Embedder:
        return SentenceTransformerEmbedder(
            config.model_path, model_id=config.model_id, batch_size=config.batch_size, threads=config.threads,
            backend=config.backend,
        )

    return make


def model_id_for(config: Config) -> str:
    """The embedding cache key: the model's id, marked with the backend when its vectors differ (int8)."""
    local = None if config.model_path is None else f"local:{config.model_path.resolve()}"
    return backend_model_id(config.model_id or local or DEFAULT_MODEL_ID, config.backend)


class Engine:
    def __init__(
        self,
        config: Config,
        *,
        store: Store | None = None,
        embedder_factory: Callable[[], Embedder] | None = None,
        model_id: str | None = None,
        progress: bool = False,
    ):
        self.config = config
        self.store = store or Store(config.home)
        self.embedder = CachedEmbedder(
            self.store,
            model_id or model_id_for(config),
            embedder_factory or _default_factory(config),
            progress=progress,
        )
        self._corpus: Corpus | None = None
        self._rebuilder: threading.Thread | None = None
        self._lock = threading.RLock()

    # -- state ----------------------------------------------------------------------------------

    def corpus(self) -> Corpus:
        """The matching state for the store's current generation, built (or loaded) on demand."""
        current = self._corpus
        generation = self.store.generation()
        if current is not None and current.generation == generation:
            return current
        with self._lock:
            if self._corpus is None or self._corpus.generation != generation:
                self._corpus = self._build()
            return self._corpus

    def _snapshot_paths(self) -> tuple[Path, Path]:
        slug = hashlib.sha1(self.embedder.model_id.encode()).hexdigest()[:12]
        directory = self.store.snapshot_dir / slug
        return directory / "work_vectors.npy", directory / "meta.json"

    def _build(self) -> Corpus:
        """Stream the store through a `CorpusBuilder` (one pass: compact fields, lexical index and
        the digest of every text), then take the vectors from the snapshot, or else from the
        embedding cache in a second pass over the same read view. Abstracts are never all in memory."""
        with self.store.reader() as view:
            n_profiles, generation = view.count(), view.generation()
            if not n_profiles:
                raise MatcherError("the store is empty: add profiles first (`matcher ingest FILE` or `matcher demo`)")
            builder = CorpusBuilder()
            digest = hashlib.sha256()

            def documents() -> Iterator[str]:
                for profile in view.profiles():
                    for text in builder.add(profile):
                        digest.update(text_hash(text).encode())
                    yield profile_document(profile)

            lexical = LexicalIndex().fit(documents(), n_documents=n_profiles)
            vectors_path, meta_path = self._snapshot_paths()
            vectors = self._load_snapshot(vectors_path, meta_path, digest.hexdigest(), builder.n_texts)
            if vectors is None:
                vectors = self._embed_all(view.profiles(), builder.n_texts)
                save_npy_atomic(vectors_path, vectors)
                meta = {
                    "model_id": self.embedder.model_id, "texts_digest": digest.hexdigest(), "generation": generation,
                }
                write_text_atomic(meta_path, json.dumps(meta))
        return builder.finish(vectors, lexical, generation=generation)

    def _embed_all(self, profiles: Iterable[Profile], n_texts: int, chunk: int = 2000) -> np.ndarray:
        """Every text's vector (float16, corpus order), through the cache, `chunk` profiles at a time."""
        out: np.ndarray | None = None
        filled = 0
        profiles = iter(profiles)
        while batch := list(itertools.islice(profiles, chunk)):
            vectors = self.embedder.embed(corpus_texts(batch), desc="embedding works")
            if out is None:
                out = np.empty((n_texts, vectors.shape[1]), dtype=np.float16)
            out[filled : filled + len(vectors)] = vectors
            filled += len(vectors)
        if out is None or filled != n_texts:
            raise RuntimeError(f"the store gave {filled} texts on the second pass, {n_texts} on the first")
        return out

    def _load_snapshot(self, vectors_path: Path, meta_path: Path, digest: str, n: int) -> np.ndarray | None:
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("texts_digest") != digest or meta.get("model_id") != self.embedder.model_id:
                return None
            vectors = np.load(vectors_path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return vectors if vectors.ndim == 2 and len(vectors) == n else None

    def active_profiles(self) -> int:
        """Profiles in the current matching state, from memory (0 before the first build)."""
        corpus = self._corpus
        return 0 if corpus is None else int(corpus.active.sum())

    # -- writes ---------------------------------------------------------------------------------

    def add(self, profiles: Iterable[Profile], *, create_only: bool = False) -> UpsertResult:
        """Store profiles, embed their new texts (through the cache), refresh the corpus."""
        profiles = list(profiles)
        with self._lock:
            result = self.store.upsert(profiles, create_only=create_only)
            texts = corpus_texts(profiles)
            if texts and (result.added or result.updated):
                self.embedder.embed(texts, desc="embedding works")
        return result

    def delete(self, profile_id: str) -> None:
        """Erase a profile: store rows, cached vectors only it used, and the vector snapshot (which
        held its rows; it is rebuilt from the cache on the next build). Effective before returning."""
        with self._lock:
            self.store.delete(profile_id)
            for path in self._snapshot_paths():
                path.unlink(missing_ok=True)
            corpus = self._corpus
            if corpus is not None and profile_id in corpus.row_of:
                self._corpus = corpus.without(profile_id, generation=self.store.generation())
                # the masked corpus still holds the vectors in memory: rebuild without them, off the
                # request path (queries keep using the masked corpus meanwhile)
                self._rebuilder = threading.Thread(target=self._rebuild, name="corpus-rebuild", daemon=True)
                self._rebuilder.start()

    def _rebuild(self) -> None:
        try:
            with self._lock:
                if self.store.count():
                    self._corpus = self._build()
        except Exception as err:  # the masked corpus stays in use; the next write or start rebuilds
            log.warning("background rebuild after a deletion failed: %s", err)

    def wait_for_rebuild(self, timeout: float | None = None) -> None:
        """Block until a background rebuild (after a deletion) has finished."""
        if self._rebuilder is not None:
            self._rebuilder.join(timeout)

    # -- queries --------------------------------------------------------------------------------

    def rules(self, request: MatchRequest) -> MatchRules:
        return MatchRules(
            exclude_own_country=request.exclude_own_country,
            countries=expand_countries(request.countries) if request.countries else None,
            exclude_countries=expand_countries(request.exclude_countries),
            exclude_coauthors=request.exclude_coauthors,
            exclude_same_institution=request.exclude_same_institution,
            kinds=frozenset(request.kinds) if request.kinds else None,
        )

    def prepare(self, request: MatchRequest, corpus: Corpus) -> PreparedQuery:
        text = (request.text or "").strip() or None
        if request.profile_id is None and text is None:
            raise InvalidQuery("give a profile id, a text, or both")
        if text is not None and len(text) > MAX_TEXT_CHARS:
            raise InvalidQuery(f"text is longer than {MAX_TEXT_CHARS} characters")
        if not 1 <= request.k <= MAX_K:
            raise InvalidQuery(f"k must be between 1 and {MAX_K}, got {request.k}")
        requester = None
        if request.profile_id is not None:
            requester = corpus.row_of.get(request.profile_id)
            if requester is None or not corpus.active[requester]:
                raise ProfileNotFound(request.profile_id)
        text_vector = aspect_vectors = None
        aspects: tuple[str, ...] = ()
        if text is not None:
            sentences = [s for s in split_sentences(text) if len(s.split()) >= 3][:MAX_ASPECTS]
            aspects = tuple(sentences) if len(sentences) > 1 else (text,)
            vectors = self.embedder.embed_uncached([text, *aspects] if len(aspects) > 1 else [text])
            text_vector = vectors[0]
            aspect_vectors = vectors[1:] if len(aspects) > 1 else vectors[:1]
        diversity = self.config.diversity if request.diversity is None else request.diversity
        return PreparedQuery(
            requester=requester, text=text, text_vector=text_vector, aspects=aspects,
            aspect_vectors=aspect_vectors, k=request.k, rules=self.rules(request), diversity=diversity,
        )

    def assemble(self, request: CallRequest) -> ConsortiumResult:
        """Teams for a funding call: aspects, the pool, the rules, then the solver."""
        if not 1 <= request.min_size <= request.max_size <= MAX_TEAM:
            raise InvalidQuery(f"team size must satisfy 1 <= min <= max <= {MAX_TEAM}")
        if not 1 <= request.teams <= MAX_TEAMS:
            raise InvalidQuery(f"teams must be between 1 and {MAX_TEAMS}")
        corpus = self.corpus()
        aspects = make_aspects(request)
        vectors = self.embedder.embed_uncached([a.text for a in aspects])
        must = [self._row(corpus, pid) for pid in dict.fromkeys(request.must_include)]
        excluded = {self._row(corpus, pid) for pid in request.exclude}
        if clash := [corpus.ids[r] for r in must if r in excluded]:
            raise InfeasibleConsortium("must_include", f"{', '.join(clash)} is both required and excluded")
        mask = corpus.active.copy()
        if request.pool_ids:
            mask &= np.isin(np.arange(len(corpus)), [self._row(corpus, pid) for pid in request.pool_ids])
        if request.pool_countries:
            mask &= np.isin(corpus.countries, list(expand_countries(request.pool_countries)))
        if request.kinds:
            mask &= np.isin(corpus.kinds, list(request.kinds))
        mask[list(excluded)] = False
        groups = []
        for spec in request.group_min:
            name, least = parse_group_min(spec)
            groups.append((name, expand_countries([name]), least))
        rules = TeamRules(
            min_size=request.min_size, max_size=request.max_size, min_countries=request.min_countries,
            max_per_country=request.max_per_country, group_min=tuple(groups), must_include=tuple(must),
        )
        return solve_call(corpus, request, aspects, vectors, np.flatnonzero(mask), rules)

    @staticmethod
    def _row(corpus: Corpus, profile_id: str) -> int:
        row = corpus.row_of.get(profile_id)
        if row is None or not corpus.active[row]:
            raise ProfileNotFound(profile_id)
        return row

    def match(self, request: MatchRequest) -> list[Suggestion]:
        corpus = self.corpus()
        return match(corpus, self.prepare(request, corpus), self.config.scoring)
