"""The library bar: the report picker, the upload button and its message, and, for those who may
change the library (access.py), its management: a second version's replace-or-keep-both question,
removing a report, and the recent changes from the library's change log.

Every event here that changes the library asks `access.editor(request)` first, whatever the page
shows: a reader's page has no upload button, and a reader's request to the same event is refused.
The user it names goes into the change log.  An uploaded file is deleted once read (uploads.py);
one waiting for the replace-or-keep-both answer is kept under a random token the page holds (not
in the session's state, which a busy server forgets: page.py SESSIONS).
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path

import gradio as gr

from ..errors import AccessError, ReportQAError, SameTitleError
from .access import Access
from .render import esc, render_upload
from .texts import INTERNAL, NO_FILE, change_refusal, upload_refusal
from .uploads import MAX_AGE, Uploads

log = logging.getLogger(__name__)

CHANGES_SHOWN = 12           # the most recent changes listed for editors
MAX_PENDING = 64             # uploads waiting for their answer (the oldest is dropped beyond)
ACTIONS = {"add": "添加 added", "remove": "移除 removed"}
ROLE_NAMES = {"editor": "编辑 editor", "reader": "读者 reader"}


class Pending:
    """Uploads waiting for their editor's answer (replace the report of the same title and year, or
    keep both), each under a random token; only the user who uploaded it may answer."""

    def __init__(self, uploads: Uploads):
        self.uploads = uploads
        self._items: OrderedDict[str, tuple[str, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, path: str, user: str) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._items[token] = (path, user, time.monotonic())
            while len(self._items) > MAX_PENDING or self._expired():
                self.uploads.discard(self._items.popitem(last=False)[1][0])
        return token

    def _expired(self) -> bool:
        oldest = next(iter(self._items.values()), None)
        return oldest is not None and time.monotonic() - oldest[2] > MAX_AGE

    def take(self, token, user: str) -> str | None:
        """The waiting file's path (no longer waiting), or None when nothing of this user's waits under it."""
        with self._lock:
            item = self._items.get(token) if isinstance(token, str) else None
            if item is None or item[1] != user:
                return None
            del self._items[token]
        return item[0] if Path(item[0]).is_file() else None


def render_changes(changes) -> str:
    """The library's recent changes (newest first) as a table for editors."""
    if not changes:
        return '<div class="qa-empty">还没有修改记录。 No changes recorded yet.</div>'
    rows = "".join(
        f'<tr><td>{esc(c.at.replace("T", " ").replace("Z", " UTC"))}</td><td>{esc(c.user)}</td>'
        f'<td>{esc(ACTIONS.get(c.action, c.action))}</td><td>{esc(c.report)}</td><td>{esc(c.file)}</td>'
        f'<td title="{esc(c.sha256)}"><code>{esc(c.sha256[:12])}</code></td></tr>' for c in changes)
    return ('<div class="qa-scroll"><table class="qa-table qa-changes" aria-label="最近的修改 Recent changes">'
            '<thead><tr><th>时间 When</th><th>用户 User</th><th>操作 Action</th><th>报告 Report</th>'
            f'<th>文件 File</th><th>SHA-256</th></tr></thead><tbody>{rows}</tbody></table></div>')


def who_line(access: Access, visitor) -> str:
    """Who the page takes the visitor for, and what they may do; nothing for the one local user."""
    if access.mode == "accounts":
        return (f'<p class="qa-who">已登录 Signed in: <b>{esc(visitor.name)}</b> · {ROLE_NAMES[visitor.role]} · '
                '<a href="logout">退出 Sign out</a></p>')
    if visitor.role != "editor":
        return ('<p class="qa-who">只读：这里可以提问、对比和查看指标，不能添加或移除报告。 Read-only: ask, compare and '
                'read figures here; reports cannot be added or removed from this page.</p>')
    if access.mode == "open":
        return ('<p class="qa-who">任何能打开本页的人都可以添加和移除报告。 Anyone who can open this page may add '
                'and remove reports.</p>')
    return ""


