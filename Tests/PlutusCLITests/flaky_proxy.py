"""A loopback HTTP proxy in front of `plutus serve` that misbehaves once, for the Swift
client's retry tests.

    flaky_proxy.py PORT UPSTREAM MODE LOG

MODE `drop`: the first POST /v1/usage is forwarded and recorded by Plutus, then the
connection is closed without the answer (the client must send it again with the same
Idempotency-Key and get Plutus's stored answer). MODE `busy`: the first POST /v1/usage is
answered 429, the second 503, neither forwarded. Every request's path and Idempotency-Key
goes to LOG, one JSON object per line. Exits after 120 seconds.
"""

import json
import socket
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, UPSTREAM, MODE, LOG = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3], sys.argv[4]
lock = threading.Lock()
usage_posts = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        global usage_posts
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        key = self.headers.get("Idempotency-Key")
        with lock:
            with open(LOG, "a") as log:
                try:
                    parsed = json.loads(body)
                    events = len(parsed) if isinstance(parsed, list) else 1
                except ValueError:
                    events = 0
                log.write(json.dumps({"path": self.path, "key": key, "events": events}) + "\n")
            if self.path == "/v1/usage":
                usage_posts += 1
            n = usage_posts if self.path == "/v1/usage" else 0
        if MODE == "busy" and n in (1, 2):
            status = 429 if n == 1 else 503
            payload = json.dumps({"error": "busy", "code": "busy"}).encode()
            self.send_response(status)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        status, headers, answer = forward(self.path, body, self.headers)
        if MODE == "drop" and n == 1:
            # Plutus has recorded it; the client never hears so.
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in headers:
            if name.lower() in ("content-type", "retry-after"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def forward(path, body, headers):
    request = urllib.request.Request(UPSTREAM + path, data=body, method="POST")
    for name in ("Authorization", "Content-Type", "Idempotency-Key", "User-Agent"):
        if headers.get(name):
            request.add_header(name, headers.get(name))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.getheaders(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.items(), error.read()


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
threading.Timer(120, server.shutdown).start()
print("ready", flush=True)
server.serve_forever()
