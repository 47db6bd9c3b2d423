"""Test doubles: a deterministic embedder that needs no model, for fast unit tests; a real server
on loopback for soak runs."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from matcher.embed.base import normalise_rows

__all__ = ["FakeEmbedder", "free_port", "served", "stop"]

_WORD = re.compile(r"[a-z0-9]{3,}")


class FakeEmbedder:
    """Hashes words into a fixed number of dimensions: texts sharing words get close vectors.

    Deterministic across processes (sha1, not `hash()`), a few microseconds per text.
    """

    def __init__(self, dim: int = 64, model_id: str = "fake-hash-64"):
        self.dim = dim
        self.model_id = model_id
        self.calls = 0
        self.texts_embedded = 0

    def _bucket(self, word: str) -> tuple[int, float]:
        digest = hashlib.sha1(word.encode()).digest()
        return int.from_bytes(digest[:4], "little") % self.dim, 1.0 if digest[4] & 1 else -1.0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                column, sign = self._bucket(word)
                out[row, column] += sign
            if not out[row].any():
                out[row, 0] = 1.0
        return normalise_rows(out)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for test and bench servers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(env: dict[str, str], cwd: Path, *, wait_s: float = 120.0) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`python -m matcher serve` on 127.0.0.1 with `env`, once `/health` answers: (port, process).
    Stopped on exit (killed if requests are still running after 30 s)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "matcher", "serve", "--port", str(port)], env=env, cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield port, server
    finally:
        stop(server)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child process; kill it if it has not ended 30 s later."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)
