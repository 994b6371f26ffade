"""Load generation shared by the serving and risk benchmarks: a light open-loop HTTP/1.1
client and the server's CPU time from /proc."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np

KEY = "bench-key"


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: a pool of ``size``
    connections, each request pre-encoded. It costs the load generator a few tens of
    microseconds per request (httpx costs about a millisecond), so on 2 shared cores the
    generator takes little from the server it measures."""

    def __init__(self, host: str, port: int, size: int = 64, key: str = KEY):
        self.host, self.port, self.size, self.key = host, port, size, key
        self.pool: asyncio.Queue = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.pool.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def close(self) -> None:
        while not self.pool.empty():
            _, writer = self.pool.get_nowait()
            writer.close()

    def encode(self, method: str, path: str, body: bytes | None) -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if method == "POST":
            head += f"X-API-Key: {self.key}\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(body or b'')}\r\n\r\n"
        return head.encode() + (body or b"")

    async def request(self, raw: bytes) -> int:
        reader, writer = await self.pool.get()
        try:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            writer.close()
            reader, writer = await asyncio.open_connection(self.host, self.port)
            status = 599
        finally:
            self.pool.put_nowait((reader, writer))
        return status


async def open_loop(client: RawClient, make, rate: float, seconds: float) -> dict:
    """Send ``make(n)`` requests at ``rate`` per second for ``seconds``; latency per request
    is measured from its scheduled start (so queueing in the client counts too)."""
    lat, errors = [], 0
    total = int(rate * seconds)
    raws = [client.encode(*make(n)) for n in range(total)]  # built before the clock starts
    tasks = []
    start = time.perf_counter()

    async def one(n: int, due: float) -> None:
        nonlocal errors
        if await client.request(raws[n]) >= 400:
            errors += 1
        lat.append(time.perf_counter() - due)

    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    ms = np.asarray(lat) * 1e3
    return {"sent": total, "per_s": total / wall, "errors": errors,
            "p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99)), "max": float(ms.max())}


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