def library_bar(shelf, access: Access, uploads: Uploads):
    """The bar's components; returns the picker and the page load's event (who sees what)."""
    pending = Pending(uploads)
    shown = access.mode in ("local", "open")         # before the page knows who is looking
    who = gr.HTML("", elem_id="qa-who", js_on_load=None, visible=False)
    with gr.Row(equal_height=True, elem_id="qa-library-row"):
        # allow_custom_value: a session's choices are forgotten with its state on a busy server
        # (page.py SESSIONS); the engine checks the ids (an unknown one gets its message).
        picker = gr.Dropdown(choices=shelf.choices(), value=[], multiselect=True, scale=4, min_width=300,
                             label="报告 Reports（不选 = 全部 none picked = all）", elem_id="qa-picker",
                             allow_custom_value=True)
        # No file_types: Gradio would refuse another type in the browser with a pop-up; the readers
        # refuse it on the server, and the page says why.
        upload = gr.UploadButton("上传报告 Upload (.txt .pdf .docx)", file_count="single", type="filepath",
                                 scale=1, min_width=150, elem_id="qa-upload", visible=shown)
    status = gr.HTML("", elem_id="qa-upload-status", js_on_load=None, min_height=0)
    token = gr.Textbox(visible=False)
    with gr.Row(visible=False, elem_id="qa-same-title") as decide_row:
        replace_btn = gr.Button("替换 Replace", variant="primary", size="sm", elem_id="qa-replace")
        keep_btn = gr.Button("两者都保留 Keep both", variant="secondary", size="sm", elem_id="qa-keep-both")
        cancel_btn = gr.Button("取消 Cancel", variant="secondary", size="sm", elem_id="qa-cancel-upload")
    with gr.Accordion("资料库管理 Manage the library", open=False, visible=shown, elem_id="qa-manage") as manage:
        gr.HTML('<h3 class="qa-h3">最近的修改 Recent changes</h3>', js_on_load=None)
        changes = gr.HTML(elem_id="qa-changes", js_on_load=None)
        with gr.Row(equal_height=True):
            remove_pick = gr.Dropdown(choices=shelf.choices(), value=None, label="移除报告 Remove a report",
                                      scale=4, elem_id="qa-remove-pick", allow_custom_value=True)
            remove_btn = gr.Button("移除… Remove…", variant="stop", scale=1, elem_id="qa-remove")
        with gr.Row(visible=False, elem_id="qa-remove-confirm") as confirm_row:
            confirm_btn = gr.Button("确认移除 Confirm removal", variant="stop", size="sm", elem_id="qa-remove-yes")
            keep_it = gr.Button("取消 Cancel", variant="secondary", size="sm", elem_id="qa-remove-no")
        removed = gr.HTML("", elem_id="qa-remove-status", js_on_load=None)

    def library_now(rid=None, picked=None) -> tuple:
        """The picker (with `rid` picked, when one was added), the removal list and the changes."""
        return (gr.update(choices=shelf.choices(), value=[rid] if rid else picked),
                gr.update(choices=shelf.choices(), value=None), render_changes(shelf.changes(CHANGES_SHOWN)))

    def answer(message: str, picked, rid=None, ask: str | None = None) -> tuple:
        """The outputs of an upload or an answer to its question: message, picker, question row, token,
        removal list, changes."""
        return (message, *library_now(rid, picked)[:1], gr.update(visible=ask is not None), ask or "",
                *library_now()[1:])

    def store(path: str, user: str, picked, replace: bool = False, keep_both: bool = False) -> tuple:
        """`path` added by `user`; the file is deleted once read, unless its question waits."""
        name, waiting = Path(path).name, None
        try:
            report, already = shelf.add(path, user=user, replace=replace, keep_both=keep_both)
        except SameTitleError as e:
            waiting = pending.put(path, user)
            return answer(render_upload(False, *upload_refusal(e, name), head="请选择 Choose"), picked, ask=waiting)
        except ReportQAError as e:
            log.info("Upload of %s refused (%s): %s", name, e.code, e)
            return answer(render_upload(False, *upload_refusal(e, name)), picked)
        except Exception as e:  # never a traceback on the page; the log has it
            log.exception("Internal error adding %s", name)
            return answer(render_upload(False, f"{name}：{INTERNAL[0]}", f"{name}: {INTERNAL[1]} ({type(e).__name__})"),
                          picked)
        finally:
            if waiting is None:
                uploads.discard(path)
        label = shelf.label(report.id)
        if already:
            return answer(render_upload(True, f"{label} 已在资料库中，没有重复添加。",
                                        f"{report.id} is in the library already; it was not added twice.",
                                        head="已在资料库中 Already there"), picked, report.id)
        return answer(render_upload(True, f"{label} · {report.chars:,} 字 · {report.chunks} 段。现在可以提问。",
                                    f"{report.chars:,} characters, {report.chunks} passages. Ask it now."),
                      picked, report.id)

    def add(path, picked, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
        """One uploaded file into the library; the page says what happened, never with a pop-up."""
        if not path:
            return answer(render_upload(False, *NO_FILE), picked)
        try:
            user = access.editor(request)
        except AccessError as e:    # (the file is not this visitor's to delete: the sweep takes it)
            return answer(render_upload(False, *upload_refusal(e, Path(path).name)), picked)
        progress(0, desc=f"读取并嵌入 Reading and embedding {Path(path).name}…")
        return store(path, user, picked)

    def decide(how: str, waiting, picked, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
        try:
            user = access.editor(request)
        except AccessError as e:
            return answer(render_upload(False, *change_refusal(e)), picked)
        path = pending.take(waiting, user)
        if path is None:
            return answer(render_upload(False, "这个上传已过期，请重新上传。", "This upload has expired: upload the file again."),
                          picked)
        if how == "cancel":
            uploads.discard(path)
            return answer(render_upload(False, f"{Path(path).name}：已取消。", f"{Path(path).name}: cancelled."), picked)
        progress(0, desc=f"读取并嵌入 Reading and embedding {Path(path).name}…")
        return store(path, user, picked, replace=how == "replace", keep_both=how == "keep")

    def confirm(rid):
        known = {r.id for r in shelf.reports()}
        if rid not in known:
            return gr.update(visible=False), render_upload(False, "请先选择要移除的报告。", "Pick a report to remove first.",
                                                           head="未移除 Not removed")
        return (gr.update(visible=True),
                render_upload(False, f"确认从资料库移除 {shelf.label(rid)}？", f"Remove {rid} from the library?",
                              head="请确认 Confirm"))

    def remove(rid, picked, request: gr.Request):
        """The outputs: message, question row, picker, removal list, changes."""
        try:
            user = access.editor(request)
            gone = shelf.remove(rid if isinstance(rid, str) else "", user)
        except ReportQAError as e:
            return (render_upload(False, *change_refusal(e), head="未移除 Not removed"), gr.update(visible=False),
                    *library_now(None, picked))
        kept = [p for p in picked or [] if p != gone.id]
        return (render_upload(True, f"已移除 {gone.title or gone.id}（{gone.id}）。", f"Removed {gone.id}.",
                              head="已移除 Removed"), gr.update(visible=False), *library_now(None, kept))

    writes = dict(concurrency_id="library", concurrency_limit=2, api_visibility="private")
    outputs = [status, picker, decide_row, token, remove_pick, changes]
    # The events' names (private: not in the API page) let the tests call them as a crafted request would.
    upload.upload(add, inputs=[upload, picker], outputs=outputs, show_progress="full", show_progress_on=[status],
                  api_name="add_report", **writes)
    for button, how in ((replace_btn, "replace"), (keep_btn, "keep"), (cancel_btn, "cancel")):
        button.click(_deciding(decide, how), inputs=[token, picker], outputs=outputs, show_progress="full",
                     show_progress_on=[status], api_name=f"{how}_upload", **writes)
    remove_btn.click(confirm, inputs=remove_pick, outputs=[confirm_row, removed], api_visibility="private",
                     show_progress="hidden")
    keep_it.click(lambda: (gr.update(visible=False), ""), outputs=[confirm_row, removed], api_visibility="private",
                  show_progress="hidden")
    confirm_btn.click(remove, inputs=[remove_pick, picker], outputs=[removed, confirm_row, picker, remove_pick, changes],
                      api_name="remove_report", **writes)

    def on_load(request: gr.Request):
        """Each page load: who is looking, and what they may do (the server checks again on each change)."""
        visitor = access.visitor(request)
        editor = visitor.role == "editor"
        line = who_line(access, visitor)
        return (gr.update(value=line, visible=bool(line)), gr.update(visible=editor), gr.update(visible=editor),
                render_changes(shelf.changes(CHANGES_SHOWN)) if editor else "",
                gr.update(choices=shelf.choices() if editor else []))

    load = dict(fn=on_load, outputs=[who, upload, manage, changes, remove_pick], api_visibility="private",
                show_progress="hidden")
    return picker, load


def _deciding(decide, how: str):
    """decide() for one of the question's buttons (its own function, so Gradio sees the request)."""
    def run(waiting, picked, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
        return decide(how, waiting, picked, request, progress)
    return run
