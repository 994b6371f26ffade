"""SASRec: a causal transformer over each customer's item sequence (Kang & McAuley, 2018).

Trained with the full softmax cross-entropy over the whole catalogue at every position, not
with sampled negatives (Klenitskiy & Vasilev, "Turning Dross Into Gold Loss: is BERT4Rec
really better than SASRec?", RecSys 2023), which is what makes SASRec strong.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from storemind import evaluation as ev
from storemind.errors import DataError
from storemind.recommend._base import (
    Recommender,
    _check_k,
    check_interactions,
    check_items,
    top_k,
)
from storemind.recommend._interactions import Interactions

__all__ = ["SASRec"]

_NET = "net:"  # prefix of the network's tensors in arrays.npz
_SCORE_BATCH = 1024
_TOP = 10  # validation metric: NDCG@10
_VALID_BLOCK = 1024  # validation users scored at a time


class SASRec(Recommender):
    """Self-attentive sequential recommender: next item from the last ``max_len`` items.

    Each user's weighted events (see :meth:`Interactions.sequences`) form a sequence in time
    order. A stack of pre-norm transformer blocks with causal self-attention reads it; the
    hidden state at each position scores every item by a dot product with the (shared) item
    embeddings, and training minimises the cross-entropy of the true next item over the whole
    catalogue at every position. ``score(users)`` reads the user's last ``max_len`` items of the
    training data; :meth:`score_sequences` reads live sequences (e.g. the latest events of a
    session) without refitting.

    Parameters
    ----------
    max_len : int
        Items of history read per user (the most recent ones).
    hidden_size : int
        Embedding and hidden width; a multiple of ``n_heads``.
    n_heads : int
        Attention heads per block.
    n_blocks : int
        Transformer blocks.
    dropout : float
        Dropout on embeddings, attention and feed-forward layers.
    lr : float
        Adam learning rate.
    weight_decay : float
        Adam L2 penalty.
    epochs : int
        Most passes over the training windows (every user's whole sequence, cut into windows
        of ``max_len + 1`` items).
    batch_size : int
        Windows per step.
    patience : int
        With validation data, stop after this many evaluations without a better NDCG@10 and keep
        the best weights.
    eval_every : int
        Epochs between validation evaluations.
    dedupe_consecutive : bool
        Collapse runs of the same item (view, cart, purchase of one product) into one step.
    train_stride : int or None
        Step between the training windows of a long sequence. None (= ``max_len``): windows
        do not overlap, so a window's first targets see little history. Smaller: windows
        overlap and each target counts once, in the window where it has at least
        ``max_len - train_stride`` items of history (as at serving time), for
        ``max_len / train_stride`` times the training cost.
    half_life_days : float or None
        Weight each training target by ``0.5 ** (age / half_life_days)``, its age being the
        days from the event to the last training event, so the model learns most from what
        customers did lately: worth it when recommending for the period after the data, whose
        favourites drift from the past's. None: every target counts alike.
    max_seconds : float or None
        Stop training after this many seconds (checked after each epoch).
    n_threads : int or None
        Torch CPU threads while fitting and scoring (restored afterwards); None leaves torch's.
    verbose : bool
        Show a progress bar with the loss and validation NDCG@10.
    random_state : int, optional
        Seeds weight initialisation, dropout and batch order.

    Attributes
    ----------
    best_epoch_ : int
        Epoch (1-based) whose weights were kept.
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``seconds`` and, where evaluated, ``val_ndcg10``.
    fit_seconds_ : float
        Wall time of training.
    """

    def __init__(
        self,
        max_len: int = 50,
        hidden_size: int = 64,
        n_heads: int = 2,
        n_blocks: int = 2,
        dropout: float = 0.3,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        epochs: int = 30,
        batch_size: int = 256,
        patience: int = 3,
        eval_every: int = 1,
        dedupe_consecutive: bool = True,
        train_stride: int | None = None,
        half_life_days: float | None = None,
        max_seconds: float | None = None,
        n_threads: int | None = None,
        verbose: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.max_len = max_len
        self.hidden_size = hidden_size
        self.n_heads = n_heads
        self.n_blocks = n_blocks
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.eval_every = eval_every
        self.dedupe_consecutive = dedupe_consecutive
        self.train_stride = train_stride
        self.half_life_days = half_life_days
        self.max_seconds = max_seconds
        self.n_threads = n_threads
        self.verbose = verbose
        self.random_state = random_state

    # -- fit -------------------------------------------------------------------------------
    def fit(self, interactions: Interactions, valid: Interactions | None = None) -> SASRec:
        """Train on ``interactions``; returns ``self``.

        Parameters
        ----------
        interactions : Interactions
            Training events.
        valid : Interactions, optional
            Held-out next events with the same user and item index (e.g. each user's
            second-to-last item, or every item of a later time window). Each user's weighted
            items there are the targets, ranked against all items with the user's other
            training items excluded; training stops early on their NDCG@10 (as
            :func:`storemind.evaluation.ndcg_at_k`) and keeps the best epoch's weights.

        Raises
        ------
        DataError
            Wrong input types, no weighted event, a ``valid`` with another index, or invalid
            settings.
        """
        check_interactions(interactions, type(self).__name__)
        self._check_settings()
        if valid is not None:
            _check_same_index(interactions, valid)
        self._fit_base(interactions)
        raw = interactions.sequences()
        seqs = [self._prepare(s) for s in raw]
        weights = None
        if self.half_life_days is not None:
            last = float(interactions.ts.max())
            weights = [0.5 ** ((last - self._prepare(s, t)) / (86400.0 * self.half_life_days))
                       for s, t in zip(raw, interactions.sequence_times(), strict=True)]
        seed = self.random_state
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31))
        with _threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self._train(seqs, weights, valid, np.random.default_rng(int(seed)))
        self._store_sequences(seqs)
        return self

    def _check_settings(self) -> None:
        ints = {"max_len": self.max_len, "hidden_size": self.hidden_size,
                "n_heads": self.n_heads, "n_blocks": self.n_blocks, "epochs": self.epochs,
                "batch_size": self.batch_size, "patience": self.patience,
                "eval_every": self.eval_every}
        for name, value in ints.items():
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise DataError(f"SASRec {name} must be a positive integer, got {value!r}")
        if self.train_stride is not None and not (
                isinstance(self.train_stride, int | np.integer)
                and 1 <= self.train_stride <= self.max_len):
            raise DataError("SASRec train_stride must be None or an integer in [1, max_len], "
                            f"got {self.train_stride!r}")
        if self.hidden_size % self.n_heads:
            raise DataError(
                f"SASRec hidden_size ({self.hidden_size}) must be a multiple of n_heads "
                f"({self.n_heads})"
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise DataError(f"SASRec dropout must be in [0, 1), got {self.dropout!r}")
        if not float(self.lr) > 0:
            raise DataError(f"SASRec lr must be > 0, got {self.lr!r}")
        if self.half_life_days is not None and not (
                isinstance(self.half_life_days, int | float | np.number)
                and not isinstance(self.half_life_days, bool)
                and 0 < float(self.half_life_days) < np.inf):
            raise DataError("SASRec half_life_days must be None or a positive number of days, "
                            f"got {self.half_life_days!r}")

    def _prepare(self, seq: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """The item sequence the network reads (runs of one item collapsed if asked); with
        ``values`` (one per event, e.g. its time), those of the events kept instead."""
        seq = np.asarray(seq, dtype=np.int64)
        out = seq if values is None else np.asarray(values, dtype=np.float64)
        if self.dedupe_consecutive and len(seq) > 1:
            out = out[np.r_[True, seq[1:] != seq[:-1]]]
        return out

    def _train(self, seqs: list[np.ndarray], weights: list[np.ndarray] | None,
               valid: Interactions | None, rng: np.random.Generator) -> None:
        net = _Net(self.n_items_, int(self.max_len), int(self.hidden_size), int(self.n_heads),
                   int(self.n_blocks), float(self.dropout))
        opt = torch.optim.Adam(net.parameters(), lr=float(self.lr),
                               weight_decay=float(self.weight_decay))
        stride = int(self.train_stride or self.max_len)
        windows, owned = _windows(seqs, int(self.max_len), stride)
        weight_windows = None if weights is None else _windows(weights, int(self.max_len),
                                                               stride)[0]
        val_users, val_targets = None, None
        if valid is not None:
            val_users, val_targets = _targets(valid)
            has = np.array([len(seqs[u]) > 0 for u in val_users], dtype=bool)
            val_users = val_users[has]
            val_targets = [t for t, h in zip(val_targets, has, strict=True) if h]
            if not len(val_users):
                raise DataError("SASRec.fit valid has no weighted event of a user with history")
        start = time.perf_counter()
        history: list[dict[str, float]] = []
        best, best_state, best_epoch, bad = -1.0, None, 0, 0
        bar = _progress(self.verbose, int(self.epochs))
        for epoch in range(1, int(self.epochs) + 1):
            net.train()
            total, count = 0.0, 0
            for batch in _batches(windows, int(self.batch_size), rng):
                chunk = [windows[w] for w in batch]
                x = torch.from_numpy(_pad_left([s[:-1] for s in chunk], int(self.max_len)))
                y = torch.from_numpy(_pad_left([s[1:] for s in chunk], int(self.max_len)))
                # a window's own targets are its last ones (left padding puts them at the end)
                first = y.shape[1] - torch.from_numpy(owned[batch])
                real = (y != 0) & (torch.arange(y.shape[1])[None, :] >= first[:, None])
                logits = net.logits(net(x)[real])
                if weight_windows is None:
                    loss = F.cross_entropy(logits, y[real] - 1)
                else:  # each target's weight, in the same left-padded layout as y
                    w = torch.from_numpy(_align_right(
                        [weight_windows[i][1:] for i in batch], y.shape[1], np.float32))[real]
                    loss = (F.cross_entropy(logits, y[real] - 1, reduction="none") * w).sum() \
                        / w.sum().clamp_min(1e-12)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                n = int(real.sum())
                total += float(loss.item()) * n
                count += n
            row = {"epoch": epoch, "loss": total / max(count, 1),
                   "seconds": time.perf_counter() - start}
            stop = False
            if val_users is not None and epoch % int(self.eval_every) == 0:
                row["val_ndcg10"] = self._validate(net, seqs, val_users, val_targets)
                if row["val_ndcg10"] > best:
                    best, best_epoch, bad = row["val_ndcg10"], epoch, 0
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    bad += 1
                    stop = bad >= int(self.patience)
            history.append(row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: round(v, 4) for k, v in row.items() if k != "epoch"})
            if self.max_seconds is not None and row["seconds"] >= float(self.max_seconds):
                stop = True
            if stop:
                break
        if bar is not None:
            bar.close()
        if best_state is not None:
            net.load_state_dict(best_state)
        else:
            best_epoch = len(history)
        net.eval()
        self.net_ = net
        self.best_epoch_ = int(best_epoch)
        self.history_ = history
        self.fit_seconds_ = float(time.perf_counter() - start)

    def _validate(self, net: _Net, seqs: list[np.ndarray], users: np.ndarray,
                  targets: list[np.ndarray]) -> float:
        """Mean NDCG@10 of each user's targets, the other training items excluded.

        The same number as :func:`storemind.evaluation.ndcg_at_k` on the top-10 lists, but
        read from each target's rank (how many allowed items score higher, with
        :func:`storemind.evaluation.ndcg_from_ranks`), a block of users at a time: no sort of
        the whole catalogue and no users x items matrix (on Beauty's 22,000 validation users
        the full top-k took 40 s per epoch, 60% of an epoch's time under a fixed time budget).
        """
        width = int(self.n_items_)
        total = 0.0
        for lo in range(0, len(users), _VALID_BLOCK):
            block, tg = users[lo:lo + _VALID_BLOCK], targets[lo:lo + _VALID_BLOCK]
            scores = self._net_scores([seqs[u] for u in block], net)
            rows = np.repeat(np.arange(len(block)), [len(t) for t in tg])
            cols = np.concatenate(tg).astype(np.int64)
            r, c = self.seen_[block].nonzero()
            keep = ~np.isin(r.astype(np.int64) * width + c, rows * width + cols)
            scores[r[keep], c[keep]] = -np.inf  # a repeated item stays rankable
            mine = scores[rows, cols]
            rank = np.empty(len(rows), dtype=np.int64)
            for j in range(0, len(rows), _VALID_BLOCK):  # bounded temporary
                rank[j:j + _VALID_BLOCK] = (scores[rows[j:j + _VALID_BLOCK]] >
                                            mine[j:j + _VALID_BLOCK, None]).sum(axis=1)
            total += float(np.nansum(ev.ndcg_from_ranks(rank, rows, len(block), _TOP,
                                                        per_user=True)))
        return total / max(len(users), 1)

    def _store_sequences(self, seqs: list[np.ndarray]) -> None:
        tails = [s[-int(self.max_len):] for s in seqs]
        self.seq_indptr_ = np.r_[0, np.cumsum([len(s) for s in tails])].astype(np.int64)
        self.seq_items_ = (np.concatenate(tails) if tails else np.zeros(0)).astype(np.int32)

    # -- scoring ---------------------------------------------------------------------------
    def _net_scores(self, seqs: Sequence[np.ndarray], net: _Net | None = None) -> np.ndarray:
        net = self.net_ if net is None else net
        out = np.empty((len(seqs), self.n_items_), dtype=np.float32)
        was_training = net.training
        net.eval()
        with torch.no_grad():
            for lo in range(0, len(seqs), _SCORE_BATCH):
                batch = seqs[lo:lo + _SCORE_BATCH]
                x = torch.from_numpy(_pad_left(batch, int(self.max_len)))
                out[lo:lo + len(batch)] = net.logits(net(x)[:, -1]).numpy()
        net.train(was_training)
        return out

    def _score_known(self, users: np.ndarray) -> np.ndarray:
        seqs = [self.seq_items_[self.seq_indptr_[u]:self.seq_indptr_[u + 1]] for u in users]
        return self._score_seqs(seqs)

    def _score_seqs(self, seqs: list[np.ndarray]) -> np.ndarray:
        out = np.empty((len(seqs), self.n_items_), dtype=np.float32)
        has = np.array([len(s) > 0 for s in seqs], dtype=bool)
        if has.any():
            with _threads(self.n_threads):
                out[has] = self._net_scores([s for s, h in zip(seqs, has, strict=True) if h])
        if (~has).any():
            out[~has] = self._fallback_scores()
        return out

    def score_sequences(self, sequences: Sequence[Sequence[int] | np.ndarray]) -> np.ndarray:
        """Scores of every item after each live item sequence, float32 (n, n_items).

        Parameters
        ----------
        sequences : sequence of 1-D int arrays
            Item indices in time order (oldest first), e.g. a visitor's latest events; the last
            ``max_len`` are read. Index -1 (an item unknown to the model) is skipped; an empty
            sequence gets the popularity fallback.

        Raises
        ------
        DataError
            A sequence is not 1-D integers, or holds an index outside ``[-1, n_items)``.
        """
        self._check_fitted()
        return self._score_seqs(self._check_sequences(sequences))

    def recommend_sequences(
        self,
        sequences: Sequence[Sequence[int] | np.ndarray],
        k: int = 10,
        *,
        exclude_seen: bool = True,
        filter_items: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items after each live sequence (see :meth:`score_sequences`).

        ``exclude_seen`` drops the items of the sequence itself; ``filter_items`` is a bool
        mask over items (True = drop), shape (n_items,) or (len(sequences), n_items).
        Returns (items int64 (n, k) padded with -1, scores float32 (n, k) padded with -inf).
        """
        self._check_fitted()
        k = _check_k(k)
        seqs = self._check_sequences(sequences)
        scores = self._score_seqs(seqs)
        if exclude_seen:
            for row, s in enumerate(seqs):
                scores[row, s] = -np.inf
        if filter_items is not None:
            mask = np.asarray(filter_items, dtype=bool)
            if mask.shape not in ((self.n_items_,), (len(seqs), self.n_items_)):
                raise DataError(
                    f"filter_items must have shape ({self.n_items_},) or "
                    f"({len(seqs)}, {self.n_items_}); got {mask.shape}"
                )
            scores[np.broadcast_to(mask, scores.shape)] = -np.inf
        return top_k(scores, k)

    def _check_sequences(self, sequences: Any) -> list[np.ndarray]:
        if isinstance(sequences, np.ndarray) and sequences.ndim == 1 and sequences.dtype != object:
            raise DataError("sequences must be a list of item-index arrays, got one flat array; "
                            "wrap a single sequence in a list")
        out = []
        for n, seq in enumerate(sequences):
            arr = np.asarray(seq)
            if arr.ndim != 1 or (len(arr) and arr.dtype.kind not in "iu"):
                raise DataError(
                    f"sequence {n} must be a 1-D array of item indices, got dtype {arr.dtype} "
                    f"shape {arr.shape}"
                )
            arr = arr.astype(np.int64)
            bad = (arr < -1) | (arr >= self.n_items_)
            if bad.any():
                raise DataError(
                    f"sequence {n} holds item index {int(arr[bad][0])}, outside the fitted "
                    f"items [0, {self.n_items_}) (-1 marks an unknown item)"
                )
            out.append(self._prepare(arr[arr >= 0]))
        return out

    def similar_items(self, items: np.ndarray | int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items whose learned embeddings have the largest cosine with each item's."""
        self._check_fitted()
        items = check_items(items, self.n_items_)
        emb = self.net_.item.weight[1:].detach().numpy()
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        rows = (emb[items] @ emb.T).astype(np.float32)
        rows[np.arange(len(items)), items] = -np.inf
        return top_k(rows, _check_k(k))

    # -- persistence -----------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        net = self.net_
        self.__dict__.pop("net_")
        try:
            arrays, values = super()._get_state()
        finally:
            self.net_ = net
        for name, tensor in net.state_dict().items():
            arrays[_NET + name] = tensor.detach().numpy().copy()
        return arrays, values

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        weights = {k[len(_NET):]: torch.from_numpy(v) for k, v in arrays.items()
                   if k.startswith(_NET)}
        super()._set_state({k: v for k, v in arrays.items() if not k.startswith(_NET)}, values)
        net = _Net(int(self.n_items_), int(self.max_len), int(self.hidden_size),
                   int(self.n_heads), int(self.n_blocks), float(self.dropout))
        net.load_state_dict(weights)
        net.eval()
        self.net_ = net


# -- the network -----------------------------------------------------------------------------
class _Block(nn.Module):
    """Pre-norm transformer block: causal self-attention, then a position-wise feed-forward."""

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.p = dropout
        self.norm1 = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.ff1 = nn.Linear(hidden, hidden)
        self.ff2 = nn.Linear(hidden, hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).unbind(2)
        a = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask,
            dropout_p=self.p if self.training else 0.0,
        )
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, n, d)))
        return x + self.drop(self.ff2(self.drop(F.gelu(self.ff1(self.norm2(x))))))


