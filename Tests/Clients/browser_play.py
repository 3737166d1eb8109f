"""Drives headless Chromium over the DevTools protocol (a WebSocket: Python `websockets`):
opens a page, waits until it sets window.plyResult, takes a screenshot, and prints the result.

    python3 browser_play.py CHROMIUM PAGE_URL SCREENSHOT_PATH

Prints one JSON object: {"result": ..., "console": [...]} (result null if the page never set it)."""
import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main(chromium, url, screenshot):
    port = free_port()
    profile = tempfile.mkdtemp(prefix="ply-chromium-")
    process = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                                f"--remote-debugging-port={port}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = {"result": None, "console": []}
    try:
        target = None
        # Chromium may take a while to start on a busy machine.
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as response:
                    target = next(t for t in json.load(response) if t["type"] == "page")
                break
            except Exception:
                time.sleep(0.1)
        if target is None:
            raise SystemExit("chromium's DevTools did not answer within 60 s")
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as devtools:
            ids = iter(range(1, 1_000_000))

            async def call(method, **params):
                number = next(ids)
                await devtools.send(json.dumps({"id": number, "method": method, "params": params}))
                while True:
                    message = json.loads(await devtools.recv())
                    if message.get("method") == "Runtime.consoleAPICalled":
                        report["console"].append(" ".join(str(a.get("value", a.get("description"))) for a in message["params"]["args"]))
                    if message.get("method") == "Runtime.exceptionThrown":
                        report["console"].append(message["params"]["exceptionDetails"].get("text", "exception"))
                    if message.get("id") == number:
                        return message.get("result", {})

            await call("Runtime.enable")
            await call("Page.enable")
            await call("Page.navigate", url=url)
            deadline = time.time() + 60
            while time.time() < deadline:
                answer = await call("Runtime.evaluate", expression="JSON.stringify(window.plyResult ?? null)", returnByValue=True)
                value = json.loads(answer.get("result", {}).get("value") or "null")
                if value is not None:
                    report["result"] = value
                    break
                await asyncio.sleep(0.2)
            shot = await call("Page.captureScreenshot", format="png")
            if "data" in shot:
                with open(screenshot, "wb") as file:
                    file.write(base64.b64decode(shot["data"]))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(report))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
