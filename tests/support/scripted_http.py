"""A loopback HTTP server answering from a script, recording every request: for reply shapes
and redirects the sandbox (which follows the docs) never produces."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedServer:
    """`answers[path] = (status, body, headers)`, or a list of them answered in turn (the last
    one repeats); a path without an answer gets 404."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.answers: dict[str, Any] = {}
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                path = self.path.split("?", 1)[0]
                server.requests.append({"method": self.command, "path": path, "headers": dict(self.headers),
                                        "body": self.rfile.read(length).decode(errors="replace")})
                status, body, headers = server.next_answer(path)
                raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def next_answer(self, path: str) -> tuple[int, Any, dict[str, str]]:
        answer = self.answers.get(path, (404, {"error": "no such path"}, {}))
        if isinstance(answer, list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return answer

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
