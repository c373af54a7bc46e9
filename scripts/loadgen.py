"""A small, bounded HTTP/1.1 load generator (keep-alive, fixed connections, fixed duration).

Only ever aimed at 127.0.0.1; connections and duration are capped so a typo cannot turn it into
a flood. Used by scripts/bench_reads.py; importable, or

    python scripts/loadgen.py --port 8000 --path /healthz --connections 32 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

HOST = "127.0.0.1"
MAX_CONNECTIONS = 256
MAX_SECONDS = 60.0


@dataclass
class LoadResult:
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    def summary(self) -> str:
        ok = sum(n for s, n in self.statuses.items() if s < 400)
        other = {s: n for s, n in self.statuses.items() if s >= 400}
        text = f"{self.rate:8.0f} req/s  p50 {self.percentile(0.5):7.1f} ms  p99 {self.percentile(0.99):7.1f} ms  ok {ok}"
        if other:
            text += f"  other {dict(sorted(other.items()))}"
        if self.errors:
            text += f"  errors {dict(self.errors)}"
        return text


def get_request(path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def run_load(port: int, next_request: Callable[[int], bytes], *, connections: int = 32, seconds: float = 10.0) -> LoadResult:
    """``connections`` keep-alive clients send back-to-back requests for ``seconds``."""
    if not 1 <= connections <= MAX_CONNECTIONS or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"connections 1..{MAX_CONNECTIONS}, seconds up to {MAX_SECONDS}")
    result = LoadResult(seconds=seconds)
    deadline = time.perf_counter() + seconds
    counter = 0

    async def client() -> None:
        nonlocal counter
        reader = writer = None
        while time.perf_counter() < deadline:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                counter += 1
                started = time.perf_counter()
                writer.write(next_request(counter))
                status, close = await _read_response(reader)  # type: ignore[arg-type]
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                result.statuses[status] += 1
                if close:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                result.errors[type(exc).__name__] += 1
                if writer is not None:
                    writer.close()
                writer = None
                await asyncio.sleep(0.01)
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    request = get_request(args.path)
    result = asyncio.run(run_load(args.port, lambda _: request, connections=args.connections, seconds=args.seconds))
    print(result.summary())


if __name__ == "__main__":
    main()
