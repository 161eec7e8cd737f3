"""A library a team shares: readers ask, editors also change it, and nobody else does.

Real app.py servers over a small library (the bundled report): one with --auth (an editor, alice,
and a reader, bob, made with `python -m qa user add`), one on 0.0.0.0 without --auth (read-only),
one on 0.0.0.0 with --open-uploads and low limits.  Requests are made the way a hostile client
would make them: Gradio's own routes (/gradio_api/upload, /queue/join with a page event's index,
/call/ask), with and without a signed-in cookie; and in the system Chromium, as each user.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.test_app import ANSWER_TIMEOUT, CHROMIUM_ARGS, DESKTOP, ROOT, chromium, running_app  # noqa: F401

PASSWORDS = {"alice": "alice-secret-1", "bob": "bob-secret-22"}
TECH_Q = "技术合同成交额增长了多少？"
UPLOAD_TIMEOUT = 240         # s: reading and embedding a report's part on a busy 2-core machine

BUILD = """
import sys
from qa import ReportQA
from qa.engine import BUNDLED_REPORT
ReportQA.load(library=sys.argv[1], progress=False).add(BUNDLED_REPORT, progress=False)
"""


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """The bundled report's library, built once; each server gets a copy of its own."""
    root = tmp_path_factory.mktemp("shared") / "lib"
    subprocess.run([sys.executable, "-c", BUILD, str(root)], cwd=ROOT, check=True, timeout=600,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return root


def _copy(library: Path, tmp_path_factory, name: str) -> Path:
    to = tmp_path_factory.mktemp(name) / "lib"
    shutil.copytree(library, to)
    return to


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    auth = tmp_path_factory.mktemp("auth") / "users.json"
    for name, role in (("alice", "editor"), ("bob", "reader")):
        subprocess.run([sys.executable, "-m", "qa", "user", "add", name, "--role", role, "--auth", str(auth),
                        "--password-stdin"], input=PASSWORDS[name] + "\n", text=True, cwd=ROOT, check=True,
                       timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return auth


@pytest.fixture(scope="module")
def team(library, users, tmp_path_factory):
    lib = _copy(library, tmp_path_factory, "team")
    with running_app("--library", str(lib), "--auth", str(users), log_name="app-team.log") as app:
        app.library = lib
        yield app


@pytest.fixture(scope="module")
def exposed(library, tmp_path_factory):
    """On every address, without --auth: read-only for everyone."""
    lib = _copy(library, tmp_path_factory, "exposed")
    stale = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "report-qa-uploads" / "999999999"
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "left-by-a-killed-server.pdf").write_bytes(b"%PDF-" + b"x" * 1000)
    with running_app("--library", str(lib), "--host", "0.0.0.0", log_name="app-exposed.log") as app:
        app.library, app.stale = lib, stale
        yield app


@pytest.fixture(scope="module")
def open_server(library, tmp_path_factory):
    """On every address with --open-uploads: anyone may change it, within low limits."""
    lib = _copy(library, tmp_path_factory, "open")
    with running_app("--library", str(lib), "--host", "0.0.0.0", "--open-uploads", "--ask-limit", "4",
                     "--upload-limit", "3", log_name="app-open.log") as app:
        app.library = lib
        yield app


@pytest.fixture(scope="module")
def jilin(jilin_part, tmp_path_factory):
    """The first part of jilin-2025 (a small report), and a second version of it with one figure changed
    (a doctored copy: same title and year, another text)."""
    doctored = tmp_path_factory.mktemp("doctored") / "jilin-2025-v2.txt"
    text = jilin_part.read_text(encoding="utf-8")
    assert "10.1％" in text
    doctored.write_text(text.replace("10.1％", "19.9％", 1), encoding="utf-8")
    return jilin_part, doctored


class Http:
    """A client of the server's HTTP routes, signed in as `user` when one is named."""

    def __init__(self, url: str, user: str | None = None):
        import httpx
        self.url, self.c = url, httpx.Client(timeout=UPLOAD_TIMEOUT)
        if user:
            r = self.c.post(url + "/login", data={"username": user, "password": PASSWORDS[user]})
            assert r.status_code == 200, r.text

    def fn(self, api_name: str) -> int:
        deps = self.c.get(self.url + "/config").json()["dependencies"]
        return next(d["id"] for d in deps if d.get("api_name") == api_name)

    def upload(self, path: Path, name: str | None = None):
        return self.c.post(self.url + "/gradio_api/upload", files={"files": (name or path.name, path.read_bytes())})

    def event(self, api_name: str, data: list, fn_index: int | None = None) -> dict:
        """A page event run as the page runs it (queue/join, then its result); the completed message."""
        r, session = self.join(api_name, data, fn_index)
        assert r.status_code == 200, r.text
        return self.completed(session)

    def join(self, api_name: str, data: list, fn_index: int | None = None):
        """(the queue's response, the session) for a page event put in the queue."""
        session = uuid.uuid4().hex[:12]
        return self.c.post(self.url + "/gradio_api/queue/join", json={
            "data": data, "fn_index": self.fn(api_name) if fn_index is None else fn_index,
            "session_hash": session, "event_data": None, "trigger_id": None}), session

    def completed(self, session: str) -> dict:
        """The completed message of the event `session` joined."""
        with self.c.stream("GET", self.url + f"/gradio_api/queue/data?session_hash={session}") as s:
            for line in s.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_completed":
                        return msg
        raise AssertionError("no result")

    def add(self, path: Path, name: str | None = None) -> dict:
        r = self.upload(path, name)
        assert r.status_code == 200, r.text
        return self.event("add_report", add_data(r.json()[0], name or path.name))

    def ask(self, question: str, report="") -> dict:
        r = self.c.post(self.url + "/gradio_api/call/ask", json={"data": [question, 5, report]})
        assert r.status_code == 200, r.text
        body = self.c.get(self.url + f"/gradio_api/call/ask/{r.json()['event_id']}").text
        assert "event: complete" in body, body
        return json.loads(body.split("data:", 1)[1])[0]


def add_data(place: str, name: str) -> list:
    """The add event's data for a file uploaded to `place`."""
    return [{"path": place, "orig_name": name, "meta": {"_type": "gradio.FileData"}}, []]


def reports(lib: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "qa", "list", "--json", "--library", str(lib)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return sorted(r["id"] for r in json.loads(out.stdout))


def changes(lib: Path) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "qa", "log", "--json", "--library", str(lib)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout)


def html_of(msg: dict) -> str:
    assert msg["success"], msg
    return msg["output"]["data"][0]


def upload_folder(server) -> Path:
    return Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "report-qa-uploads" / str(server.pid)


# --------------------------------------------------------------------- tests

def test_the_startup_line_states_the_mode(team, exposed, open_server):
    def ready(app):
        return next(line for line in app.log.read_text().splitlines() if line.startswith("Ready:"))
    assert "sign-in required" in ready(team) and "1 editor, 1 reader" in ready(team)
    assert "read-only" in ready(exposed) and "--auth FILE" in ready(exposed)
    assert "anyone who reaches this address may add and remove reports" in ready(open_server)


def test_without_signing_in_nothing_is_served(team, jilin):
    anon = Http(team.url)
    assert anon.c.get(team.url + "/config").status_code == 401
    assert anon.c.post(team.url + "/gradio_api/call/ask", json={"data": [TECH_Q]}).status_code == 401
    assert anon.upload(jilin[0]).status_code in (401, 403)
    assert anon.c.post(team.url + "/login", data={"username": "bob", "password": "wrong"}).status_code == 400


def test_a_reader_cannot_add_or_remove_a_report_by_any_request(team, jilin):
    bob, alice = Http(team.url, "bob"), Http(team.url, "alice")
    before, logged = reports(team.library), len(changes(team.library))
    assert bob.ask(TECH_Q)["found"]                                 # a reader asks
    r = bob.upload(jilin[0])                                        # Gradio's upload route
    assert r.status_code == 403 and "may not add reports" in r.text
    # The page's upload event, handed a file an editor uploaded (its place, as the editor was told).
    place = alice.upload(jilin[0]).json()[0]
    refused = html_of(bob.event("add_report", [{"path": place, "meta": {"_type": "gradio.FileData"}}, []]))
    assert "only editors may add or remove reports" in refused
    # The page's remove event, and the answer to a second version's question, with a made-up token.
    refused = html_of(bob.event("remove_report", ["henan-2024", []]))
    assert "Only editors may change the library" in refused and "已移除" not in refused
    for how in ("replace", "keep"):
        assert "Only editors" in html_of(bob.event(f"{how}_upload", ["a-made-up-token", []]))
    assert reports(team.library) == before and len(changes(team.library)) == logged


def test_no_api_route_reaches_the_library_events(team, exposed, jilin):
    """The page's events that change the library are private: Gradio's named-API routes (/call,
    /call/v2, /run, /api) do not run them for a reader or for anyone on a read-only server, and the
    screen-recording route (a file written and run through ffmpeg for anyone) is closed."""
    bob = Http(team.url, "bob")
    for app, client in ((team, bob), (exposed, Http(exposed.url))):
        before, logged = reports(app.library), len(changes(app.library))
        for route in ("call", "call/v2", "run", "api"):
            for name, data in (("remove_report", ["henan-2024", []]), ("keep_upload", ["a-made-up-token", []])):
                r = client.c.post(f"{app.url}/gradio_api/{route}/{name}", json={"data": data})
                if r.status_code == 200 and "event_id" in r.text:
                    r = client.c.get(f"{app.url}/gradio_api/{route}/{name}/{r.json()['event_id']}")
                assert "已移除" not in r.text and "Removed" not in r.text, (route, name, r.text)
        r = client.c.post(app.url + "/gradio_api/process_recording",
                          files={"video": ("x.mp4", b"\0" * 64, "video/mp4")})
        assert r.status_code == 404
        assert reports(app.library) == before and len(changes(app.library)) == logged
        assert "Traceback" not in app.log.read_text()


def test_an_editor_adds_and_removes_and_every_change_is_logged(team, jilin):
    alice = Http(team.url, "alice")
    r = alice.upload(jilin[0])
    place = r.json()[0]
    assert not place.startswith("/") and "/tmp" not in r.text and str(upload_folder(team)) not in r.text
    added = html_of(alice.event("add_report", [{"path": place, "meta": {"_type": "gradio.FileData"}}, []]))
    assert "已添加 Added" in added and "jilin-2025" in added
    assert not any(upload_folder(team).rglob("jilin-2025.txt"))      # deleted once read
    again = html_of(alice.add(jilin[0]))
    assert "已在资料库中 Already there" in again and "not added twice" in again
    assert alice.ask("城镇新增就业多少人？", "jilin-2025")["found"]
    removed = html_of(alice.event("remove_report", ["jilin-2025", []]))
    assert "已移除 Removed" in removed
    assert "jilin-2025" not in reports(team.library)
    log = changes(team.library)[-2:]
    sha = __import__("hashlib").sha256
    assert [(c["user"], c["action"], c["report"], c["file"]) for c in log] == [
        ("alice", "add", "jilin-2025", "jilin-2025.txt"), ("alice", "remove", "jilin-2025", "jilin-2025.txt")]
    assert log[0]["sha256"] == log[1]["sha256"] and len(log[0]["sha256"]) == len(sha().hexdigest())


def test_a_second_version_waits_for_replace_or_keep_both(team, jilin):
    alice = Http(team.url, "alice")
    html_of(alice.add(jilin[0]))
    asked = alice.add(jilin[1])
    status, _, row, token = asked["output"]["data"][:4]
    assert "请选择 Choose" in status and "replace that report, or keep both" in status
    assert row["visible"] and token
    assert reports(team.library) == ["henan-2024", "jilin-2025"]    # nothing stored yet
    assert "Only editors" in html_of(Http(team.url, "bob").event("keep_upload", [token, []]))
    kept = html_of(alice.event("keep_upload", [token, []]))
    assert "已添加 Added" in kept and "jilin-2025-2" in kept
    assert "expired" in html_of(alice.event("keep_upload", [token, []]))      # a token answers once
    assert reports(team.library) == ["henan-2024", "jilin-2025", "jilin-2025-2"]
    for rid in ("jilin-2025", "jilin-2025-2"):
        html_of(alice.event("remove_report", [rid, []]))
    assert [c["user"] for c in changes(team.library)[-4:]] == ["alice"] * 4


def test_questions_do_not_wait_for_an_upload_that_waits_for_the_library(team, jilin):
    """Another process holds the library's lock: an editor's upload waits for it, and questions are
    answered meanwhile; the upload lands once the lock is free."""
    alice, bob = Http(team.url, "alice"), Http(team.url, "bob")
    done: dict = {}
    with open(team.library / "LOCK", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(json.dumps({"pid": os.getpid(), "command": "the test, holding the lock"}))
        held.flush()
        upload = threading.Thread(target=lambda: done.update(msg=alice.add(jilin[0])))
        upload.start()
        deadline = time.monotonic() + UPLOAD_TIMEOUT
        while "the test, holding the lock" not in team.log.read_text():      # embedded; now it waits
            assert time.monotonic() < deadline and upload.is_alive()
            time.sleep(0.2)
        answers = [bob.ask(TECH_Q) for _ in range(3)]
        assert all(a["found"] and "33.4%" in a["text"] for a in answers)
        assert upload.is_alive() and "msg" not in done                      # still waiting
        fcntl.flock(held, fcntl.LOCK_UN)
    upload.join(UPLOAD_TIMEOUT)
    assert "已添加 Added" in html_of(done["msg"])
    html_of(alice.event("remove_report", ["jilin-2025", []]))


def test_a_read_only_server_lets_anyone_ask_and_nobody_change(exposed, jilin):
    anon = Http(exposed.url)
    assert anon.ask(TECH_Q)["found"]
    r = anon.upload(jilin[0])
    assert r.status_code == 403
    refused = html_of(anon.event("add_report", [{"path": "0" * 64 + "/jilin-2025.txt",
                                                 "meta": {"_type": "gradio.FileData"}}, []]))
    assert "read-only" in refused
    assert "read-only" in html_of(anon.event("remove_report", ["henan-2024", []]))
    assert reports(exposed.library) == ["henan-2024"]
    assert not exposed.stale.exists()          # a dead server's upload folder goes at the next start


def test_a_proxied_request_is_not_this_machine():
    """On 127.0.0.1 without --auth anyone local may change the library, but not a request that came
    through a reverse proxy: that one is read-only like any remote client."""
    from qa.web.access import Access
    local = Access("127.0.0.1")

    class Request:
        username = None

        def __init__(self, headers):
            self.headers, self.client = headers, type("C", (), {"host": "127.0.0.1"})()

    assert local.may_change(Request({}))
    assert not local.may_change(Request({"x-forwarded-for": "203.0.113.9"}))
    assert local.visitor(Request({"x-forwarded-for": "198.51.100.1, 203.0.113.9"})).key == "203.0.113.9"


def test_open_uploads_let_anyone_change_it_within_the_limits(open_server, jilin):
    anon = Http(open_server.url)
    added = html_of(anon.add(jilin[0]))
    assert "已添加 Added" in added
    log = changes(open_server.library)[-1]
    assert (log["user"], log["action"], log["report"]) == ("anonymous@127.0.0.1", "add", "jilin-2025")
    # --upload-limit 3: this client has used one; two more go, the next is told to wait.
    codes = [anon.upload(jilin[0]).status_code for _ in range(3)]
    assert codes[:2] == [200, 200] and codes[2] == 429
    assert "Too many uploads" in anon.upload(jilin[0]).text
    # --ask-limit 4 a minute: the fifth question within the minute is refused, with the wait.
    answers = [anon.ask(TECH_Q) for _ in range(5)]
    assert all(a["error"] is None for a in answers[:4])
    assert answers[4]["error"] and "Too many questions" in answers[4]["error"] and not answers[4]["found"]
    assert "Traceback" not in open_server.log.read_text()


def test_odd_requests_end_in_a_message_not_an_error_event(team, jilin, tmp_path):
    alice = Http(team.url, "alice")
    for report in (123, True, 1.5, ["x", 2], {"a": 1}):
        r = alice.c.post(team.url + "/gradio_api/call/ask", json={"data": [TECH_Q, 5, report]})
        body = alice.c.get(team.url + f"/gradio_api/call/ask/{r.json()['event_id']}").text
        assert "event: complete" in body and "No report" in body, body
    dotted = tmp_path / "part.txt"
    dotted.write_bytes(jilin[0].read_bytes())
    for name in (".jilin-2025.txt", ".txt", "..txt"):
        msg = alice.add(dotted, name)
        assert msg["success"] and "jilin-2025" in html_of(msg)
    html_of(alice.event("remove_report", ["jilin-2025", []]))
    assert "Traceback" not in team.log.read_text()


def test_uploads_and_page_loads_leave_no_files(team, jilin, tmp_path):
    """A file is deleted once read, a bare upload is swept, and a page load writes nothing (the CSV is
    made when asked for)."""
    from qa.web.uploads import Uploads
    alice = Http(team.url, "alice")
    folder = upload_folder(team)
    assert folder.is_dir()
    for _ in range(5):                             # the page's load events, as a browser runs them
        for dep in alice.c.get(team.url + "/config").json()["dependencies"]:
            if any(t[1] == "load" for t in dep["targets"]) and dep["backend_fn"]:
                alice.event("", [None] * len(dep["inputs"]), fn_index=dep["id"])
    assert not [p for p in folder.rglob("*") if p.is_file() and p.stat().st_size]
    bare = Uploads(tmp_path)
    kept = bare.root / "abc" / "never-read.pdf"
    kept.parent.mkdir()
    kept.write_bytes(b"x" * 100)
    assert bare.sweep(max_age=3600) == 0 and kept.exists()
    assert bare.sweep(max_age=0) == 1 and not kept.exists() and not kept.parent.exists()
    bare.close()


def test_a_full_queue_says_so_and_drains(library, tmp_path_factory, jilin):
    """A server whose queue holds one waiting event: four uploads' add events sent at once (each takes
    seconds, two run at a time), so the queue fills; the ones beyond are refused at once with 503 and
    Gradio's "Queue is full" message, the accepted ones finish, and the server serves again."""
    lib = _copy(library, tmp_path_factory, "queue")
    with running_app("--library", str(lib), "--queue-size", "1", "--upload-limit", "0",
                     log_name="app-queue.log") as app:
        c = Http(app.url)
        fn = c.fn("add_report")
        places = [c.upload(jilin[0]).json()[0] for _ in range(4)]
        joins = [c.join("add_report", add_data(place, "jilin-2025.txt"), fn) for place in places]
        codes = [r.status_code for r, _ in joins]
        assert codes[0] == 200 and 503 in codes and set(codes) == {200, 503}, codes
        assert all("Queue is full" in r.json()["detail"] for r, _ in joins if r.status_code == 503)
        for r, session in joins:
            if r.status_code == 200:
                assert "jilin-2025" in html_of(c.completed(session))
        assert reports(lib) == sorted(set(reports(library)) | {"jilin-2025"})
        assert c.ask(TECH_Q)["found"]                    # drained: served again


# ------------------------------------------------------------------ in the browser

def _signed_in(browser, url, user):
    page = browser.new_page(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
    page.goto(url + "/")
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Login").click()
    page.locator("#qa-question textarea").wait_for(timeout=ANSWER_TIMEOUT)
    page.wait_for_function("() => document.querySelector('#qa-who') && "
                           "document.querySelector('#qa-who').innerText.includes('Signed in')", timeout=ANSWER_TIMEOUT)
    return page


@pytest.fixture(scope="module")
def browser(chromium, team):  # noqa: F811
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _answered_and_cannot_upload(page):
    """A question is answered on the page; the visitor's own browser (with its sign-in, if any) posting
    a file to the upload route is refused."""
    page.locator("#qa-question textarea").fill(TECH_Q)
    page.locator("#qa-question textarea").press("Enter")
    page.locator("#qa-chat .qa-reply:not(.qa-pending)").first.wait_for(timeout=ANSWER_TIMEOUT)
    assert "33.4%" in page.locator("#qa-chat .qa-answer").first.inner_text()
    status = page.evaluate("""async () => {
      const form = new FormData();
      form.append('files', new Blob(['2025年吉林省政府工作报告'], {type: 'text/plain'}), 'x.txt');
      return (await fetch('gradio_api/upload', {method: 'POST', body: form})).status;
    }""")
    assert status == 403


def test_in_the_browser_a_reader_reads_and_cannot_upload(team, browser):
    page = _signed_in(browser, team.url, "bob")
    assert "bob" in page.locator("#qa-who").inner_text() and "reader" in page.locator("#qa-who").inner_text()
    assert not page.locator("#qa-upload").is_visible() and not page.locator("#qa-manage").is_visible()
    _answered_and_cannot_upload(page)
    page.close()


def test_in_the_browser_an_editor_uploads_sees_the_changes_and_removes(team, browser, jilin):
    page = _signed_in(browser, team.url, "alice")
    assert "editor" in page.locator("#qa-who").inner_text()
    with page.expect_file_chooser() as chooser:
        page.locator("#qa-upload").click()
    chooser.value.set_files(str(jilin[0]))
    page.wait_for_function("() => { const s = document.querySelector('#qa-upload-status .qa-upload-ok, "
                           "#qa-upload-status .qa-upload-bad'); return s && s.innerText.includes('jilin-2025'); }",
                           timeout=UPLOAD_TIMEOUT * 1000)
    assert "已添加 Added" in page.locator("#qa-upload-status").inner_text()
    page.locator("#qa-manage").get_by_text("资料库管理").click()
    first = page.locator("#qa-changes tbody tr").first
    first.wait_for(timeout=ANSWER_TIMEOUT)
    assert "alice" in first.inner_text() and "jilin-2025" in first.inner_text() and "added" in first.inner_text()
    box = page.locator("#qa-remove-pick input")
    box.click()
    box.fill("jilin-2025")
    page.get_by_role("option", name="(jilin-2025)").first.click()
    page.locator("#qa-remove").click()
    page.locator("#qa-remove-yes").click()
    page.wait_for_function("() => document.querySelector('#qa-remove-status').innerText.includes('已移除')",
                           timeout=ANSWER_TIMEOUT)
    page.wait_for_function("() => document.querySelector('#qa-changes tbody tr').innerText.includes('removed')",
                           timeout=ANSWER_TIMEOUT)
    assert "jilin-2025" not in reports(team.library)
    assert page.locator(".toast-body").count() == 0
    page.close()


def test_in_the_browser_an_anonymous_visitor_of_a_read_only_server_reads_and_cannot_change(exposed, browser):
    """A server on every address without --auth: no sign-in, the page says it is read-only and offers no
    upload or removal, questions are answered, and the visitor's own browser cannot post a file."""
    before = reports(exposed.library)
    page = browser.new_page(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
    page.goto(exposed.url + "/")
    page.locator("#qa-question textarea").wait_for(timeout=ANSWER_TIMEOUT)
    page.wait_for_function("() => document.querySelector('#qa-who') && "
                           "document.querySelector('#qa-who').innerText.includes('Read-only')", timeout=ANSWER_TIMEOUT)
    assert not page.locator("#qa-upload").is_visible() and not page.locator("#qa-manage").is_visible()
    _answered_and_cannot_upload(page)
    assert reports(exposed.library) == before
    page.close()
