"""The engine: store + cached embedder + the matching state, behind a few methods the CLI and API use.

This is where external ids and country names are translated for the pure core. Writes are stored,
then made visible in the matching state before `add` or `delete` returns (`matcher.index.state`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from matcher.assemble.calls import CallRequest, ConsortiumResult, make_aspects, parse_group_min, solve_call
from matcher.assemble.consortium import TeamRules
from matcher.domain.countries import expand_countries
from matcher.domain.errors import InfeasibleConsortium, InvalidQuery, MatcherError, ProfileExists, ProfileNotFound
from matcher.domain.profiles import Profile
from matcher.embed.cache import CachedEmbedder
from matcher.embed.chunking import split_sentences
from matcher.index import half
from matcher.index.corpus import Corpus
from matcher.index.segment import corpus_texts
from matcher.index.state import InlineMerger, MatchingState, ThreadMerger, merge
from matcher.rank.matching import MAX_K, Suggestion, match
from matcher.score.query import PreparedQuery
from matcher.score.rules import MatchRules
from matcher.service.config import Config
from matcher.store.base import Store, UpsertResult

log = logging.getLogger("matcher.service.engine")

__all__ = ["AddResult", "Engine", "MatchRequest", "MAX_TEXT_CHARS", "MAX_ASPECTS"]

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


@dataclass(frozen=True)
class AddResult(UpsertResult):
    """What `Engine.add` did: the store's counts, and `repaired`, how many texts of unchanged
    profiles had no cached vectors and were embedded now (see `Engine.add`)."""

    repaired: int = 0


MergeRunner = Callable[[MatchingState, bool], None]


class Engine:
    """One store and its matching state: queries, and writes made visible at once. Built by
    `matcher.service.bootstrap`. One-shot use (CLI, tests) refreshes on every read and merges
    inline; `start_background()` (the server) refreshes and merges off the request path, running
    each merge with `background_merge` (a separate process with the real model)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        embedder: CachedEmbedder,
        state: MatchingState,
        *,
        background_merge: MergeRunner | None = None,
    ):
        self.config = config
        self.store = store
        self.embedder = embedder
        self.state = state
        self._background_merge = background_merge
        self._poller: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()  # set when the store says another process changed profiles

    # -- state ----------------------------------------------------------------------------------

    def corpus(self) -> Corpus:
        """The current matching state. Without a background refresher it first catches up with
        the store (one cheap query when nothing changed)."""
        view = self.state.view()
        if view is None or self._poller is None:
            view = self.state.refresh()
        if view is None:
            raise MatcherError("the store is empty: add profiles first (`matcher ingest FILE` or `matcher demo`)")
        return view

    def active_profiles(self) -> int:
        """Profiles in the current matching state, from memory (0 before it is opened)."""
        view = self.state.view()
        return 0 if view is None else view.n_active

    def start_background(self) -> None:
        """Serve mode: merges run off the request path (see the class) and a thread picks up other
        processes' writes every second or two, or as soon as a shared store notifies them."""
        if self._poller is not None:
            return
        self.state.merger = ThreadMerger(self._background_merge)
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, name="state-refresh", daemon=True)
        self._poller.start()
        listen = getattr(self.store, "listen", None)  # a shared store (PostgreSQL) notifies its changes
        if listen is not None:
            self._listener = threading.Thread(target=listen, args=(self._stop, lambda _: self._wake.set()),
                                              name="store-listen", daemon=True)
            self._listener.start()

    def stop_background(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in (self._poller, self._listener):
            if thread is not None:
                thread.join(10)
        self._poller = self._listener = None
        self.state.merger.wait(60)
        self.state.merger = InlineMerger()

    def _poll(self) -> None:
        """Catch up every `poll_seconds`, and at once when the store notifies a change."""
        while not self._stop.is_set():
            self._wake.wait(self.state.policy.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.state.refresh(paced=True)
            except Exception as err:  # the current view stays in use
                log.warning("catching up with the store failed: %s", err)

    def warm(self) -> None:
        """Load what the first queries need (the vector kernels, the lexical vocabulary, the model),
        so that they do not wait for it; the server runs this in the background at start."""
        half.warm()
        try:
            self.corpus().fitted.lexical.warm()
        except MatcherError:  # an empty store: nothing to look up yet
            pass
        self.embedder.load()

    def wait_for_merge(self, timeout: float | None = None) -> bool:
        """Block until no merge of the matching state is running."""
        return self.state.merger.wait(timeout)

    def settle(self, *, low_priority: bool = False) -> None:
        """After a bulk write (CLI ingest): when the writes since the snapshot are more than a merge
        would let pile up, fold them in now, so the next process to open the state loads a snapshot
        instead of replaying every change. `low_priority` lowers this process's CPU priority first
        (a one-shot process: the merge is housekeeping, a server on the machine comes first)."""
        if low_priority:
            os.nice(5)
        info = self.state.snapshots.current()
        policy = self.state.policy
        if info is None:
            merge(self.store, self.embedder, index=self.config.index, index_url=self.config.index_url)
            return
        changed = self.store.count_changed_since(info.generation)
        if changed > policy.fold_threshold(info.rows):
            refit = info.changed_since_fit + changed > policy.refit_share * max(info.fit_rows, 1)
            merge(self.store, self.embedder, index=self.config.index, index_url=self.config.index_url, refit=refit)

    # -- writes ---------------------------------------------------------------------------------

    def add(self, profiles: Iterable[Profile], *, create_only: bool = False, chunk: int = 500) -> AddResult:
        """Embed the new texts of changed profiles (through the cache), store the profiles, and make
        them visible, `chunk` profiles per transaction (a bulk write never holds the store's write
        lock for long). Texts are embedded before their profiles are stored, so a stored profile
        always has its vectors, and an interrupted run keeps every chunk it finished.

        Unchanged profiles are not written again, but their texts are looked up in the cache: a
        store written by an earlier version, which stored profiles before embedding them, can hold
        profiles an interrupted ingest left without vectors. Those texts are embedded here, so that
        no match has to, and counted in `AddResult.repaired`."""
        profiles = list(profiles)
        if create_only:
            stored = self.store.content_hashes([p.id for p in profiles])
            if taken := next((p.id for p in profiles if p.id in stored), None):
                raise ProfileExists(taken)
        added = updated = unchanged = repaired = 0
        versions: dict[str, int] = {}
        for start in range(0, len(profiles), chunk):
            part = profiles[start : start + chunk]
            stored = self.store.content_hashes([p.id for p in part])
            fresh = [stored.get(p.id) != p.content_hash() for p in part]
            kept = corpus_texts(p for p, new in zip(part, fresh, strict=True) if not new)
            left = self.embedder.missing(kept) if kept else 0
            texts = corpus_texts(p for p, new in zip(part, fresh, strict=True) if new) + (kept if left else [])
            if texts:
                self.embedder.embed(texts, desc="embedding works")
            result = self.store.upsert(part, create_only=create_only)
            self.state.apply(part, result.versions)
            added, updated, unchanged = added + result.added, updated + result.updated, unchanged + result.unchanged
            repaired += left
            versions.update(result.versions)
        return AddResult(added, updated, unchanged, versions, repaired)

    def delete(self, profile_id: str) -> None:
        """Erase a profile: store rows and cached vectors only it used go now, its rows leave the
        matching state at once, and no file of the state holds them when this returns. The merge
        the deletion triggers writes a snapshot without them (when serving, in the background:
        this waits for it). When no merge reached the deletion (one failed, or ran on an earlier
        read), it runs here; when even that fails, the snapshot is removed instead, and the next
        process to open the state builds it again from the store."""
        version = self.store.delete(profile_id)
        if self.state.view() is None:
            self.state.refresh()  # not open yet (a one-shot command): opening replays the deletion and merges
        else:
            self.state.remove(profile_id, version)
        snapshots = self.state.snapshots
        for _ in range(1200):  # up to a minute while merges run (writers elsewhere keep asking for more)
            idle = self.state.merger.wait(0.05)
            info = snapshots.current()
            if info is None or info.generation >= version:
                with snapshots.lock():  # held by the merge that wrote it until it removed the older ones
                    return
            if idle:
                break
        try:
            merge(self.store, self.embedder, index=self.config.index, index_url=self.config.index_url)
            self.state.refresh()
        except Exception as err:
            log.warning("the erasure's merge failed (%s); removing the snapshot that still holds the profile", err)
            with snapshots.lock():
                current = snapshots.current()
                if current is not None and current.generation < version:
                    snapshots.remove_all()

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
        # ids first: an unknown one is answered at once, before any embedding or solving
        must = [self._row(corpus, pid) for pid in dict.fromkeys(request.must_include)]
        excluded = {self._row(corpus, pid) for pid in request.exclude}
        if clash := [corpus.ids[r] for r in must if r in excluded]:
            raise InfeasibleConsortium("must_include", f"{', '.join(clash)} is both required and excluded")
        aspects = make_aspects(request)
        vectors = self.embedder.embed_uncached([a.text for a in aspects])
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
