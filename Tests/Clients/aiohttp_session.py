"""A client no one on this project wrote (Python aiohttp): one ClientSession with a pool of a
single connection creates a match, takes both seats, then opens the first seat's WebSocket
(aiohttp reuses the pooled, kept-alive connection for it), plays a move on it, and creates
another match afterwards.

    python3 aiohttp_session.py PORT

Prints one JSON object: the HTTP statuses, the messages the WebSocket received, how many
TCP connections the session opened, and how the WebSocket closed."""
import asyncio
import json
import sys

import aiohttp


async def main(port):
    base = f"http://127.0.0.1:{port}"
    report = {"statuses": [], "messages": [], "connections": 0, "close": None}
    trace = aiohttp.TraceConfig()

    async def created(session, context, params):
        report["connections"] += 1

    trace.on_connection_create_end.append(created)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[trace]) as session:
        async with session.post(f"{base}/matches", json={"game": "connect4"}) as response:
            report["statuses"].append(response.status)
            match = (await response.json())["id"]
        tokens = []
        for name in ("ann", "bob"):
            async with session.post(f"{base}/matches/{match}/seats", json={"name": name}) as response:
                report["statuses"].append(response.status)
                tokens.append((await response.json())["token"])
        async with session.ws_connect(f"{base}/matches/{match}/ws?after=0",
                                      headers={"Authorization": f"Bearer {tokens[0]}"}, autoping=True) as ws:
            report["statuses"].append(101)
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                event = json.loads(message.data)
                report["messages"].append(event)
                if event.get("type") == "joined" and event.get("seat") == 1:
                    await ws.send_str(json.dumps({"type": "play", "move": "4", "v": event["v"], "id": 1}))
                if event.get("type") == "ack":
                    await ws.close()
            report["close"] = ws.close_code
        async with session.post(f"{base}/matches", json={"game": "reversi"}) as response:
            report["statuses"].append(response.status)
    print(json.dumps(report))


asyncio.run(main(int(sys.argv[1])))
