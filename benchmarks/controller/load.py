"""One episode on a live server: open-loop load, a canary deployed mid-way, the rollback watched.

The load is open-loop: request i is due at start + i / rate whatever the earlier ones are
doing (one task each), so a slow server shows as latency, never as a lower offered rate. It
goes out on a pool of `CONNECTIONS` keep-alive HTTP/1.1 connections written by hand (httpx
costs ~1 ms of CPU per request, which on a 2-core machine competes with the server); when all
are busy a request waits for one, and the wait shows as send lag (sent - due). Every request carries its own `X-Request-Id`, which the prediction log
keeps: the log then says which arm handled each request, and this file says when it was sent.
Times are wall-clock seconds (time.time()), the clock the server stamps log rows and
revisions with on the same machine.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

POLL_INTERVAL_S = 0.05  # the rollback watcher: 20 Hz
REQUEST_TIMEOUT_S = 10.0
CONNECTIONS = 64  # as the serving benchmark's wrk -c64


@dataclass
class Request:
    """One inference request: when it was due, sent and answered, and what came back."""

    request_id: str
    due: float
    sent: float = 0.0
    done: float = 0.0
    status: int = 0  # 0: no HTTP answer (see error)
    model_version: str = ""
    error: str = ""


@dataclass
class Poll:
    """One look at `GET /api/v1/deployments/{name}`: asked at `asked`, answered at `at`."""

    asked: float
    at: float
    revision: int
    reason: str
    candidate: str | None
    serving_revision: int | None


@dataclass
class Episode:
    """What the client saw of one canary episode."""

    deployment: str
    rate: float
    started: float
    canary_revision: int = 0
    canary_deployed: float = 0.0
    rollback_seen: float | None = None  # first poll showing a later revision without candidate
    rollback_revision: int | None = None
    rollback_reason: str = ""
    rollback_served: float | None = None  # first poll whose serving_revision reached it
    ended: float = 0.0
    requests: list[Request] = field(default_factory=list)
    polls: list[Poll] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["requests"], out["polls"]  # summarised by the analysis, not stored raw
        return out


async def run_episode(url: str, deployment: str, bodies: Sequence[bytes], *, rate: float,
                      warmup_s: float, deploy_canary: Callable[[], int], tail_s: float,
                      give_up_s: float) -> Episode:
    """Load `deployment` at `rate` req/s; after `warmup_s` call `deploy_canary` (returns the
    canary's revision) and keep the load on until the rollback is served, plus `tail_s`."""
    episode = Episode(deployment, rate, started=time.time())
    host, port = httpx.URL(url).host, httpx.URL(url).port
    pool = Connections(host, port, CONNECTIONS)
    await pool.open()
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
        stop = asyncio.Event()
        load = asyncio.create_task(_load(pool, deployment, bodies, rate, episode, stop))
        await asyncio.sleep(warmup_s)
        episode.canary_revision = await asyncio.to_thread(deploy_canary)
        episode.canary_deployed = time.time()
        await _watch(client, episode, give_up_s)
        await asyncio.sleep(tail_s)
        stop.set()
        await load
        episode.ended = time.time()
    pool.close()
    return episode


class Connections:
    """Keep-alive HTTP/1.1 connections to one server, lent to one request at a time."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self._free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = \
            asyncio.Queue()
        self._all: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        for _ in range(self.size):
            self._free.put_nowait(await self._connect())

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._all.add(writer)
        return reader, writer

    async def post(self, path: str, body: bytes, request: Request) -> tuple[int, bytes]:
        """Send one POST when a connection is free (stamping `request.sent`); return the
        status and body. A connection that failed or timed out is replaced."""
        reader, writer = await self._free.get()
        request.sent = time.time()
        head = (f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
                f"x-request-id: {request.request_id}\r\n\r\n").encode()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                writer.write(head + body)
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                data = await reader.readexactly(length)
        except BaseException:
            writer.close()
            self._all.discard(writer)
            self._free.put_nowait(await self._connect())
            raise
        self._free.put_nowait((reader, writer))
        return status, data

    def close(self) -> None:
        for writer in self._all:
            writer.close()


async def _load(pool: Connections, deployment: str, bodies: Sequence[bytes],
                rate: float, episode: Episode, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    start_mono, start_wall = loop.time(), time.time()
    path = f"/v2/models/{deployment}/infer"
    tasks: set[asyncio.Task[None]] = set()
    i = 0
    while not stop.is_set():
        due = start_mono + i / rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        request = Request(f"{deployment}-{i}", due=start_wall + i / rate)
        episode.requests.append(request)
        task = asyncio.create_task(_send(pool, path, bodies[i % len(bodies)], request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    if tasks:
        await asyncio.wait(tasks)


async def _send(pool: Connections, path: str, body: bytes, request: Request) -> None:
    try:
        request.status, data = await pool.post(path, body, request)
    except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
        request.error = type(exc).__name__
    else:
        if request.status == 200:
            request.model_version = str(json.loads(data).get("model_version", ""))
        else:
            request.error = data[:200].decode(errors="replace")
    request.done = time.time()


async def _watch(client: httpx.AsyncClient, episode: Episode, give_up_s: float) -> None:
    """Poll the deployment until a revision after the canary drops it and is being served."""
    deadline = time.time() + give_up_s
    while time.time() < deadline:
        asked = time.time()
        try:
            status = (await client.get(f"/api/v1/deployments/{episode.deployment}")).json()
        except httpx.HTTPError:
            await asyncio.sleep(POLL_INTERVAL_S)
            continue
        now = time.time()
        candidate = (status.get("candidate") or {}).get("ref")
        episode.polls.append(Poll(asked, now, status["revision"], status["reason"], candidate,
                                  status.get("serving_revision")))
        if episode.rollback_seen is None and status["revision"] > episode.canary_revision \
                and candidate is None:
            episode.rollback_seen = now
            episode.rollback_revision = status["revision"]
            episode.rollback_reason = status["reason"]
        if episode.rollback_revision is not None and \
                (status.get("serving_revision") or 0) >= episode.rollback_revision:
            episode.rollback_served = now
            return
        await asyncio.sleep(POLL_INTERVAL_S)