class _Net(nn.Module):
    """Item + position embeddings, causal blocks; items scored against the item embeddings."""

    def __init__(self, n_items: int, max_len: int, hidden: int, heads: int, blocks: int,
                 dropout: float) -> None:
        super().__init__()
        self.max_len = max_len
        self.item = nn.Embedding(n_items + 1, hidden, padding_idx=0)  # 0 = padding
        self.pos = nn.Embedding(max_len, hidden)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(hidden, heads, dropout) for _ in range(blocks))
        self.norm = nn.LayerNorm(hidden)
        self.apply(_init)
        with torch.no_grad():
            self.item.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """``seq`` (B, L) left-padded with 0, items 1..n -> hidden states (B, L, d)."""
        n = seq.shape[1]
        # positions count back from the most recent item, as if padded to max_len
        pos = torch.arange(self.max_len - n, self.max_len)
        real = (seq != 0).unsqueeze(-1)
        x = self.drop(self.item(seq) + self.pos(pos)) * real
        causal = torch.ones(n, n, dtype=torch.bool).tril()
        # a position sees the earlier real items and itself, so no row is empty (no NaN)
        mask = ((causal & real.transpose(1, 2)) | torch.eye(n, dtype=torch.bool)).unsqueeze(1)
        for block in self.blocks:
            x = block(x, mask) * real
        return self.norm(x)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.item.weight[1:].T


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear | nn.Embedding):
        nn.init.normal_(m.weight, std=0.02)
    if isinstance(m, nn.Linear):
        nn.init.zeros_(m.bias)


