"""Train one RecBole 1.2.1 model on a given training split and dump top-k lists (reference only).

Runs inside ``.bench-venv-recbole`` (made by ``benchmarks/setup_recbole.sh``), never in the
project's venv: RecBole needs numpy < 2. It is driven through ``recbole.config.Config``,
``recbole.data.create_dataset`` and ``recbole.trainer.Trainer`` (not ``recbole.quick_start``,
which imports ray.tune). ``benchmarks/recommend.py`` calls it as

    .bench-venv-recbole/bin/python benchmarks/recbole_runner.py WORKDIR

where ``WORKDIR`` holds

* ``bench.inter``: RecBole's atomic file of the training events (``user_id:token``,
  ``item_id:token``, ``timestamp:float``; tokens are the harness's dense indices, timestamps
  the events' order, so sequences are the same as the harness's);
* ``job.json``: ``{"model": "SASRec" | "EASE", "params": {...}, "users": [user tokens],
  "k": 50, "dump_epochs": [...], "seed": 0, "threads": 1, "max_seconds": null}``
  (``max_seconds``: stop training after the epoch that passes it, and dump there).

Every interaction goes to training: the split was made by the harness, and RecBole's own
evaluation is not used. After training (and, for SASRec, after each epoch in
``dump_epochs``) it ranks the whole catalogue for each user in ``users``, drops the items in the
user's training history (as ``recommend(..., exclude_seen=True)`` does), and writes
``topk_<epoch>.npy`` (int64 (n_users, k) harness item indices, -1 padding). ``result.json``
holds fit seconds per dump, peak RSS of the fit (MiB above the RSS before building the model)
and versions. The harness then computes every metric with storemind's metric code.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _config(workdir: Path, job: dict):
    from recbole.config import Config

    model = job["model"]
    params = dict(job.get("params", {}))
    epochs = int(params.pop("epochs", 1))
    cfg = {
        "data_path": str(workdir.parent),
        "dataset": workdir.name,
        "checkpoint_dir": str(workdir / "saved"),
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "eval_args": {"split": {"RS": [1.0, 0.0, 0.0]}, "order": "TO", "group_by": None,
                      "mode": "full"},
        "epochs": epochs,
        "device": "cpu",
        "use_gpu": False,
        "seed": int(job.get("seed", 0)),
        "reproducibility": True,
        "show_progress": False,
        "save_dataset": False,
        "save_dataloaders": False,
        "log_wandb": False,
        "state": "WARNING",
    }
    if model == "SASRec":
        cfg.update({"loss_type": "CE", "train_neg_sample_args": None,
                    "MAX_ITEM_LIST_LENGTH": int(params.pop("max_len", 50))})
    elif model == "EASE":
        cfg["rm_dup_inter"] = "first"  # a binary user x item matrix, like storemind's EASE
    cfg.update(params)
    return Config(model=model, dataset=workdir.name, config_dict=cfg), epochs


def _histories(workdir: Path, dataset) -> dict[int, np.ndarray]:
    """RecBole item ids of each RecBole user's training events, in time order (from the file)."""
    raw = np.loadtxt(workdir / f"{workdir.name}.inter", dtype=str, skiprows=1, ndmin=2)
    users = dataset.token2id(dataset.uid_field, raw[:, 0])
    items = dataset.token2id(dataset.iid_field, raw[:, 1])
    order = np.lexsort((raw[:, 2].astype(np.float64), users))
    users, items = users[order], items[order]
    bounds = np.flatnonzero(np.diff(users)) + 1
    return {int(g[0]): i.astype(np.int64)
            for g, i in zip(np.split(users, bounds), np.split(items, bounds), strict=True)}


