"""A small sequence model over each customer's recent event sequence, predicting churn (or any
binary outcome), with Platt-calibrated probabilities from a validation split. PyTorch on CPU.

Each step is the event type and item category (embedded), the log gap since the previous
step, the log age before the cutoff, the log value and the log number of events in the step
(``count``; optional, zero when absent). Two encoders:

- ``"transformer"`` (default): the steps are projected to ``hidden`` dimensions, given a
  learned embedding of their position counted from the latest event, and read by a
  ``layers``-deep self-attention encoder (``heads`` heads) that ignores padding; the mean of
  the real steps and the latest step go through a linear layer to a logit.
- ``"gru"``: a GRU; its last state goes through a linear layer to a logit.

Weights are saved as numpy arrays (no pickle).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from storemind._base import Estimator, check_random_state
from storemind.errors import DataError

__all__ = ["SequenceChurn"]

_KEYS = ("kind", "cat", "gap", "age", "value")
_NUM = ("gap", "age", "value", "count")
ARCHS = ("transformer", "gru")
_MAX_POS = 256


def _net(arch: str, n_kinds: int, n_cats: int, emb: int, hidden: int, heads: int = 4,
         layers: int = 2, n_num: int = len(_NUM)) -> Any:
    import torch
    from torch import nn

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.kind = nn.Embedding(n_kinds, emb, padding_idx=0)
            self.cat = nn.Embedding(n_cats, emb, padding_idx=0)
            self.inp = nn.Linear(2 * emb + n_num, hidden)
            self.pos = nn.Embedding(_MAX_POS, hidden)
            layer = nn.TransformerEncoderLayer(hidden, heads, dim_feedforward=2 * hidden,
                                               dropout=0.1, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.out = nn.Linear(2 * hidden + 1, 1)

        def forward(self, kind, cat, num):
            length = kind.shape[1]
            # sequences are left-padded: the latest event is the last column
            back = torch.arange(length - 1, -1, -1).clamp(max=_MAX_POS - 1)
            x = self.inp(torch.cat([self.kind(kind), self.cat(cat), num], dim=-1))
            x = x + self.pos(back)[None]
            pad = kind == 0
            empty = pad.all(1, keepdim=True)
            # a customer without events attends to one (zero) step rather than to nothing
            pad = pad & ~(empty & (torch.arange(length) == length - 1)[None])
            h = self.enc(x, src_key_padding_mask=pad)
            keep = (~pad).unsqueeze(-1).float()
            mean = (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)
            feats = torch.cat([mean, h[:, -1], empty.float()], dim=-1)
            return self.out(feats).squeeze(-1)

    if arch == "transformer":
        return Attention()

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.kind = nn.Embedding(n_kinds, emb, padding_idx=0)
            self.cat = nn.Embedding(n_cats, emb, padding_idx=0)
            self.gru = nn.GRU(2 * emb + n_num, hidden, batch_first=True)
            self.out = nn.Linear(hidden + 1, 1)

        def forward(self, kind, cat, num):
            x = torch.cat([self.kind(kind), self.cat(cat), num], dim=-1)
            h, _ = self.gru(x)
            empty = (kind.sum(1, keepdim=True) == 0).float()
            return self.out(torch.cat([h[:, -1], empty], dim=-1)).squeeze(-1)

    return Net()


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads (small recurrent nets are many times faster on
    one thread than on several contended ones), restoring the previous setting after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SequenceChurn(Estimator):
    """Transformer (or GRU) classifier over padded event sequences (see
    :func:`storemind.behavior.sequences`).

    Parameters
    ----------
    arch : {"transformer", "gru"}
        The encoder (see the module's doc).
    hidden : int
        Width of the encoder (the transformer's model size, the GRU's state size).
    embedding : int
        Size of the event-type and category embeddings.
    heads, layers : int
        The transformer's attention heads (dividing ``hidden``) and encoder layers.
    epochs, batch_size, learning_rate : training settings (Adam).
    valid_fraction : float
        Rows held out for early stopping and Platt calibration.
    n_threads : int
        Torch threads while fitting and predicting (1 is fastest for this small net).
    random_state : int, optional
    """

    def __init__(self, arch: str = "transformer", hidden: int = 32, embedding: int = 8,
                 heads: int = 4, layers: int = 2, epochs: int = 8,
                 batch_size: int = 256, learning_rate: float = 3e-3,
                 valid_fraction: float = 0.2, n_threads: int = 1,
                 random_state: int | None = 0):
        self.arch = arch
        self.heads = heads
        self.layers = layers
        self.hidden = hidden
        self.embedding = embedding
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.valid_fraction = valid_fraction
        self.n_threads = n_threads
        self.random_state = random_state

    @staticmethod
    def _check(seqs: Any) -> dict[str, np.ndarray]:
        if not isinstance(seqs, dict) or any(k not in seqs for k in _KEYS):
            raise DataError(f"sequences must be a dict with keys {list(_KEYS)} (see "
                            "storemind.behavior.sequences)")
        out = {k: np.asarray(seqs[k]) for k in _KEYS}
        out["count"] = np.asarray(seqs.get("count", np.zeros(out["kind"].shape, np.float32)))
        shapes = {out[k].shape for k in (*_KEYS, "count")}
        if len(shapes) != 1 or out["kind"].ndim != 2:
            raise DataError(f"sequence arrays must be 2-D of one shape; got {shapes}")
        return out

    def _tensors(self, s: dict[str, np.ndarray]) -> tuple[Any, Any, Any]:
        import torch

        kind = np.clip(s["kind"].astype(np.int64), 0, self.n_kinds_ - 1)
        cat = np.clip(s["cat"].astype(np.int64), 0, self.n_cats_ - 1)
        num = np.stack([s[k] for k in _NUM[:self.n_num_]], -1).astype(np.float32)
        return torch.from_numpy(kind), torch.from_numpy(cat), torch.from_numpy(num)

    def fit(self, sequences: dict[str, Any], y: Any) -> SequenceChurn:
        """Fit on padded ``sequences`` and 0/1 labels ``y`` (one per row)."""
        with _threads(self.n_threads):
            return self._fit(sequences, y)

    def _fit(self, sequences: dict[str, Any], y: Any) -> SequenceChurn:
        import torch

        s = self._check(sequences)
        yy = np.asarray(y, dtype=np.float32).ravel()
        if yy.size != s["kind"].shape[0]:
            raise DataError(f"{s['kind'].shape[0]} sequences but {yy.size} labels")
        if not np.isin(yy, (0.0, 1.0)).all() or len(np.unique(yy)) < 2:
            raise DataError("labels must be 0/1 and contain both classes")
        if self.arch not in ARCHS:
            raise DataError(f"arch must be one of {list(ARCHS)}; got {self.arch!r}")
        if self.arch == "transformer" and (int(self.heads) < 1
                                           or int(self.hidden) % int(self.heads)):
            raise DataError(f"heads ({self.heads}) must divide hidden ({self.hidden})")
        rng = check_random_state(self.random_state)
        torch.manual_seed(int(rng.integers(2**31 - 1)))
        self.n_kinds_ = int(max(s["kind"].max(), 6)) + 1
        self.n_cats_ = int(s["cat"].max()) + 2
        self.arch_ = str(self.arch)
        self.n_num_ = len(_NUM)
        net = self._build()
        kind, cat, num = self._tensors(s)
        target = torch.from_numpy(yy)
        n = len(yy)
        perm = rng.permutation(n)
        n_val = max(1, int(self.valid_fraction * n))
        val, trn = perm[:n_val], perm[n_val:]
        opt = torch.optim.Adam(net.parameters(), lr=float(self.learning_rate))
        loss_fn = torch.nn.BCEWithLogitsLoss()
        best, best_state = np.inf, None
        with torch.set_grad_enabled(True):
            for _ in range(int(self.epochs)):
                net.train()
                order = trn[rng.permutation(trn.size)]
                for lo in range(0, order.size, int(self.batch_size)):
                    b = torch.from_numpy(order[lo:lo + int(self.batch_size)])
                    opt.zero_grad()
                    loss = loss_fn(net(kind[b], cat[b], num[b]), target[b])
                    loss.backward()
                    opt.step()
                net.eval()
                with torch.no_grad():
                    vb = torch.from_numpy(val)
                    vloss = float(loss_fn(net(kind[vb], cat[vb], num[vb]), target[vb]))
                if vloss < best:
                    best = vloss
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        net.load_state_dict(best_state)
        self._net = net
        self.weights_ = {k: v.numpy().copy() for k, v in best_state.items()}
        raw = self._raw(s, val)
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6).fit(raw[:, None], yy[val])
        self.platt_ = np.array([float(lr.coef_[0, 0]), float(lr.intercept_[0])])
        self.valid_loss_ = float(best)
        return self

    def _raw(self, s: dict[str, np.ndarray], rows: np.ndarray | None = None) -> np.ndarray:
        import torch

        net = self._get_net()
        kind, cat, num = self._tensors(s)
        if rows is not None:
            r = torch.from_numpy(rows)
            kind, cat, num = kind[r], cat[r], num[r]
        out = []
        with torch.no_grad():
            for lo in range(0, kind.shape[0], 4096):
                out.append(net(kind[lo:lo + 4096], cat[lo:lo + 4096], num[lo:lo + 4096]).numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def _build(self) -> Any:
        return _net(self.arch_, self.n_kinds_, self.n_cats_, int(self.embedding),
                    int(self.hidden), int(self.heads), int(self.layers), self.n_num_)

    def _get_net(self) -> Any:
        import torch

        if getattr(self, "_net", None) is None:
            net = self._build()
            net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in
                                 self.weights_.items()})
            net.eval()
            self._net = net
        return self._net

    def predict_proba(self, sequences: dict[str, Any]) -> np.ndarray:
        """Calibrated probability of the positive class (churn) per sequence."""
        self._check_fitted()
        with _threads(self.n_threads):
            raw = self._raw(self._check(sequences))
        a, b = self.platt_
        return 1.0 / (1.0 + np.exp(-(a * raw + b)))

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"w__{k}": np.asarray(v) for k, v in self.weights_.items()}
        arrays["platt_"] = self.platt_
        values = {"n_kinds_": self.n_kinds_, "n_cats_": self.n_cats_, "arch_": self.arch_,
                  "n_num_": self.n_num_,
                  "valid_loss_": self.valid_loss_, "weight_names_": list(self.weights_)}
        return arrays, values

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        self.n_kinds_ = int(values["n_kinds_"])
        self.n_cats_ = int(values["n_cats_"])
        # saved before the transformer and the count channel existed: a GRU on 3 channels
        self.arch_ = str(values.get("arch_", "gru"))
        self.n_num_ = int(values.get("n_num_", 3))
        self.valid_loss_ = float(values["valid_loss_"])
        self.platt_ = arrays["platt_"]
        self.weights_ = {k: arrays[f"w__{k}"] for k in values["weight_names_"]}
        self._net = None