# -- helpers ---------------------------------------------------------------------------------
def _pad_left(seqs: Sequence[np.ndarray], max_len: int) -> np.ndarray:
    """Last ``max_len`` items of each sequence, +1 (0 = padding), left-padded to the longest."""
    n = max(1, min(max_len, max((len(s) for s in seqs), default=1)))
    return _align_right([np.asarray(s[-n:], dtype=np.int64) + 1 for s in seqs], n, np.int64)


def _align_right(rows: Sequence[np.ndarray], width: int, dtype: type) -> np.ndarray:
    """The last ``width`` values of each row, right-aligned in ``width`` columns, 0 before."""
    out = np.zeros((len(rows), width), dtype=dtype)
    for r, row in enumerate(rows):
        row = row[-width:]
        if len(row):
            out[r, width - len(row):] = row
    return out


def _windows(seqs: list[np.ndarray], max_len: int, stride: int
             ) -> tuple[list[np.ndarray], np.ndarray]:
    """Training windows of at most ``max_len + 1`` items covering every sequence, and how many
    of each window's last targets it owns.

    Windows are cut from a sequence's end every ``stride`` items. Each item after the first is
    the target of exactly one window: the one where it has the most history before it (a
    window owns its last ``stride`` targets; the earliest window of a sequence owns them all).
    Sequences of fewer than two items teach nothing and are left out.
    """
    out, owned = [], []
    for seq in seqs:
        end = len(seq)
        while end >= 2:
            start = max(0, end - max_len - 1)
            out.append(seq[start:end])
            if start == 0:
                owned.append(end - 1)
                break
            owned.append(min(stride, end - start - 1))
            end -= stride
    return out, np.asarray(owned, dtype=np.int64)


