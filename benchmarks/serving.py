"""Serving under load: latency, throughput, freshness and event durability of the real server.

    python benchmarks/serving.py --days 80 --home /tmp/serving-store   # the issue's scale
    python benchmarks/serving.py --users 3000 --items 2000 --days 20 --trials 200  # quick

1. simulates a store (``storemind.datasets.simulate``; 200k customers, 100k items, 80 days is
   about 5M events) into a DuckDB file and registers a recommend bundle (popularity, ALS 64
   factors, bought-together; no hybrid: at 100k items the serving layer answers from ALS
   through the faiss index); ``--home`` keeps it for later runs, each of which serves a copy;
2. starts the real uvicorn server (``create_app`` plus a no-op route ``/noop``, the floor) on
   127.0.0.1 in a child process pinned to CPU 0 (``--no-pin`` to leave both cores to both);
3. drives it from this process (pinned to CPU 1) with an open-loop asyncio load generator
   (raw HTTP/1.1 keep-alive) at rising request rates, bounded in time, for: no-op, top-10
   recommendations, similar items, single-event posts; the server's CPU time per request is
   read from /proc;
4. freshness: post an event on the customer's top item, then ask again; the answer must name
   the event (``as_of_event``) and leave the item out -- ``--trials`` times;
5. sustained events: batches of 500 events from ``--event-clients`` concurrent clients; events
   acknowledged (the sum of ``stored``) against the rows added to the events table.

Writes ``benchmarks/results/serving.md`` with the issue's goals and whether each is met.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, machine, markdown_table  # noqa: E402
from _load import KEY, RawClient, open_loop, server_cpu  # noqa: E402

HEADERS = {"X-API-Key": KEY}


# -- set-up -----------------------------------------------------------------------------------
def build(home: Path, users: int, items: int, days: int, seed: int) -> dict:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from storemind.config import Settings
    from storemind.datasets import simulate
    from storemind.recommend import ALS, BoughtTogether, Interactions, Popularity
    from storemind.recommend._bundle import Bundle, save_bundle
    from storemind.registry import Registry
    from storemind.store import Store

    settings = Settings(home=home)
    home.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    store = Store(settings.db_path)
    simulate(store, n_users=users, n_items=items, n_days=days, seed=seed, progress=True)
    t_sim = time.perf_counter() - t0
    events = store.frame("events", ["user_id", "item_id", "event_type", "ts", "value",
                                    "session_id"])
    catalogue = store.frame("items")
    t0 = time.perf_counter()
    inter = Interactions.from_frame(events)
    models = {"popularity": Popularity(half_life_days=14.0),
              "als": ALS(factors=64, iterations=10, random_state=seed),
              "bought_together": BoughtTogether(min_support=2)}
    for m in models.values():
        m.fit(inter)
    bundle = Bundle(inter, models, None, catalogue, {"params": {}})
    Registry(settings.models_path).register("recommend", write=lambda f: save_bundle(bundle, f))
    t_fit = time.perf_counter() - t0
    info = {"events": int(len(events)), "users": inter.n_users, "items": inter.n_items,
            "simulate_s": t_sim, "fit_s": t_fit,
            "user_ids": inter.user_ids[np.argsort(-np.bincount(inter.users))[:5000]].tolist(),
            "item_ids": inter.item_ids[np.argsort(-inter.item_popularity())[:5000]].tolist()}
    store.close()
    return info


def serve(home: str, port: int) -> None:
    """Child process: the real app plus ``/noop``, on uvicorn."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import uvicorn

    from storemind.api import create_app
    from storemind.config import Settings

    app = create_app(Settings(home=Path(home), api_keys=KEY, max_batch=10_000))

    @app.get("/noop")
    async def noop() -> dict:
        return {"ok": True}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _found(index, query, k: int, exclude=None) -> int:
    """How many of the exact top-``k`` the index's search finds."""
    got, _ = index.search(query, k, exclude=exclude)
    exact, _ = index.exact(query, k, exclude)
    return len(set(got.tolist()) & set(exact.tolist()))


