"""Web chat over a library of reports: `python app.py [--library DIR]`, then open the printed address.

The entry point only: it reads the options, loads the engine, and serves the page that qa/web/
builds (answers with their evidence, compare, key figures, uploads).  Programs can call the same
engine through the named API endpoints "/ask" and "/compare", e.g. with gradio_client.  Who may
change the library follows from --host, --auth and --open-uploads (qa/web/access.py); the startup
line says which.
"""
from __future__ import annotations

import time

STARTED = time.monotonic()

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from qa import ReportQA, ReportQAError  # noqa: E402  (light: the model loads in ReportQA.load)
from qa.cli import library_options  # noqa: E402
from qa.engine import MAX_K  # noqa: E402
from qa.ingest.readers import MAX_BYTES  # noqa: E402
from qa.logs import configure_logging  # noqa: E402
from qa.users import Users  # noqa: E402
from qa.web.access import ASKS_PER_MINUTE, QUEUE_SIZE, UPLOADS_PER_HOUR, Access  # noqa: E402  (no gradio import)

UPLOAD_CEILING = 4 * MAX_BYTES   # Gradio refuses larger uploads itself; the readers refuse above MAX_BYTES


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python app.py",
        description="Web chat over a library of reports (报告问答): answers are verbatim quotations with "
                    "their report and section; reports can be uploaded, compared, and their key figures "
                    "listed. The first start builds the index (and converts the model) if missing; later "
                    "starts reuse the cache.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=None,
                   help="port to listen on (default: 7860, or the next free port)")
    library_options(p)                   # --library, --model, --store: as every CLI command takes them
    p.add_argument("--report", default=None,
                   help="report text/PDF-extracted file to answer from (default: the bundled "
                        "Henan 2024 government work report)")
    p.add_argument("--index-dir", default=None,
                   help="where the index is kept (default: index/ in a checkout, else the user cache; "
                        "or $REPORT_QA_INDEX)")
    p.add_argument("--top-k", type=int, default=5,
                   help=f"passages retrieved per question and shown under Sources (default: 5, max {MAX_K})")
    p.add_argument("--share", action="store_true",
                   help="also serve the page through a temporary public gradio.live link (default: off; "
                        "anyone with the link can ask, and, with --auth or --open-uploads, upload)")
    p.add_argument("--auth", metavar="FILE", default=None,
                   help="sign-in for everyone, with the users and roles of FILE (made with `python -m qa user add "
                        "NAME --role reader|editor --auth FILE`): readers ask, editors also add and remove reports")
    p.add_argument("--open-uploads", action="store_true",
                   help="without --auth on an address beyond this machine, let anyone add and remove reports "
                        "(default: off, the library is read-only there)")
    p.add_argument("--ask-limit", metavar="N", type=float, default=None,
                   help=f"questions a client may ask per minute, /ask and /compare included (default: "
                        f"{ASKS_PER_MINUTE}, none on this machine alone; 0: no limit)")
    p.add_argument("--upload-limit", metavar="N", type=float, default=None,
                   help=f"uploads a client may make per hour (default: {UPLOADS_PER_HOUR}, none on this machine "
                        f"alone; 0: no limit)")
    p.add_argument("--queue-size", metavar="N", type=int, default=QUEUE_SIZE,
                   help=f"events that may wait for the server at once; beyond, a client is told the queue is "
                        f"full (default: {QUEUE_SIZE})")
    args = p.parse_args(argv)
    if not 1 <= args.top_k <= MAX_K:
        p.error(f"--top-k must be from 1 to {MAX_K}")
    if args.port is not None and not 0 < args.port < 65536:
        p.error("--port must be from 1 to 65535")
    if min(args.ask_limit or 0, args.upload_limit or 0) < 0:
        p.error("--ask-limit and --upload-limit must be 0 (no limit) or more")
    if args.queue_size < 1:
        p.error("--queue-size must be 1 or more")
    if args.auth and args.open_uploads:
        p.error("--open-uploads is for a server without --auth; with --auth, editors change the library")
    return args


def port_taken(host: str, port: int) -> bool:
    """Whether another program listens on host:port.  SO_REUSEADDR, as the web server itself sets it:
    a stopped server's connections waiting in TIME_WAIT must not make a restart on its port fail."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_logging()
    if args.port is not None and port_taken(args.host, args.port):   # say so before the slow load
        print(f"Cannot start: port {args.port} on {args.host} is in use or not available; "
              "choose another with --port.", file=sys.stderr)
        return 2
    try:
        access = Access(args.host, Users(args.auth) if args.auth else None, open_uploads=args.open_uploads,
                        share=args.share, asks_per_minute=args.ask_limit, uploads_per_hour=args.upload_limit)
        if access.users and not access.users.all():
            raise ReportQAError(f"{args.auth} holds no users: make one with `python -m qa user add NAME "
                                f"--role editor --auth {args.auth}`.")
    except ReportQAError as e:
        print(f"Cannot start: {e}", file=sys.stderr)
        return 2
    print("Loading the reports, model and index (the first start builds what is missing)… "
          "正在加载报告、模型和索引…", flush=True)
    try:
        qa = ReportQA.load(library=args.library, report=args.report, index_dir=args.index_dir, model=args.model,
                           store=args.store)
    except ReportQAError as e:
        print(f"Cannot start: {e}", file=sys.stderr)
        return 2
    from qa.web.uploads import Guard, Uploads
    uploads = Uploads()
    uploads.install()        # Gradio keeps uploads in this server's own folder, emptied as they are read
    from starlette.middleware import Middleware
    from qa.web.page import build_ui, launch_options
    from qa.web.shelf import Shelf

    shelf = Shelf(qa, args.top_k)
    reports = shelf.reports()
    shelf.examples()        # asked once now (it warms the model too), so the first visitor does not wait
    demo = build_ui(shelf, access, uploads)
    demo.queue(max_size=args.queue_size)
    try:
        _, url, share_url = demo.launch(
            server_name=args.host, server_port=args.port, quiet=True, share=args.share, prevent_thread_lock=True,
            show_error=False, ssr_mode=False, max_file_size=UPLOAD_CEILING,
            auth=access.sign_in if access.users else None,
            auth_message="报告问答：请登录。 Report Q&A: sign in with the name and password you were given.",
            app_kwargs={"middleware": [Middleware(Guard, access=access, uploads=uploads)]}, **launch_options())
    except OSError as e:
        print(f"Cannot start the web server: {e}", file=sys.stderr)
        uploads.close()
        return 2
    uploads.start_sweeping()
    # `kill` (SIGTERM) stops the server as Ctrl+C does, so its upload folder goes with it.
    signal.signal(signal.SIGTERM, _interrupt)
    shown = url.rstrip("/")
    if args.host in ("0.0.0.0", "::"):
        shown += f"  (listening on all interfaces, port {demo.server_port})"
    if share_url:
        shown += f"  and {share_url}"
    where = getattr(qa.library, "root", None) or args.store or "the store"
    print(f"Ready: {shown}   library {where}: {len(reports)} report{'s' if len(reports) != 1 else ''} · "
          f"{access.describe()} · started in {time.monotonic() - STARTED:.1f} s · open the address in a browser; "
          "Ctrl+C to stop", flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
        uploads.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