def _batches(windows: list[np.ndarray], size: int,
             rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled batches of windows of similar length (less padding), in random order."""
    order = rng.permutation(len(windows))
    chunk = size * 32
    batches = []
    for lo in range(0, len(order), chunk):
        part = order[lo:lo + chunk]
        part = part[np.argsort([len(windows[w]) for w in part], kind="stable")]
        batches.extend(part[j:j + size] for j in range(0, len(part), size))
    for b in rng.permutation(len(batches)):
        yield batches[b]


def _targets(valid: Interactions) -> tuple[np.ndarray, list[np.ndarray]]:
    """The users with a weighted event in ``valid`` and each one's distinct weighted items."""
    pos = valid.weights > 0
    width = max(valid.n_items, 1)
    pairs = np.unique(valid.users[pos].astype(np.int64) * width + valid.items[pos])
    users, start = np.unique(pairs // width, return_index=True)
    return users.astype(np.int64), (np.split(pairs % width, start[1:]) if len(users) else [])


def _check_same_index(train: Interactions, valid: Any) -> None:
    if not isinstance(valid, Interactions):
        raise DataError(f"SASRec.fit valid must be an Interactions, got {type(valid).__name__}")
    if valid.n_users != train.n_users or valid.n_items != train.n_items or not (
        np.array_equal(valid.user_ids, train.user_ids)
        and np.array_equal(valid.item_ids, train.item_ids)
    ):
        raise DataError(
            "SASRec.fit valid must share the training index: build it with "
            "Interactions.from_frame(..., user_ids=train.user_ids, item_ids=train.item_ids); "
            f"got {valid.n_users} users x {valid.n_items} items, training has "
            f"{train.n_users} x {train.n_items}"
        )


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise DataError(f"SASRec n_threads must be a positive integer or None, got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _progress(enabled: bool, total: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="SASRec epochs", unit="epoch")
