#!/usr/bin/env python3
"""Groups a perf profile of `ply serve` by what the server was doing.

    perf record -F 999 -g -p $(pgrep -f 'ply serve') -o perf.data -- sleep 10
    perf script -i perf.data | swift demangle --simplified | scripts/perf-groups.py

Each sample counts once, for the category of the frame nearest its leaf that names one (so a
retain inside JSON encoding counts as JSON encoding, a write syscall made while publishing
counts as a socket write). docs/benchmarks.md shows its output before and after issue 10.
"""
import sys

CATEGORIES = [
    ("JSON encode (Foundation)", ["JSONEncoder", "encodeAsByteBuffer"]),
    ("JSON decode (Foundation)", ["JSONDecoder", "decodeMessage", "String(validating"]),
    ("socket writes (syscall and NIO write path)", ["writev", "sendmsg", "flushNow", "writeToSocket", "__GI___write"]),
    ("connection set-up and teardown (accept, pipelines, upgrades, close)",
     ["Upgrade", "upgrade", "accept", "channelInactive", "close0", "handlerAdded", "handlerRemoved", "removeHandler", "addHandler"]),
    ("Swift concurrency tasks (Hummingbird requests, WebSocket tasks)", ["swift_job_run", "_dispatch_worker_thread"]),
    ("socket reads (syscall and frame or HTTP decoding)", ["readFromSocket", "WebSocketFrameDecoder", "ByteToMessageHandler"]),
    ("authority (rules, lock, publishing)", ["MatchAuthority", "Match.play", "ConnectFour", "Reversi", "MatchRoom"]),
    ("journal and store", ["Journal.", "MemoryStore", "SQLite"]),
    ("tasks handed between event loops (execute, wake-ups)", ["runOneLoopTick", "execute", "eventfd", "wakeup"]),
    ("event loop waiting", ["epoll_wait", "whenReady0"]),
]


def main():
    counts = {name: 0 for name, _ in CATEGORIES}
    counts["other"] = 0
    total = 0
    stack = []

    def flush():
        nonlocal total
        if not stack:
            return
        total += 1
        for frame in stack:  # leaf first
            for name, markers in CATEGORIES:
                if any(marker in frame for marker in markers):
                    counts[name] += 1
                    return
        counts["other"] += 1

    for line in sys.stdin:
        if not line.strip():
            flush()
            stack.clear()
        elif line.startswith((" ", "\t")):
            stack.append(line.strip())
    flush()
    for name, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"{100 * count / max(total, 1):5.1f}%  {name}")
    print(f"({total} samples)")


if __name__ == "__main__":
    main()