def _recall(index, queries, k: int) -> tuple[float, int]:
    """Recall of the exact top-``k`` over ``(query, exclude)`` pairs, and how many there were."""
    hits = n = 0
    for query, exclude in queries:
        hits += _found(index, query, k, exclude)
        n += 1
    return hits / max(k * n, 1), n


def recall_check(home: str, n: int = 2000) -> None:
    """Child process: the served model's retrieval index against exact search, for the load
    generator's customers (top-10 recommendations, their seen items excluded as served) and
    items (similar items), and for as many of each drawn uniformly; prints JSON."""
    import asyncio as aio

    from storemind.api import create_app
    from storemind.config import Settings
    from storemind.recommend.api import service_of

    app = create_app(Settings(home=Path(home), api_keys=KEY))
    info = json.loads((Path(home) / "build.json").read_text())

    async def run() -> dict:
        async with app.router.lifespan_context(app):
            snap = service_of(app).current()
            out: dict = {"kind": getattr(snap.index, "kind", None)}
            if snap.index is None:
                return out
            loaded = [(vec, u) for u in info["user_ids"][:n]
                      if (vec := snap.user_vector(u)) is not None]

            def seen(u: str) -> np.ndarray:
                items, weights, _ = snap.user_history(u, None)
                return items[weights > 0]

            rng = np.random.default_rng(1)
            everyone = list(snap.user_pos)
            uniform = (snap.user_vector(everyone[j])
                       for j in rng.choice(len(everyone), min(n, len(everyone)), replace=False))
            recall, users = _recall(snap.index, ((v, None) for v, _ in loaded), 10)
            out.update(users=users, recall=recall, nprobe=snap.index.nprobe,
                       recall_excluding_seen=_recall(
                           snap.index, ((v, seen(u)) for v, u in loaded), 10)[0],
                       recall_uniform=_recall(
                           snap.index, ((v, None) for v in uniform if v is not None), 10)[0])
            unit = getattr(snap, "unit_index", None)
            if unit is not None:
                popular = [p for i in info["item_ids"][:n]
                           if (p := snap.item_pos.get(i)) is not None]
                drawn = rng.choice(len(unit.vectors), min(n, len(unit.vectors)), replace=False)
                recall, items = _recall(unit, ((unit.vectors[p], None) for p in popular), 11)
                out.update(items=items, recall_similar=recall, nprobe_similar=unit.nprobe,
                           recall_similar_uniform=_recall(
                               unit, ((unit.vectors[p], None) for p in drawn), 11)[0])
            return out

    print("RECALL " + json.dumps(aio.run(run())), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- load -------------------------------------------------------------------------------------
def routes(info: dict) -> dict:
    users, items = info["user_ids"], info["item_ids"]
    rnd = random.Random(0)

    def event(n: int) -> tuple[str, str, bytes]:
        body = {"event_id": f"load-{n}-{rnd.random()}",
                "user_id": users[rnd.randrange(len(users))],
                "item_id": items[rnd.randrange(len(items))], "event_type": "view",
                "ts": 1_700_000_000 + n}
        return "POST", "/v1/events", json.dumps(body).encode()

    return {
        "no-op": lambda n: ("GET", "/noop", None),
        "recommendations k=10": lambda n: (
            "GET", f"/v1/users/{users[rnd.randrange(len(users))]}/recommendations?k=10", None),
        "similar items k=10": lambda n: (
            "GET", f"/v1/items/{items[rnd.randrange(len(items))]}/similar?k=10", None),
        "event post (1 event)": event,
    }


async def load_table(port: int, info: dict, rates: list[int], seconds: float,
                     only: list[str] | None = None, pid: int | None = None) -> list[list]:
    table = {k: v for k, v in routes(info).items() if not only or k.split()[0] in only}
    rows = []
    client = RawClient("127.0.0.1", port)
    await client.open()
    try:
        for make in table.values():  # warm up every route
            for n in range(300):
                await client.request(client.encode(*make(n)))
        for rate in rates:
            for name, make in table.items():
                cpu = server_cpu(pid) if pid else 0.0
                r = await open_loop(client, make, rate, seconds)
                cpu_ms = (server_cpu(pid) - cpu) * 1e3 / r["sent"] if pid else float("nan")
                rows.append([name, rate, round(r["per_s"]), r["p50"], r["p95"], r["p99"],
                             r["errors"], cpu_ms])
                print(rows[-1], flush=True)
    finally:
        await client.close()
    return rows


async def freshness(base: str, info: dict, trials: int) -> dict:
    import httpx

    users = info["user_ids"]
    stale = failed = 0
    lat = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for n in range(trials):
            user = users[n % len(users)]
            top = (await client.get(f"/v1/users/{user}/recommendations?k=10")).json()
            if not top["items"]:
                failed += 1
                continue
            item = top["items"][0]["item_id"]
            eid = f"fresh-{n}"
            t0 = time.perf_counter()
            r = await client.post("/v1/events", json={
                "event_id": eid, "user_id": user, "item_id": item, "event_type": "view",
                "ts": 1_700_500_000 + n}, headers=HEADERS)
            t_ack = time.perf_counter()
            if r.status_code != 200:
                failed += 1
                continue
            after = (await client.get(f"/v1/users/{user}/recommendations?k=10")).json()
            lat.append((time.perf_counter() - t_ack) * 1e3)
            if after["as_of_event"] != eid or item in [x["item_id"] for x in after["items"]]:
                stale += 1
            del t0
    ms = np.asarray(lat)
    return {"trials": trials, "stale": stale, "failed": failed,
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


async def sustained_events(base: str, info: dict, seconds: float, batch: int = 500,
                           clients: int = 1) -> dict:
    import httpx

    users, items = info["user_ids"], info["item_ids"]
    acked = sent = errors = 0
    before = (await httpx.AsyncClient(base_url=base).get("/health")).json()["tables"]["events"]
    end = time.perf_counter() + seconds
    start = time.perf_counter()

    async def worker(w: int) -> None:
        nonlocal acked, sent, errors
        rnd = random.Random(w)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            n = 0
            while time.perf_counter() < end:
                evs = [{"event_id": f"sus-{w}-{n}-{j}", "user_id": users[rnd.randrange(len(users))],
                        "item_id": items[rnd.randrange(len(items))], "event_type": "view",
                        "ts": 1_701_000_000 + n} for j in range(batch)]
                n += 1
                r = await client.post("/v1/events", json=evs, headers=HEADERS)
                sent += batch
                if r.status_code == 200:
                    acked += r.json()["stored"]
                else:
                    errors += 1

    await asyncio.gather(*(worker(w) for w in range(clients)))
    wall = time.perf_counter() - start
    async with httpx.AsyncClient(base_url=base) as c:
        after = (await c.get("/health")).json()["tables"]["events"]
    return {"sent": sent, "acked": acked, "stored": after - before, "errors": errors,
            "per_s": acked / wall, "seconds": wall}


# -- main -------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=200_000)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=75)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rates", default="100,250,500,1000")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--event-seconds", type=float, default=10.0)
    ap.add_argument("--event-clients", type=int, default=4,
                    help="clients posting batches of 500 events concurrently")
    ap.add_argument("--only", help="routes to load, e.g. no-op,recommendations")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not pin the server and the load generator to separate cores")
    ap.add_argument("--home", help="store folder to build into, or reuse if built already")
    ap.add_argument("--build-only", action="store_true", help="build the store and stop")
    ap.add_argument("--serve", nargs=2, metavar=("HOME", "PORT"), help=argparse.SUPPRESS)
    ap.add_argument("--recall-check", metavar="HOME", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    if args.recall_check:
        recall_check(args.recall_check)
        return
    if args.home and (Path(args.home) / "build.json").is_file():
        home = Path(args.home)  # reuse a store built by an earlier run with the same sizes
        info = json.loads((home / "build.json").read_text())
        if [info.get(k) for k in ("args_users", "args_items", "args_days", "args_seed")] != [
                args.users, args.items, args.days, args.seed]:
            raise SystemExit(f"{home} was built with other sizes; pass another --home")
        print(f"reusing the store in {home}", flush=True)
    else:
        home = Path(args.home or tempfile.mkdtemp(prefix="storemind-serving-"))
        print(f"building the store in {home} ...", flush=True)
        info = build(home, args.users, args.items, args.days, args.seed)
        info.update(args_users=args.users, args_items=args.items, args_days=args.days,
                    args_seed=args.seed)
        (home / "build.json").write_text(json.dumps(info))
    if args.build_only:
        return
    # served from a copy, so that every run starts from the same store (the server writes
    # the posted events into it)
    work = Path(tempfile.mkdtemp(prefix="storemind-serving-run-"))
    shutil.copytree(home, work / "home")
    home = work / "home"
    print({k: v for k, v in info.items() if not k.endswith("_ids")}, flush=True)
    out = subprocess.run([sys.executable, __file__, "--recall-check", str(home)], check=True,
                         capture_output=True, text=True).stdout
    recall = json.loads(out.split("RECALL ", 1)[1])
    print("retrieval", recall, flush=True)
    port = free_port()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--serve", str(home), str(port)]
    host = machine()  # before this process is pinned to one core
    pinned = args.pin and (os.cpu_count() or 1) >= 2
    if pinned:  # the server on CPU 0, this load generator on CPU 1
        cmd = ["taskset", "-c", "0", *cmd]
        os.sched_setaffinity(0, {1})
    server = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        t0 = time.perf_counter()
        httpx.get(base + f"/v1/users/{info['user_ids'][0]}/recommendations", timeout=300)
        load_s = time.perf_counter() - t0
        rates = [int(r) for r in args.rates.split(",")]
        only = args.only.split(",") if args.only else None
        cpu0 = server_cpu(server.pid)
        rows = asyncio.run(load_table(port, info, rates, args.seconds, only, server.pid))
        fresh = asyncio.run(freshness(base, info, args.trials)) if args.trials else None
        print(fresh, flush=True)
        events = (asyncio.run(sustained_events(base, info, args.event_seconds,
                                               clients=args.event_clients))
                  if args.event_seconds else None)
        print(events, flush=True)
        stats = httpx.get(base + "/v1/recommend/live/stats").json()
        cpu_total = server_cpu(server.pid) - cpu0
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)  # the copy is ~0.5 GB at the full size
    meta = {"host": host, "load_s": load_s, "pinned": pinned, "load_before": load_before,
            "load_after": os.getloadavg(), "server_cpu_s": cpu_total, "recall": recall}
    write(args, info, meta, rows, fresh, events, stats)


def recall_lines(r: dict) -> list[str]:
    if not r.get("users"):
        return []
    line = (f"Retrieval ({r['kind']}, nprobe {r.get('nprobe')} as calibrated on load) against "
            f"exact search on this store's own vectors: recall of the top-10 "
            f"{r['recall']:.4f} over {r['users']:,} of the load generator's customers "
            f"({r['recall_excluding_seen']:.4f} with their seen items excluded, as served), "
            f"{r.get('recall_uniform', float('nan')):.4f} over as many customers drawn "
            "uniformly")
    if r.get("items"):
        line += (f"; similar items (nprobe {r.get('nprobe_similar')}), top-11 by cosine: "
                 f"{r['recall_similar']:.4f} for {r['items']:,} of the load generator's items "
                 f"(the most popular), {r.get('recall_similar_uniform', float('nan')):.4f} "
                 "for as many drawn uniformly")
    return [line + ".", ""]


def write(args, info, meta, rows, fresh, events, stats) -> None:
    floor = {r[1]: r[5] for r in rows if r[0] == "no-op"}
    recs = {r[1]: r[5] for r in rows if r[0].startswith("recommendations")}
    at500 = recs.get(500)
    ratio500 = at500 / max(floor[500], 1e-9) if at500 is not None and 500 in floor else None
    goals = [
        ("top-10 recommendations p99 <= 10 ms at 500 req/s",
         f"{at500:.2f} ms" if at500 is not None else "not run",
         at500 is not None and at500 <= 10),
        ("... and within 1.5x of the no-op p99 at 500 req/s",
         f"{ratio500:.2f}x" if ratio500 is not None else "not run",
         ratio500 is not None and ratio500 <= 1.5),
        ("0 stale answers in 10,000 freshness trials",
         f"{fresh['stale']} stale in {fresh['trials']:,}" if fresh else "not run",
         bool(fresh) and fresh["stale"] == 0 and fresh["trials"] >= 10_000),
        (">= 5,000 events/s sustained, stored = acknowledged",
         f"{events['per_s']:,.0f}/s, stored {events['stored']:,} vs acknowledged "
         f"{events['acked']:,}" if events else "not run",
         bool(events) and events["per_s"] >= 5000 and events["stored"] == events["acked"]),
    ]
    cmd = (f"python benchmarks/serving.py --users {args.users} --items {args.items} --days "
           f"{args.days} --rates {args.rates} --seconds {args.seconds} --trials {args.trials} "
           f"--event-seconds {args.event_seconds} --event-clients {args.event_clients}"
           + (" --no-pin" if not args.pin else ""))
    lines = [
        "# Serving under load", "",
        f"Machine: {meta['host']}. Command: `{cmd}`. 1-minute load average before the run "
        f"{meta['load_before'][0]:.2f}, after {meta['load_after'][0]:.2f}.", "",
        f"Store: {info['users']:,} customers with events, {info['items']:,} items, "
        f"{info['events']:,} events (simulated in {info['simulate_s']:.0f} s; bundle fitted in "
        f"{info['fit_s']:.0f} s; first load by the server {meta['load_s']:.1f} s). Served by "
        f"`{stats.get('strategy')}` with `{stats.get('retrieval')}` retrieval. The real "
        "uvicorn server (one worker) in its own process"
        + (" pinned to CPU 0 with taskset; the load generator (asyncio, raw HTTP/1.1 "
           "keep-alive, 64 connections, open loop) in this process pinned to CPU 1."
           if meta["pinned"] else "; the load generator (asyncio, raw HTTP/1.1 keep-alive, "
           "64 connections, open loop) in this process, unpinned."), "",
        *recall_lines(meta["recall"]),
        "## Goals", "",
        markdown_table(["goal", "measured", "met"],
                       [[g, m, "**yes**" if ok else "**no**"] for g, m, ok in goals]), "",
        "## Latency and throughput (ms, measured from each request's scheduled start)", "",
        markdown_table(["route", "target req/s", "achieved req/s", "p50", "p95", "p99",
                        "errors", "server CPU ms / request"], rows, digits=3), "",
        "p99 of top-10 recommendations over the no-op p99 at the same rate: "
        + ", ".join(f"{r} req/s: {recs[r] / max(floor[r], 1e-9):.2f}x" for r in recs
                    if r in floor), "",
    ]
    if fresh:
        lines += [
            "## Freshness", "",
            f"{fresh['trials']:,} trials (read recommendations, post a view of the top item, "
            f"read again): **{fresh['stale']} stale answers**, {fresh['failed']} failed; time "
            f"from the event's 2xx to the next answer: p50 {fresh['p50']:.2f} ms, p99 "
            f"{fresh['p99']:.2f} ms.", "",
        ]
    if events:
        lines += [
            "## Sustained events", "",
            f"Batches of 500 events from {args.event_clients} concurrent client(s), each "
            "posting back to back, for "
            f"{events['seconds']:.1f} s: **{events['per_s']:,.0f} events/s** acknowledged; "
            f"sent {events['sent']:,}, acknowledged {events['acked']:,}, rows added to the "
            f"store's events table {events['stored']:,}, failed requests {events['errors']}.", "",
        ]
    path = RESULTS / "serving.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