def _rank(model, dataset, job: dict, histories: dict[int, np.ndarray]) -> np.ndarray:
    import torch
    from recbole.data.interaction import Interaction

    k = int(job["k"])
    tokens = [str(u) for u in job["users"]]
    known = np.array([t in dataset.field2token_id[dataset.uid_field] for t in tokens])
    out = np.full((len(tokens), k), -1, dtype=np.int64)
    uids = np.array([dataset.field2token_id[dataset.uid_field][t] if ok else 0
                     for t, ok in zip(tokens, known, strict=True)], dtype=np.int64)
    item_tokens = dataset.field2id_token[dataset.iid_field]
    token_of = np.array([-1] + [int(t) for t in item_tokens[1:]], dtype=np.int64)  # 0 = [PAD]
    n_items = dataset.item_num
    model.eval()
    rows = np.flatnonzero(known)
    is_seq = hasattr(dataset, "item_id_list_field")
    max_len = dataset.config["MAX_ITEM_LIST_LENGTH"] if is_seq else 0
    with torch.no_grad():
        for start in range(0, len(rows), 512):
            batch = rows[start:start + 512]
            hist = [histories.get(int(uids[r]), np.zeros(0, dtype=np.int64)) for r in batch]
            if is_seq:
                seq = np.zeros((len(batch), max_len), dtype=np.int64)
                lens = np.zeros(len(batch), dtype=np.int64)
                for j, h in enumerate(hist):
                    h = h[-max_len:]
                    seq[j, :len(h)] = h
                    lens[j] = len(h)
                inter = Interaction({dataset.item_id_list_field: torch.from_numpy(seq),
                                     dataset.item_list_length_field: torch.from_numpy(lens)})
            else:
                inter = Interaction({dataset.uid_field: torch.from_numpy(uids[batch])})
            scores = model.full_sort_predict(inter).reshape(len(batch), -1)
            scores = scores.float().numpy().copy()
            scores[:, 0] = -np.inf  # RecBole's padding item
            for j, h in enumerate(hist):
                scores[j, h] = -np.inf
            kk = min(k, n_items - 1)
            top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
            vals = np.take_along_axis(scores, top, axis=1)
            order = np.lexsort((top, -vals), axis=1)
            top = np.take_along_axis(top, order, axis=1)
            vals = np.take_along_axis(vals, order, axis=1)
            ids = token_of[top]
            out[batch, :kk] = np.where(np.isfinite(vals), ids, -1)
    return out


def main(workdir: Path) -> None:
    job = json.loads((workdir / "job.json").read_text())
    import torch

    torch.set_num_threads(int(job.get("threads", 2)))
    from recbole.data import create_dataset, data_preparation
    from recbole.trainer import Trainer
    from recbole.utils import get_model, init_seed

    # recbole/model/sequential_recommender/sine.py turns on autograd anomaly detection for the
    # whole process when imported (it is, by get_model); that makes training ~10x slower.
    get_model(job["model"])
    torch.autograd.set_detect_anomaly(False)
    config, epochs = _config(workdir, job)
    logging.getLogger().setLevel(logging.WARNING)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, _, _ = data_preparation(config, dataset)
    histories = _histories(workdir, dataset)
    _reset_peak()
    base = _rss_mib()
    start = time.perf_counter()
    init_seed(config["seed"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data.dataset).to(config["device"])
    result: dict = {"model": job["model"], "params": job.get("params", {}), "dumps": {},
                    "n_users": int(dataset.user_num - 1), "n_items": int(dataset.item_num - 1)}
    if job["model"] == "EASE":  # closed form, computed when the model is built
        seconds = time.perf_counter() - start
        peak = _peak_mib() - base
        np.save(workdir / "topk_1.npy", _rank(model, dataset, job, histories))
        result["dumps"]["1"] = {"fit_seconds": seconds, "peak_mib": peak}
    else:
        trainer = Trainer(config, model)
        build_seconds = time.perf_counter() - start
        dump = {int(e) for e in job.get("dump_epochs", [epochs])} | {epochs}
        train_seconds = 0.0
        max_seconds = job.get("max_seconds")
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            trainer._train_epoch(train_data, epoch - 1, show_progress=False)
            train_seconds += time.perf_counter() - t0
            out_of_time = max_seconds is not None and train_seconds >= float(max_seconds)
            if epoch in dump or out_of_time:
                peak = _peak_mib() - base
                np.save(workdir / f"topk_{epoch}.npy", _rank(model, dataset, job, histories))
                result["dumps"][str(epoch)] = {"fit_seconds": build_seconds + train_seconds,
                                               "peak_mib": peak}
            if out_of_time:
                result["stopped_at_epoch"] = epoch
                break
    import recbole

    result["versions"] = {"recbole": recbole.__version__, "torch": torch.__version__,
                          "numpy": np.__version__}
    (workdir / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
