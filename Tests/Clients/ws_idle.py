"""A WebSocket client ply did not write (Python `websockets`): it takes a seat's WebSocket,
sends a command, then stays open and idle for IDLE seconds (answering the server's pings, as
every client library does, and sending none of its own), then sends another command.

    python3 ws_idle.py PORT MATCH TOKEN IDLE

Prints one JSON object: every message received before, during and after the idle time, and
how the connection ended (`closed_during_idle` holds the close code if the server closed it
while idle)."""
import asyncio
import json
import sys

import websockets


async def receive_until(ws, predicate, seconds=10):
    got = []
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), seconds))
        got.append(message)
        if predicate(message):
            return got


async def main(port, match, token, idle):
    report = {"before": [], "during": [], "after": [], "closed_during_idle": None, "close": None}
    uri = f"ws://127.0.0.1:{port}/matches/{match}/ws?after=0"
    async with websockets.connect(uri, additional_headers={"Authorization": f"Bearer {token}"},
                                  ping_interval=None, open_timeout=10) as ws:
        report["before"] += await receive_until(ws, lambda m: m.get("type") == "joined" and m.get("seat") == 1)
        await ws.send(json.dumps({"type": "play", "move": "4", "v": 3, "id": 1}))
        report["before"] += await receive_until(ws, lambda m: m.get("type") == "ack")
        try:
            while True:
                report["during"].append(json.loads(await asyncio.wait_for(ws.recv(), idle)))
        except asyncio.TimeoutError:
            pass
        except websockets.ConnectionClosed as closed:
            report["closed_during_idle"] = closed.rcvd.code if closed.rcvd else 1006
        if report["closed_during_idle"] is None:
            # Not this seat's turn: answered with an error, on the same connection.
            await ws.send(json.dumps({"type": "play", "move": "4", "v": 4, "id": 2}))
            report["after"] += await receive_until(ws, lambda m: m.get("id") == 2)
    report["close"] = ws.close_code
    print(json.dumps(report))


asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])))
