"""Uploaded files: a folder of this server's own, emptied as files are read, swept, and never named.

Gradio keeps every file POSTed to /gradio_api/upload in its temporary folder and never deletes it
(a trial stored 240 MB in one second, still there after the server stopped).  Here the server gets a
folder of its own (`report-qa-uploads/<pid>` in the temporary directory; folders of processes no
longer running are removed at start, and this one at exit), a file is deleted once the library has
read it, and anything else older than MAX_AGE is swept away.

`Guard`, a middleware in front of Gradio's routes, lets only those who may change the library
upload at all (and at most as often as their upload limit allows), and gives the client each
file's place inside the folder ("3f2a…/report.pdf") instead of the server's absolute path; a
page event that hands that place back gets the full path again before Gradio reads it.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ..errors import AccessError
from .access import client_address, proxied

log = logging.getLogger(__name__)

# A file nobody has read by then (a bare POST /gradio_api/upload, an upload whose replace-or-keep-
# both question was never answered) is deleted: the longest upload measured took 13 s to read and
# embed, and an editor answers the question within minutes.
MAX_AGE = 15 * 60
SWEEP_EVERY = 60                  # seconds between sweeps
MAX_EVENT_BODY = 32 * 2 ** 20     # a page event's JSON (a 40-turn conversation is well under 2 MB)
REFUSED_BODY = 2 ** 20          # read (and dropped) of a refused request's body before the answer
# Gradio's routes that take a file this page never sends: a screen recording is written to the
# temporary folder and run through ffmpeg for anyone who posts one, reader or not.
UNUSED_ROUTES = ("/gradio_api/process_recording",)


class Uploads:
    def __init__(self, base: str | Path | None = None):
        base = Path(base or os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "report-qa-uploads"
        self.root = base / str(os.getpid())
        for folder in base.glob("*") if base.is_dir() else ():
            if folder.name.isdigit() and not _running(int(folder.name)) or folder == self.root:
                shutil.rmtree(folder, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self._stop = threading.Event()

    def install(self) -> None:
        """Make Gradio keep uploads (and its other temporary files) here; before gradio is imported."""
        os.environ["GRADIO_TEMP_DIR"] = str(self.root)

    def discard(self, path) -> None:
        """Delete an uploaded file that has been read, and its folder once empty."""
        if not path:
            return
        p = Path(path)
        if not self.holds(p):
            return
        p.unlink(missing_ok=True)
        if p.parent != self.root:
            try:
                p.parent.rmdir()
            except OSError:           # another file of the same content is still there
                pass

    def holds(self, path: Path) -> bool:
        try:
            return Path(os.path.abspath(path)).is_relative_to(self.root)
        except (TypeError, ValueError):
            return False

    def sweep(self, max_age: float = MAX_AGE) -> int:
        """Delete files older than `max_age` seconds and the folders they leave empty; how many files."""
        now, gone = time.time(), 0
        for dirpath, dirnames, filenames in os.walk(self.root, topdown=False):
            for name in filenames:
                p = Path(dirpath) / name
                try:
                    if now - p.lstat().st_mtime > max_age:
                        p.unlink()
                        gone += 1
                except OSError:
                    pass
            if Path(dirpath) != self.root:
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
        return gone

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def start_sweeping(self) -> None:
        def run():
            while not self._stop.wait(SWEEP_EVERY):
                gone = self.sweep()
                if gone:
                    log.info("Deleted %d uploaded file(s) nobody read within %d s.", gone, MAX_AGE)
        threading.Thread(target=run, name="report-qa-uploads", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- what the client sees ---------------------------------------------------------------
    def public(self, path: str) -> str:
        """An uploaded file's place as the client is told it: inside this folder, never absolute."""
        p = Path(path)
        return p.relative_to(self.root).as_posix() if self.holds(p) and p.is_absolute() else path

    def local(self, place: str) -> str | None:
        """The file a place given back by a client names, or None when it names nothing of ours."""
        if not isinstance(place, str) or not place or os.path.isabs(place) or ".." in Path(place).parts:
            return None
        return str(self.root / place)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Guard:
    """ASGI middleware (app_kwargs["middleware"]) in front of Gradio's routes: POST …/gradio_api/upload
    only for those who may change the library, within their upload limit, answered with places, not
    paths; POST …/gradio_api/queue/join with those places made paths again; UNUSED_ROUTES, and
    /gradio_api/call/v2/NAME for a NAME that is not public, answer 404."""

    def __init__(self, app, access, uploads: Uploads):
        self.app, self.access, self.uploads = app, access, uploads

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"].rstrip("/")
            if path.endswith("/gradio_api/upload"):
                return await self._upload(scope, receive, send)
            if path.endswith("/gradio_api/queue/join"):
                return await self._join(scope, receive, send)
            if path.endswith(UNUSED_ROUTES) or "/gradio_api/call/v2/" in path and not _public(scope, path):
                from starlette.responses import PlainTextResponse
                return await _refuse(PlainTextResponse("Not Found", status_code=404), scope, receive, send)
        await self.app(scope, receive, send)

    async def _upload(self, scope, receive, send):
        # Plain text: the page shows the refusal as "HTTP 403: <text>".
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse
        request = Request(scope)
        visitor = self.access.visitor_of(_signed_in(scope, request), client_address(request), proxied(request))
        if visitor.role != "editor":
            return await _refuse(PlainTextResponse("不能向资料库添加报告。 This user may not add reports to the library.",
                                                   status_code=403), scope, receive, send)
        try:
            self.access.check_upload(visitor)
        except AccessError as e:
            wait = e.details["wait"]
            return await _refuse(PlainTextResponse(f"上传太频繁，请 {wait} 秒后再试。 Too many uploads: wait {wait} s.",
                                                   status_code=429, headers={"Retry-After": str(wait)}),
                                 scope, receive, send)
        start: dict = {}
        body: list[bytes] = []

        async def keep(message):
            # Gradio answers with a JSON list of absolute paths: held back, and sent as places.
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            data = b"".join(body)
            if start.get("status") == 200:
                try:
                    data = json.dumps([self.uploads.public(p) for p in json.loads(data)]).encode()
                except (ValueError, TypeError):
                    pass
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": headers + [(b"content-length", str(len(data)).encode())]})
            await send({"type": "http.response.body", "body": data})

        await self.app(scope, receive, keep)

    async def _join(self, scope, receive, send):
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > MAX_EVENT_BODY:
                from starlette.responses import PlainTextResponse
                return await PlainTextResponse("Request too large.", status_code=413)(scope, receive, send)
        body = b"".join(chunks)
        if b"gradio.FileData" in body:
            body = self._paths_again(body)
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replay, send)

    def _paths_again(self, body: bytes) -> bytes:
        try:
            event = json.loads(body)
        except ValueError:
            return body

        def walk(x):
            if isinstance(x, dict):
                if (x.get("meta") or {}).get("_type") == "gradio.FileData":
                    full = self.uploads.local(x.get("path"))
                    if full:
                        x["path"] = full
                for v in x.values():
                    walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)

        walk(event.get("data"))
        return json.dumps(event).encode()


def _public(scope, path: str) -> bool:
    """Whether a /call/v2/NAME route names a public endpoint: for any other name (a page event's, or
    none) Gradio's route ends in a KeyError, a 500 and a traceback in the log."""
    name = path.rsplit("/call/v2/", 1)[1].strip("/")
    try:
        fns = scope["app"].get_blocks().fns.values()
    except (KeyError, AttributeError):
        return True
    return any(fn.api_name == name and fn.api_visibility == "public" for fn in fns)


async def _refuse(response, scope, receive, send) -> None:
    """`response` to a request whose body is read first, up to REFUSED_BODY bytes (not kept): a client
    still sending when the answer comes gets its connection reset instead of the answer."""
    size, more = 0, True
    while more and size <= REFUSED_BODY:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await response(scope, receive, send)


def _signed_in(scope, request) -> str | None:
    """The user Gradio's sign-in cookie names (as Gradio's own routes find it), else None."""
    app = scope.get("app")
    cookie = getattr(app, "cookie_id", None)
    tokens = getattr(app, "tokens", None) or {}
    if cookie is None:
        return None
    token = request.cookies.get(f"access-token-{cookie}") or request.cookies.get(f"access-token-unsecure-{cookie}")
    return tokens.get(token)
