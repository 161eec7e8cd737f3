"""Who may do what on the page and its API, and how often.

The mode is fixed at start from the address and the options (app.py):

    local      on this machine only (127.0.0.1, ::1), no --auth: one user, no sign-in, the page may
               change the library, as before sharing existed
    accounts   --auth FILE: everyone signs in; readers ask, compare and read figures, editors also
               add and remove reports
    read-only  any other address (or --share) without --auth: anyone who reaches it may ask, no one
               may change the library from the web
    open       that, with --open-uploads: anyone who reaches it may also add and remove reports

Every event and route that changes the library asks `editor(request)` on the server, so hiding the
upload button is a courtesy, not the protection.  A request that came through a reverse proxy (it
carries X-Forwarded-For, Forwarded or X-Real-IP) is not "this machine", even on 127.0.0.1.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from ..errors import AccessError
from ..users import Users

PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")
LOCAL_USER = "web"                 # the change log's user for the one user of a local page
# Per client (a signed-in user, else an address).  An ask costs 10-30 ms of one core (README,
# Performance), so 60 a minute from each of 20 clients is at most a fifth of this 2-core machine; a
# person asks a few a minute.  An upload is read and embedded for 5-20 s on both cores, so 30 an hour
# keeps one editor's uploads to a sixth of the machine.  A burst (a page of examples clicked, a folder
# of reports uploaded one by one) may go at once, up to the second number.
ASKS_PER_MINUTE, ASK_BURST = 60, 20
# Events that may wait in the server's queue (--queue-size); beyond, a client is told the queue is full
# (HTTP 503) rather than waiting behind thousands.
QUEUE_SIZE = 256
UPLOADS_PER_HOUR, UPLOAD_BURST = 30, 10
MAX_CLIENTS = 10_000               # buckets kept (least recently used dropped): ~200 bytes each
# Sign-in: after this many wrong passwords for one name within LOGIN_WINDOW s, that name is refused
# without a check for LOGIN_WINDOW s (each check costs ~30 ms of scrypt; see qa/users.py).
LOGIN_FAILURES, LOGIN_WINDOW = 5, 60.0


@dataclass(frozen=True)
class Visitor:
    name: str            # the change log's user: a signed-in name, "web" (local), "anonymous@ADDRESS" (open)
    role: str            # "editor" or "reader"
    key: str             # whose rate limits: the user's name, else the client's address


class Limiter:
    """A token bucket per client: `rate` per `per` seconds, up to `burst` at once (never more than
    `rate`).  A rate of 0 is no limit."""

    def __init__(self, rate: float, per: float, burst: int):
        self.rate = rate / per if rate > 0 else 0.0
        self.burst = float(max(1, min(burst, rate)))
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """0 when `key` may go ahead now (and it is counted), else the seconds until it may."""
        if not self.rate:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1 if not wait else tokens, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return wait


class Access:
    def __init__(self, host: str, users: Users | None = None, open_uploads: bool = False, share: bool = False,
                 asks_per_minute: float | None = None, uploads_per_hour: float | None = None):
        """The limits default to ASKS_PER_MINUTE and UPLOADS_PER_HOUR on a shared server, and to none on
        this machine alone (its one user's scripts are not held back); 0 is no limit."""
        self.users = users
        self.mode = ("accounts" if users else "open" if open_uploads
                     else "local" if is_loopback(host) and not share else "read-only")
        shared = self.mode != "local"
        self.asks = Limiter(_given(asks_per_minute, ASKS_PER_MINUTE * shared), 60, ASK_BURST)
        self.uploads = Limiter(_given(uploads_per_hour, UPLOADS_PER_HOUR * shared), 3600, UPLOAD_BURST)
        self._failures: dict[str, list[float]] = {}
        self._failures_lock = threading.Lock()

    # -- who is asking ----------------------------------------------------------------
    def visitor(self, request) -> Visitor:
        """The visitor behind a gr.Request (or a Starlette request, with `username` passed in)."""
        return self.visitor_of(getattr(request, "username", None), client_address(request), proxied(request))

    def visitor_of(self, username: str | None, address: str, via_proxy: bool) -> Visitor:
        if self.mode == "accounts":
            # A name removed from the file since it signed in keeps reading (Gradio's sign-in holds)
            # but changes nothing.
            role = (self.users.role(username) if username else None) or "reader"
            return Visitor(username or f"anonymous@{address}", role, username or address)
        if self.mode == "local" and not via_proxy:
            return Visitor(LOCAL_USER, "editor", address)
        if self.mode == "open":
            return Visitor(f"anonymous@{address}", "editor", address)
        return Visitor(f"anonymous@{address}", "reader", address)

    def may_change(self, request) -> bool:
        return self.visitor(request).role == "editor"

    def editor(self, request) -> str:
        """The user to write into the change log; AccessError when this visitor may not change the library."""
        v = self.visitor(request)
        if v.role != "editor":
            raise AccessError(f"{v.name or 'This visitor'} may not change the library ({self.mode}).",
                              code="read_only" if self.mode in ("read-only", "local") else "not_allowed")
        return v.name

    # -- how often ----------------------------------------------------------------------
    def check_ask(self, who) -> None:
        """AccessError (code rate_limited, details `wait`) when the visitor (a Visitor, or a request)
        has asked too often lately; otherwise the question is counted."""
        self._check(self.asks, who if isinstance(who, Visitor) else self.visitor(who), "questions")

    def check_upload(self, visitor: Visitor) -> None:
        self._check(self.uploads, visitor, "uploads")

    def _check(self, limiter: Limiter, visitor: Visitor, what: str) -> None:
        wait = limiter.wait(visitor.key)
        if wait:
            raise AccessError(f"Too many {what} from this client: wait {wait:.0f} s.", code="rate_limited",
                              wait=max(1, round(wait)))

    # -- signing in (Gradio's login form) ------------------------------------------------
    async def sign_in(self, name: str, password: str) -> bool:
        """Gradio's `auth` callable: the scrypt check runs in a worker thread, so sign-ins do not hold
        up the server's event loop; a name with too many wrong passwords lately is refused unchecked."""
        import anyio
        now = time.monotonic()
        with self._failures_lock:
            recent = [t for t in self._failures.get(name, []) if now - t < LOGIN_WINDOW]
            self._failures[name] = recent
            if len(recent) >= LOGIN_FAILURES:
                return False
        ok = await anyio.to_thread.run_sync(self.users.check, name, password)
        if not ok:
            with self._failures_lock:
                self._failures.setdefault(name, []).append(now)
                if len(self._failures) > MAX_CLIENTS:
                    self._failures.pop(next(iter(self._failures)))
        return ok

    # -- what the startup line says --------------------------------------------------------
    def describe(self) -> str:
        if self.mode == "accounts":
            n = self.users.counts()
            return (f"sign-in required ({self.users.path}: {n['editor']} editor{'s' * (n['editor'] != 1)}, "
                    f"{n['reader']} reader{'s' * (n['reader'] != 1)}); editors may add and remove reports")
        if self.mode == "local":
            return "this machine only, no sign-in; the page may add and remove reports"
        if self.mode == "open":
            return "open: anyone who reaches this address may add and remove reports (--open-uploads)"
        return ("read-only: reachable beyond this machine without --auth, so no one can add or remove reports "
                "from the web (--auth FILE gives editors; --open-uploads lets anyone)")


def _given(value: float | None, default: float) -> float:
    return default if value is None else value


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name) is this machine only."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in found)


def proxied(request) -> bool:
    headers = getattr(request, "headers", None) or {}
    return any(h in headers for h in PROXY_HEADERS)


def client_address(request) -> str:
    """The client's address; behind a reverse proxy on this machine, the one the proxy names last in
    X-Forwarded-For (it appends the address it saw; earlier entries are the client's own claims)."""
    client = getattr(request, "client", None)
    peer = getattr(client, "host", None) or "unknown"
    forwarded = (getattr(request, "headers", None) or {}).get("x-forwarded-for")
    if forwarded:
        try:
            if ipaddress.ip_address(peer).is_loopback:
                return forwarded.split(",")[-1].strip() or peer
        except ValueError:
            pass
    return peer
