"""Fine-tuning MiniLM's top layers on labelled intents, on the CPU.

The encoder's last ``layers`` transformer blocks are trained together with a temporary linear
head (cross-entropy over the intents, on the unit-length mean-pooled embedding times a fixed
scale) for a bounded number of epochs and seconds; the head is then dropped and the usual
logistic regression is fitted on the tuned embeddings. Only the tuned blocks' weights are
kept (as float32 arrays), so a model saves to npz like every estimator and is rebuilt from the
packaged MiniLM plus those arrays.
"""
from __future__ import annotations

import copy
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from storemind.assistant._encoder import MiniLMEncoder

__all__ = ["TunedEncoder", "tune_encoder"]

_SCALE = 20.0  # logits = scale * head(unit embedding): unit vectors need a temperature
_MAX_TOKENS = 64


def _modules(model: Any) -> tuple[Any, Any]:
    """(the Hugging Face BERT model, its tokenizer) inside a SentenceTransformer."""
    first = model[0]
    return first.auto_model, model.tokenizer


def _embed(bert: Any, tokenizer: Any, texts: list[str]) -> Any:
    import torch

    enc = tokenizer(texts, padding=True, truncation=True, max_length=_MAX_TOKENS,
                    return_tensors="pt")
    hidden = bert(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=1)


def tune_encoder(texts: Sequence[str], labels: np.ndarray, *, layers: int = 2,
                 epochs: int = 1, lr: float = 5e-5, batch_size: int = 32,
                 max_seconds: float = 600.0, random_state: int | None = 0,
                 progress: bool = False) -> dict[str, np.ndarray]:
    """Train MiniLM's last ``layers`` blocks on ``labels`` (integer class per text); returns
    their weights by parameter name. Stops after ``epochs`` or ``max_seconds``."""
    import torch

    texts = list(texts)
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = int(labels.max()) + 1
    torch.manual_seed(0 if random_state is None else int(random_state))
    rng = np.random.default_rng(random_state)
    model = copy.deepcopy(MiniLMEncoder.model())
    bert, tokenizer = _modules(model)
    blocks = bert.encoder.layer[-layers:]
    for p in bert.parameters():
        p.requires_grad = False
    tuned = [p for p in blocks.parameters()]
    for p in tuned:
        p.requires_grad = True
    head = torch.nn.Linear(bert.config.hidden_size, n_classes)
    opt = torch.optim.AdamW([{"params": tuned, "lr": lr},
                             {"params": head.parameters(), "lr": 1e-2}], weight_decay=0.01)
    steps = epochs * int(np.ceil(len(texts) / batch_size))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="fine-tuning MiniLM", unit="batch")
    start = time.perf_counter()
    bert.train()
    done = False
    for _ in range(epochs):
        order = rng.permutation(len(texts))
        for a in range(0, len(order), batch_size):
            idx = order[a:a + batch_size]
            emb = _embed(bert, tokenizer, [texts[i] for i in idx])
            loss = torch.nn.functional.cross_entropy(_SCALE * head(emb),
                                                     torch.from_numpy(labels[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss):.3f}")
            if time.perf_counter() - start > max_seconds:
                done = True
                break
        if done:
            break
    if bar is not None:
        bar.close()
    names = {id(p): n for n, p in bert.named_parameters()}
    return {names[id(p)]: p.detach().numpy().astype(np.float32).copy() for p in tuned}


class TunedEncoder:
    """MiniLM with some weights replaced by tuned ones; ``encode`` like MiniLMEncoder."""

    dim = 384

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = weights
        self._model: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        import torch

        with self._lock:
            if self._model is None:
                model = copy.deepcopy(MiniLMEncoder.model())
                bert, _ = _modules(model)
                state = bert.state_dict()
                missing = sorted(set(self.weights) - set(state))
                if missing:
                    raise ValueError(f"tuned weights name unknown parameters: {missing[:3]}")
                with torch.no_grad():
                    for name, arr in self.weights.items():
                        state[name].copy_(torch.from_numpy(arr))
                bert.eval()
                self._model = model
            return self._model

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        import torch

        model = self._get()
        bert, tokenizer = _modules(model)
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        with torch.inference_mode():
            for a in range(0, len(texts), batch_size):
                out[a:a + batch_size] = _embed(bert, tokenizer,
                                               texts[a:a + batch_size]).numpy()
        return out
