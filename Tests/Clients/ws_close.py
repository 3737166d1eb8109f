"""Python `websockets` closes a spectator's WebSocket with each code given (and a reason), and
reports the close frame the server sent back for each.

    python3 ws_close.py PORT MATCH CODE...

Prints one JSON object: {"CODE": [code received, reason received], ...}."""
import asyncio
import json
import sys

import websockets


async def main(port, match, codes):
    report = {}
    for code in codes:
        async with websockets.connect(f"ws://127.0.0.1:{port}/matches/{match}/ws", open_timeout=10) as ws:
            await ws.recv()  # welcome
            await ws.close(code=code, reason="done for today")
            report[str(code)] = [ws.close_code, ws.close_reason]
    print(json.dumps(report))


asyncio.run(main(int(sys.argv[1]), sys.argv[2], [int(code) for code in sys.argv[3:]]))
