"""Operations over many streams: what ``parallel`` adds per task, and how fast windows cut.

``parallel`` runs 100 streams of 1,000 tokens at concurrency 10; its overhead per task is
measured against the same streams each run directly (``l0()`` one after another, and the
raw streams with no L0 at all). ``create_window`` cuts a 1 MB document with the estimate
and, for the token strategy, with tiktoken (compared with tokenizing the document once).
Times are CPU time of this process, best of several interleaved runs (the machine is shared).
"""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from benchmarks._report import figure, header

TASKS, TOKENS, CONCURRENCY = 100, 1_000, 10
REPEATS = 7
WORDS = [f"t{index} " for index in range(TOKENS)]


def _factory() -> Callable[[], AsyncIterator[str]]:
    async def stream() -> AsyncIterator[str]:
        for word in WORDS:
            yield word
    return stream


async def _raw() -> float:
    start = time.process_time()
    for _ in range(TASKS):
        parts = [chunk async for chunk in _factory()()]
        "".join(parts)
    return time.process_time() - start


async def _direct() -> float:
    from cascadeflow.l0 import l0

    start = time.process_time()
    for _ in range(TASKS):
        await (await l0(_factory())).text()
    return time.process_time() - start


async def _parallel() -> float:
    from cascadeflow.l0 import parallel

    start = time.process_time()
    result = await parallel([_factory() for _ in range(TASKS)], concurrency=CONCURRENCY)
    assert result.success_count == TASKS
    return time.process_time() - start


def _best(measure: Callable[[], Any]) -> float:
    gc.collect()
    return float(anyio.run(measure))


def bench_parallel() -> None:
    header(f"parallel(): {TASKS} tasks x {TOKENS:,} tokens, concurrency {CONCURRENCY}")
    raw, direct, ours = [], [], []
    for _ in range(REPEATS):
        raw.append(_best(_raw))
        direct.append(_best(_direct))
        ours.append(_best(_parallel))
    per_task_vs_direct = (min(ours) - min(direct)) / TASKS * 1e6
    per_task_vs_raw = (min(ours) - min(raw)) / TASKS * 1e6
    figure("overhead per task vs l0() run directly", per_task_vs_direct, "µs", "<= 200 µs",
           ok=per_task_vs_direct <= 200)
    figure("overhead per task vs the raw streams (incl. L0)", per_task_vs_raw, "µs",
           "<= 200 µs", ok=per_task_vs_raw <= 200)
    figure("parallel total", min(ours) * 1e3, "ms", "(info)", ok=True)


def _document() -> str:
    paragraph = ("The quick brown fox jumps over the lazy dog. " * 6).strip()
    text = "\n\n".join(f"{index}. {paragraph} Ünïcödé ✓." for index in range(4_000))
    return (text * (1 + 1_000_000 // len(text)))[:1_000_000]


def bench_windows() -> None:
    from cascadeflow.l0 import create_window
    from cascadeflow.l0._tokens import tiktoken_encoding

    document = _document()
    header(f"create_window() over a {len(document) / 1e6:.1f} MB document (size 2000)")
    for strategy in ("token", "char", "paragraph", "sentence"):
        seconds = min(_timed(lambda s=strategy: create_window(document, strategy=s))
                      for _ in range(3))
        figure(f"{strategy} strategy, estimate", seconds, "s", "<= 0.5 s", ok=seconds <= 0.5)
    encoding = tiktoken_encoding("gpt-4o")
    if encoding is None:
        print("  tiktoken unavailable: token strategy with a tokenizer not measured")
        return
    once = min(_timed(lambda: encoding.encode_ordinary(document)) for _ in range(3))
    windowed = min(_timed(lambda: create_window(document, model="gpt-4o")) for _ in range(3))
    figure("token strategy with tiktoken / tokenizing once", windowed / once, "x", "<= 2.0 x",
           ok=windowed / once <= 2.0)
    paragraphs = min(_timed(lambda: create_window(document, strategy="paragraph",
                                                  model="gpt-4o")) for _ in range(3))
    figure("paragraph strategy with tiktoken / tokenizing once", paragraphs / once, "x",
           "(info)", ok=True)


def _timed(work: Callable[[], Any]) -> float:
    gc.collect()
    start = time.process_time()
    work()
    return time.process_time() - start


def main() -> None:
    bench_parallel()
    bench_windows()


if __name__ == "__main__":
    main()
