"""Test servers on 127.0.0.1: a plain HTTP file server with fault injection, and moto's S3.

``FaultServer(root)`` serves the files under ``root`` with HEAD and single-range GET. Faults are
injected by count, never by time: ``server.fail(name, "503", "drop")`` makes the next two GETs of
``name`` answer 503 and then close the connection without an answer; ``server.every(n, kinds)``
gives every n-th GET of any file the next fault of ``kinds`` in turn. Kinds:

* ``503``: status 503; ``404``: status 404 (the file looks gone for that one request);
* ``drop``: the connection is closed before any answer (a reset, as the client sees it);
* ``truncate``: the headers promise the whole range, half the body comes, then the close;
* ``stall``: the headers and a few bytes come, then nothing for ``stall_s`` seconds, then the
  close (a client read timeout shorter than ``stall_s`` turns it into a timeout);
* ``slow``: the whole body, in 4 KiB pieces with a short pause between (no error at all).

``requests`` (GETs), ``heads``, ``bytes_sent`` and ``faults_done`` count per file name.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_KINDS = ("503", "404", "drop", "truncate", "stall", "slow")


class FaultServer:
    def __init__(self, root: str, stall_s: float = 3.0):
        self.root = os.path.abspath(root)
        self.stall_s = stall_s
        self.lock = threading.Lock()
        self.queued: dict[str, list[str]] = defaultdict(list)
        self.period, self.cycle, self.gets = 0, (), 0
        self.requests: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.heads: Counter[str] = Counter()
        self.faults_done: Counter[str] = Counter()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    def fail(self, name: str, *kinds: str) -> None:
        """The next GETs of ``name`` get these faults, one each, in order."""
        assert all(k in FAULT_KINDS for k in kinds), kinds
        with self.lock:
            self.queued[name].extend(kinds)

    def every(self, n: int, kinds: tuple[str, ...]) -> None:
        """Every ``n``-th GET (of any file) gets the next fault of ``kinds``; n=0 stops it."""
        with self.lock:
            self.period, self.cycle, self.gets = n, tuple(kinds), 0

    def next_fault(self, name: str) -> str | None:
        with self.lock:
            self.requests[name] += 1
            if self.queued.get(name):
                fault = self.queued[name].pop(0)
            elif self.period:
                self.gets += 1
                if self.gets % self.period:
                    return None
                fault = self.cycle[(self.gets // self.period - 1) % len(self.cycle)]
            else:
                return None
            self.faults_done[fault] += 1
            return fault


def _handler(server: FaultServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def _file(self) -> tuple[str, str] | None:
            name = self.path.split("?", 1)[0].lstrip("/")
            full = os.path.normpath(os.path.join(server.root, name))
            if not full.startswith(server.root + os.sep) or not os.path.isfile(full):
                return None
            return name, full

        def _not_found(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self) -> None:
            found = self._file()
            if found is None:
                return self._not_found()
            with server.lock:
                server.heads[found[0]] += 1
            self.send_response(200)
            self.send_header("Content-Length", str(os.path.getsize(found[1])))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()

        def do_GET(self) -> None:
            found = self._file()
            if found is None:
                return self._not_found()
            name, full = found
            fault = server.next_fault(name)
            if fault == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if fault in ("503", "404"):
                self.send_response(int(fault))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            size = os.path.getsize(full)
            start, end = 0, size - 1
            match = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
            if match:
                start = int(match.group(1))
                end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
            with open(full, "rb") as f:
                f.seek(start)
                body = f.read(end - start + 1)
            self.send_response(206 if match else 200)
            if match:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self._send(name, body, fault)

        def _send(self, name: str, body: bytes, fault: str | None) -> None:
            if fault == "truncate":
                body = body[: len(body) // 2]
            elif fault == "stall":
                self._write(name, body[:100])
                time.sleep(server.stall_s)
                body = b""
            if fault == "slow":
                for at in range(0, len(body), 4096):
                    self._write(name, body[at : at + 4096])
                    time.sleep(0.001)
            else:
                self._write(name, body)
            if fault in ("truncate", "stall"):
                self.close_connection = True

        def _write(self, name: str, data: bytes) -> None:
            self.wfile.write(data)
            self.wfile.flush()
            with server.lock:
                server.bytes_sent[name] += len(data)

    return Handler


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoS3:
    """moto's S3 server on 127.0.0.1 with the AWS variables set for it (restored on exit)."""

    VARS = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def __enter__(self) -> MotoS3:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.saved = {k: os.environ.get(k) for k in [*self.VARS, "AWS_ENDPOINT_URL"]}
        os.environ.update(self.VARS, AWS_ENDPOINT_URL=self.endpoint)
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def upload(self, bucket: str, files: dict[str, str]) -> None:
        """Create ``bucket`` and put each local file at its key (``{key: local path}``)."""
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint)
        client.create_bucket(Bucket=bucket)
        for key, path in files.items():
            client.upload_file(path, bucket, key)
