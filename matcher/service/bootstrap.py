"""The one place that wires the product: a store, the configured embedding model behind the
store's cache, the matching state, the engine, and the repositories of keys, audit rows and
batch jobs. The CLI, the API and the merge process all start here, and here the process's files
become private: everything it creates is readable by its owner alone (umask 077)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matcher.domain.errors import MatcherError, StoreFull
from matcher.embed.backends import backend_model_id, kernel_tag, usable_cpus
from matcher.embed.base import Embedder
from matcher.embed.cache import CachedEmbedder
from matcher.embed.combined import CombinedEmbedder, combined_model_id
from matcher.embed.sentence import DEFAULT_MODEL_ID, SentenceTransformerEmbedder
from matcher.index import half
from matcher.index.state import MatchingState, StatePolicy, merge
from matcher.service.batches import BatchJobs
from matcher.service.config import Config
from matcher.service.engine import Engine
from matcher.store.audit import AuditLog
from matcher.store.base import ServiceStore, Store
from matcher.store.jobs import JobStore
from matcher.store.keys import KeyStore
from matcher.store.postgres import is_postgres_url, redact
from matcher.store.queue import JobQueue
from matcher.store.space import DiskSpace, is_disk_full
from matcher.store.sqlite import SqliteStore

__all__ = [
    "PRIVATE_UMASK", "Services", "bootstrap", "configure_threads", "model_embedder", "model_id_for", "open_store",
    "restrict_permissions",
]

PRIVATE_UMASK = 0o077  # files 0600, folders 0700
_DISK_FULL_EXIT = 28  # the merge process's exit code when the disk is full (ENOSPC's number)


@dataclass
class Services:
    """Everything the use cases need (`matcher.service.profiles`, the engine's queries, batches)."""

    config: Config
    store: ServiceStore
    engine: Engine
    keys: KeyStore
    audit: AuditLog
    batches: BatchJobs

    def close(self) -> None:
        """Stop background work, write queued audit rows, close the store."""
        self.engine.stop_background()
        self.batches.close()
        self.audit.flush()
        self.store.close()


def model_id_for(config: Config) -> str:
    """The embedding cache key: the model's id, marked with its numeric family when that differs (int8);
    in the quality mode (MATCHER_MODELS), its models' keys together."""
    if config.models:
        return combined_model_id([_single_model_id(path, None, config.backend) for path in config.models])
    return _single_model_id(config.model_path, config.model_id, config.backend)


def model_embedder(config: Config, store: Store, path: Path | None, *, progress: bool = False) -> CachedEmbedder:
    """Another model (a folder; None: the packaged one) on the configured backend, through the store's cache."""
    return CachedEmbedder(
        store, _single_model_id(path, None, config.backend),
        lambda: SentenceTransformerEmbedder(path, batch_size=config.batch_size, threads=config.threads,
                                            backend=config.backend),
        progress=progress, kernel=kernel_tag(config.backend),
    )


def _single_model_id(path: Path | None, model_id: str | None, backend: str) -> str:
    local = None if path is None else f"local:{path.resolve()}"
    return backend_model_id(model_id or local or DEFAULT_MODEL_ID, backend)


def open_store(config: Config) -> ServiceStore:
    """The store `config.store` names by its scheme (postgresql://), else SQLite in `config.home`.
    A database that cannot be reached is one `MatcherError` line."""
    if config.store is None:
        return SqliteStore(config.home)
    if is_postgres_url(config.store):
        from matcher.store.postgres import PostgresStore

        return PostgresStore(config.store, config.home)
    raise MatcherError(f"MATCHER_STORE '{redact(config.store)}' is not a postgresql:// URL "
                       "(unset it for the SQLite store in MATCHER_HOME)")


def bootstrap(
    config: Config,
    *,
    embedder_factory: Callable[[], Embedder] | None = None,
    model_id: str | None = None,
    policy: StatePolicy | None = None,
    progress: bool = False,
) -> Services:
    """The services over the store at `config.home`. `embedder_factory` replaces the configured
    model (a fake in tests: merges then run in a thread instead of a separate process)."""
    restrict_permissions()
    configure_threads(config)
    store = open_store(config)
    own_model = embedder_factory is None
    embedder = CachedEmbedder(
        store,
        model_id or model_id_for(config),
        embedder_factory or _model_factory(config),
        progress=progress,
        kernel=kernel_tag(config.backend) if own_model else "custom",
    )
    state = MatchingState(store, embedder, index=config.index, index_url=config.index_url, policy=policy)
    background = _merge_in_a_process(config, store.space) if own_model else _merge_in_a_thread(store.space)
    engine = Engine(config, store, embedder, state, background_merge=background)
    batches = BatchJobs(JobStore(store), store.home / "batches", retention_days=config.result_retention_days,
                        queue=_queue(store), dask=config.dask)
    return Services(config, store, engine, KeyStore(store), AuditLog(store), batches)


def _queue(store: ServiceStore) -> JobQueue | None:
    """On a shared store batch jobs go through a queue that `matcher worker` processes run."""
    from matcher.store.postgres import PostgresStore

    return JobQueue(store) if isinstance(store, PostgresStore) else None


def restrict_permissions() -> None:
    """Everything this process creates from now on is its owner's alone: the store and its files,
    snapshots, batch results, and the exports the CLI writes (the store also narrows its folder
    when it opens, for a store made before)."""
    os.umask(PRIVATE_UMASK)


def configure_threads(config: Config) -> None:
    """The process-wide thread settings, once, here: torch runs the vector scans on one thread,
    unless it also embeds (the torch backend), which gets `config.threads` (default: every CPU)."""
    half.configure(threads=(config.threads or usable_cpus()) if config.backend == "torch" else 1)


def _model_factory(config: Config) -> Callable[[], Embedder]:
    def one(path: Path | None, model_id: str | None) -> Embedder:
        return SentenceTransformerEmbedder(
            path, model_id=model_id, batch_size=config.batch_size, threads=config.threads, backend=config.backend,
        )

    def make() -> Embedder:
        if config.models:
            return CombinedEmbedder([one(path, None) for path in config.models])
        return one(config.model_path, config.model_id)

    return make


def _merge_in_a_process(config: Config, space: DiskSpace) -> Callable[[MatchingState, bool], None]:
    """Run each merge in a fresh process (spawned: no state shared), so a merge never competes with
    queries for the interpreter. A snapshot that cannot be written for lack of space is a full
    disk to this process too (`space`)."""

    def run(state: MatchingState, refit: bool) -> None:
        process = multiprocessing.get_context("spawn").Process(
            target=_merge_main, args=(config, refit), name="matcher-merge", daemon=True
        )
        process.start()
        process.join()
        if process.exitcode == _DISK_FULL_EXIT:
            space.failed()
            raise StoreFull()
        if process.exitcode != 0:
            raise MatcherError(f"the merge process exited with code {process.exitcode}")
        space.written()

    return run


def _merge_in_a_thread(space: DiskSpace) -> Callable[[MatchingState, bool], None]:
    """Run each merge in the calling thread (with a fake model in tests), a full disk noted in `space`."""

    def run(state: MatchingState, refit: bool) -> None:
        with space.writing():
            merge(state.store, state.embedder, index=state.index_kind, index_url=state.index_url, refit=refit)

    return run


def _merge_main(config: Config, refit: bool) -> None:
    """The merge process: at a low CPU priority (serving comes first), on the configured model."""
    os.nice(10)
    services = bootstrap(config)
    try:
        merge(services.store, services.engine.embedder, index=config.index, index_url=config.index_url, refit=refit)
    except Exception as err:
        if is_disk_full(err):
            raise SystemExit(_DISK_FULL_EXIT) from err
        raise
    finally:
        services.store.close()


