"""Domain-tuned embeddings: fine-tune the sentence model on pairs the pool's own history holds.

Pairs (`training_pairs`), each two texts that belong together:
- *same profile*: two works of one person or organisation;
- *partners*: a work of each of two profiles that worked together (a shared work: co-authors, or
  members of one project), other than the shared work itself;
- *title/abstract*: a work's title and its abstract.
The loss is MultipleNegativesRankingLoss (in-batch negatives, both directions, scale 20): in each
batch, every text must find its own partner among all the others. Batches never hold one text twice.

On a CPU the whole model is slow to train (about 2 pairs/s on 2 cores at 128 tokens), so the
lower layers stay frozen: each distinct text goes once through the embeddings and the frozen
layers (kept as float16), and training runs only the top `trainable_layers` transformer layers and
the mean pooling over them. The path is checked against the model's own forward pass before
training starts. The result is an ordinary sentence-transformers folder (with `tune.json`: what it
was trained on and how), used through MATCHER_MODEL_PATH by every backend, the int8 export included.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from matcher.domain.errors import MatcherError
from matcher.domain.profiles import Profile

__all__ = ["TuneConfig", "TuneReport", "training_pairs", "tune_model"]

KINDS = ("same_profile", "partners", "title_abstract")


@dataclass(frozen=True)
class TuneConfig:
    max_pairs: int = 20_000
    epochs: int = 1
    batch_size: int = 32
    max_seq_length: int = 128  # tokens per text while training (the saved model keeps its own window)
    trainable_layers: int = 2
    learning_rate: float = 1e-4
    scale: float = 20.0
    seed: int = 0


@dataclass
class TuneReport:
    base_model: str
    pairs: dict[str, int]
    texts: int
    steps: int
    seconds: float
    pairs_per_s: float
    loss_first: float
    loss_last: float
    config: dict[str, Any] = field(default_factory=dict)


def training_pairs(
    profiles: Iterable[Profile], *, max_pairs: int = 20_000, seed: int = 0
) -> dict[str, list[tuple[str, str]]]:
    """Text pairs by kind (see the module), each kind deduplicated; at most `max_pairs` in all,
    drawn evenly across kinds (a kind with fewer gives its share to the others), deterministically."""
    profiles = list(profiles)
    texts_of: dict[str, list[tuple[str, str]]] = {}  # profile id -> (work id, text)
    holders: dict[str, set[str]] = {}  # work id -> profile ids (a shared work links them)
    by_kind: dict[str, set[tuple[str, str]]] = {kind: set() for kind in KINDS}
    for p in profiles:
        works = [(w.id, w.text) for w in p.works if w.text.strip()]
        texts_of[p.id] = works
        for w in p.works:
            holders.setdefault(w.id, set()).add(p.id)
            if w.title.strip() and w.abstract.strip():
                by_kind["title_abstract"].add((w.title.strip(), w.abstract.strip()))
        for (_, a), (_, b) in itertools.combinations(works, 2):
            if a != b:
                by_kind["same_profile"].add((a, b) if a < b else (b, a))
    rng = random.Random(seed)
    for work_id, people in sorted(holders.items()):
        for a, b in itertools.combinations(sorted(people), 2):
            mine = [t for wid, t in texts_of.get(a, []) if wid != work_id]
            theirs = [t for wid, t in texts_of.get(b, []) if wid != work_id]
            if mine and theirs:
                x, y = rng.choice(mine), rng.choice(theirs)
                if x != y:
                    by_kind["partners"].add((x, y) if x < y else (y, x))
    pools = {kind: sorted(pairs) for kind, pairs in by_kind.items()}
    for kind in KINDS:
        random.Random(f"{seed}-{kind}").shuffle(pools[kind])
    chosen: dict[str, list[tuple[str, str]]] = {kind: [] for kind in KINDS}
    left = max_pairs
    open_kinds = [k for k in KINDS if pools[k]]
    while left > 0 and open_kinds:
        share = max(1, left // len(open_kinds))
        for kind in list(open_kinds):
            take = pools[kind][len(chosen[kind]) : len(chosen[kind]) + min(share, left)]
            chosen[kind].extend(take)
            left -= len(take)
            if len(chosen[kind]) == len(pools[kind]):
                open_kinds.remove(kind)
            if left <= 0:
                break
    return chosen


def _batches(pairs: Sequence[tuple[int, int]], size: int, rng: random.Random) -> list[list[tuple[int, int]]]:
    """Batches of pairs in which no text appears twice (a repeat would be a false negative)."""
    order = list(pairs)
    rng.shuffle(order)
    batches: list[list[tuple[int, int]]] = []
    open_batches: list[tuple[list[tuple[int, int]], set[int]]] = []
    for a, b in order:
        for batch, seen in open_batches:
            if a not in seen and b not in seen:
                batch.append((a, b))
                seen.update((a, b))
                if len(batch) == size:
                    batches.append(batch)
                    open_batches.remove((batch, seen))
                break
        else:
            open_batches.append(([(a, b)], {a, b}))
    batches.extend(batch for batch, _ in open_batches if len(batch) > 1)
    return batches


class _TopLayers:
    """The model split at its frozen layers: `prepare` runs each text once through the bottom,
    `embed` runs the trainable top and the mean pooling, with gradients."""

    def __init__(self, model: Any, trainable: int, max_len: int):
        import torch

        self.torch = torch
        self.model = model
        self.bert = model[0].auto_model
        layers = self.bert.encoder.layer
        self.split = max(0, len(layers) - trainable)
        self.top = layers[self.split :]
        self.max_len = max_len
        for p in self.bert.parameters():
            p.requires_grad_(False)
        for p in self.top.parameters():
            p.requires_grad_(True)

    def parameters(self) -> list[Any]:
        return [p for p in self.top.parameters() if p.requires_grad]

    def prepare(self, texts: Sequence[str], batch: int, say: Callable[[int], None]) -> list[Any]:
        torch = self.torch
        out: list[Any] = []
        tok = self.model.tokenizer
        with torch.no_grad():
            for start in range(0, len(texts), batch):
                enc = tok(list(texts[start : start + batch]), padding=True, truncation=True,
                          max_length=self.max_len, return_tensors="pt")
                hidden = self.bert(**enc, output_hidden_states=True).hidden_states[self.split]
                lengths = enc["attention_mask"].sum(dim=1).tolist()
                out.extend(hidden[i, : int(n)].to(torch.float16).clone() for i, n in enumerate(lengths))
                say(len(lengths))
        return out

    def embed(self, states: Sequence[Any]) -> Any:
        torch = self.torch
        width = max(s.shape[0] for s in states)
        h = torch.zeros(len(states), width, states[0].shape[1])
        keep = torch.zeros(len(states), width)
        for i, s in enumerate(states):
            h[i, : s.shape[0]] = s.float()
            keep[i, : s.shape[0]] = 1.0
        additive = (1.0 - keep)[:, None, None, :] * torch.finfo(torch.float32).min
        for layer in self.top:
            h = layer(h, additive)
            h = h[0] if isinstance(h, tuple) else h
        pooled = (h * keep[:, :, None]).sum(dim=1) / keep.sum(dim=1, keepdim=True)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def check(self, texts: Sequence[str]) -> float:
        """Cosine between this path's vectors and the model's own, for a few texts (must be ~1)."""
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            mine = self.embed(self.prepare(texts, len(texts), lambda n: None))
            theirs = torch.nn.functional.normalize(
                torch.as_tensor(self.model.encode(list(texts), convert_to_numpy=True)), dim=-1)
        return float((mine * theirs).sum(dim=1).min())


def tune_model(
    base: Path,
    pairs: dict[str, list[tuple[str, str]]],
    out: Path,
    config: TuneConfig = TuneConfig(),
    *,
    progress: bool = True,
) -> TuneReport:
    """Fine-tune the sentence-transformers model at `base` on `pairs` and save it to `out`."""
    import torch
    from sentence_transformers import SentenceTransformer
    from tqdm import tqdm

    flat = [pair for kind in KINDS for pair in pairs.get(kind, [])]
    if len(flat) < 2 * config.batch_size:
        raise MatcherError(f"{len(flat)} training pairs: too few to tune on (at least {2 * config.batch_size}); "
                           "the store needs more history (profiles with several works, shared works)")
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    window = model.max_seq_length
    model.max_seq_length = config.max_seq_length
    net = _TopLayers(model, config.trainable_layers, config.max_seq_length)
    texts = sorted({t for pair in flat for t in pair})
    index = {t: i for i, t in enumerate(texts)}
    agreement = net.check(texts[:4])
    if agreement < 0.999:
        raise MatcherError(f"the model at {base} cannot be tuned this way (its layers do not compose as expected: "
                           f"cosine {agreement:.4f} to its own vectors)")
    with tqdm(total=len(texts), desc="reading texts through the frozen layers", unit="text",
              file=sys.stderr, disable=not progress, leave=False) as bar:
        states = net.prepare(texts, 64, bar.update)
    rng = random.Random(config.seed)
    steps_per_epoch = len(_batches([(index[a], index[b]) for a, b in flat], config.batch_size, random.Random(0)))
    total = steps_per_epoch * config.epochs
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=0.01)
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    loss_fn = torch.nn.CrossEntropyLoss()
    losses: list[float] = []
    model.train()
    with tqdm(total=total, desc="tuning", unit="batch", file=sys.stderr, disable=not progress) as bar:
        for _ in range(config.epochs):
            for batch in _batches([(index[a], index[b]) for a, b in flat], config.batch_size, rng):
                left = net.embed([states[a] for a, _ in batch])
                right = net.embed([states[b] for _, b in batch])
                logits = config.scale * left @ right.T
                target = torch.arange(len(batch))
                loss = (loss_fn(logits, target) + loss_fn(logits.T, target)) / 2
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                losses.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
    model.eval()
    model.max_seq_length = window
    seconds = time.perf_counter() - started
    head = losses[: max(1, len(losses) // 10)]
    tail = losses[-max(1, len(losses) // 10) :]
    report = TuneReport(
        base_model=str(base), pairs={k: len(v) for k, v in pairs.items()}, texts=len(texts), steps=len(losses),
        seconds=round(seconds, 1), pairs_per_s=round(len(flat) * config.epochs / seconds, 2),
        loss_first=round(sum(head) / len(head), 4), loss_last=round(sum(tail) / len(tail), 4), config=asdict(config),
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    (out / "tune.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    if not math.isfinite(report.loss_last):
        raise MatcherError("tuning diverged (the loss is not a number); try a lower --learning-rate")
    return report
