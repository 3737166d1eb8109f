"""Plays a short game with Python `websockets`, which offers permessage-deflate by default:
seat 0 plays a move, seat 1 resigns. Prints what was agreed and what each seat saw.

    python3 ws_compressed.py PORT

Prints one JSON object: {"extensions": [...], "seen": [[types of seat 0], [types of seat 1]], "moved": ...}."""
import asyncio
import json
import sys
import urllib.request

import websockets

PORT = int(sys.argv[1])
BASE = f"http://127.0.0.1:{PORT}"


def post(path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST", headers=headers)
    return json.load(urllib.request.urlopen(request))


async def seat(match, grant, act, seen, agreed):
    async with websockets.connect(f"ws://127.0.0.1:{PORT}/matches/{match}/ws?after=0",
                                  additional_headers={"Authorization": "Bearer " + grant["token"]}) as ws:
        agreed.append(ws.response.headers.get("Sec-WebSocket-Extensions"))
        async for text in ws:
            message = json.loads(text)
            seen.append(message["type"])
            if message["type"] == "ended":
                return
            reply = act(message)
            if reply:
                await ws.send(json.dumps(reply))


async def main():
    match = post("/matches", {"game": "connect4"})["id"]
    ann = post(f"/matches/{match}/seats", {"name": "ann"})
    bob = post(f"/matches/{match}/seats", {"name": "bob"})
    seen = [[], []]
    agreed = []
    # Seat 0 plays 4 once both have joined; seat 1 resigns once it sees the move.
    first = lambda m: {"id": 1, "type": "play", "move": "4", "v": 3} if m["type"] == "joined" and m.get("seat") == 1 else None
    second = lambda m: {"id": 2, "type": "resign", "v": m["v"]} if m["type"] == "moved" else None
    await asyncio.wait_for(asyncio.gather(seat(match, ann, first, seen[0], agreed), seat(match, bob, second, seen[1], agreed)), 30)
    print(json.dumps({"extensions": agreed, "seen": seen}))


asyncio.run(main())
