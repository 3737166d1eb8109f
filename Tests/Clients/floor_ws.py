"""Python `websockets` plays both seats of a pair on the WebSocket floor (`ply floor --http`):
the first seat sends a move, both seats read it, the mover then reads its acknowledgement; a
third socket opened late reads the move it missed.

    python3 floor_ws.py PORT

Prints one JSON object: {"mover": [messages], "other": [messages], "late": [messages]}."""
import asyncio
import json
import sys

import websockets

MOVE = '{"move":"4","seat":0,"type":"moved","v":4}'


async def main(port):
    url = f"ws://127.0.0.1:{port}/floor/py/ws?after=0"
    async with websockets.connect(url, open_timeout=10) as mover, websockets.connect(url, open_timeout=10) as other:
        await mover.send(MOVE)
        mine = [await mover.recv(), await mover.recv()]
        theirs = [await other.recv()]
        async with websockets.connect(url, open_timeout=10) as late:
            missed = [await late.recv()]
        await mover.ping()
    print(json.dumps({"mover": mine, "other": theirs, "late": missed}))


asyncio.run(main(int(sys.argv[1])))
