"""Loads pages in headless Chromium at a narrow viewport and reports how they fit.

Usage: narrow_viewport.py CHROMIUM WIDTH URL [URL ...]

Drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: Chromium
reads NUL-separated JSON commands on fd 3 and writes replies and events on fd 4), with
nothing but the standard library. For each URL it prints one JSON line: the document's
scrollWidth, the window's innerWidth, and the right edge of every right-aligned table cell
(the money and count columns), so a test can check that nothing scrolls sideways and every
amount is on screen.
"""

import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time

MEASURE = """JSON.stringify({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  cells: Array.from(document.querySelectorAll("td.r, th.r"))
    .filter(function (cell) { return getComputedStyle(cell).display !== "none"; })
    .map(function (cell) { return Math.ceil(cell.getBoundingClientRect().right); })
})"""


def high_fd(fd):
    """The same pipe end on a descriptor above 10, so dup2 onto 3 and 4 never clobbers it."""
    duplicate = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return duplicate


class DevTools:
    def __init__(self, chromium, profile):
        to_chrome_read, to_chrome_write = map(high_fd, os.pipe())
        from_chrome_read, from_chrome_write = map(high_fd, os.pipe())

        def wire():
            os.dup2(to_chrome_read, 3)
            os.dup2(from_chrome_write, 4)

        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--remote-debugging-pipe", "--user-data-dir=" + profile, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=wire, pass_fds=(3, 4))
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self.writer = os.fdopen(to_chrome_write, "wb", buffering=0)
        self.reader = os.fdopen(from_chrome_read, "rb", buffering=0)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def read_message(self, deadline):
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = self.reader.read(65536)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.writer.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self.read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method, session, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    del self.events[index]
                    return event
            self.events.append(self.read_message(deadline))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def main():
    chromium, width, urls = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    tools = DevTools(chromium, tempfile.mkdtemp(prefix="plutus-narrow-"))
    try:
        for url in urls:
            target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            tools.call("Emulation.setDeviceMetricsOverride",
                       {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": True}, session)
            tools.call("Page.enable", {}, session)
            tools.call("Page.navigate", {"url": url}, session)
            tools.wait_for("Page.loadEventFired", session)
            result = tools.call("Runtime.evaluate", {"expression": MEASURE, "returnByValue": True}, session)
            figures = json.loads(result["result"]["value"])
            figures["url"] = url
            print(json.dumps(figures), flush=True)
            tools.call("Target.closeTarget", {"targetId": target})
    finally:
        tools.close()


if __name__ == "__main__":
    main()
