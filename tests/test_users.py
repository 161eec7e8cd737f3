"""The web page's users: `python -m qa user add|remove|list --auth FILE` and the file it writes."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from qa.users import Users, verify_password

ROOT = Path(__file__).resolve().parents[1]


def qa_user(*args: str, password: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa", "user", *args], cwd=ROOT, capture_output=True, text=True,
                          input=None if password is None else password + "\n", timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_users_are_made_with_salted_hashes_in_a_private_file(tmp_path):
    auth = tmp_path / "users.json"
    for name, role in (("alice", "editor"), ("bob", "reader")):
        out = qa_user("add", name, "--role", role, "--auth", str(auth), "--password-stdin", password="same password")
        assert out.returncode == 0 and f"Added {name} ({role})" in out.stdout, out.stderr
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    users = json.loads(auth.read_text())["users"]
    assert {n: u["role"] for n, u in users.items()} == {"alice": "editor", "bob": "reader"}
    # One password, two salts: two hashes, neither holding the password.
    assert users["alice"]["password"] != users["bob"]["password"]
    assert "same password" not in auth.read_text()
    assert verify_password("same password", users["alice"]["password"])
    assert not verify_password("same passwore", users["alice"]["password"])
    listed = qa_user("list", "--auth", str(auth), "--json")
    assert json.loads(listed.stdout) == [{"name": "alice", "role": "editor"}, {"name": "bob", "role": "reader"}]


def test_a_server_sees_users_added_and_removed_without_a_restart(tmp_path):
    auth = tmp_path / "users.json"
    qa_user("add", "alice", "--role", "reader", "--auth", str(auth), "--password-stdin", password="first password")
    users = Users(auth)                       # as the server holds it
    assert users.check("alice", "first password") and users.role("alice") == "reader"
    out = qa_user("add", "alice", "--role", "editor", "--auth", str(auth), "--password-stdin", password="new password")
    assert "Changed alice (editor)" in out.stdout
    assert users.role("alice") == "editor" and users.check("alice", "new password")
    assert not users.check("alice", "first password")
    assert qa_user("remove", "alice", "--auth", str(auth)).returncode == 0
    assert users.role("alice") is None and not users.check("alice", "new password")
    assert not users.check("nobody", "new password")


def test_bad_names_roles_and_passwords_are_one_line_errors(tmp_path):
    auth = tmp_path / "users.json"
    for args, password, said in (
            (("add", "a b", "--role", "editor"), "long enough", "User names are"),
            (("add", "carol", "--role", "owner"), "long enough", "invalid choice: 'owner'"),
            (("add", "carol", "--role", "editor"), "short", "at least 8 characters"),
            (("remove", "nobody"), None, "No user 'nobody'")):
        out = qa_user(*args, "--auth", str(auth), *(["--password-stdin"] if password else []), password=password)
        assert out.returncode == 2 and said in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    assert not auth.exists() or json.loads(auth.read_text())["users"] == {}
    auth.write_text("alice:secret\n")
    out = qa_user("list", "--auth", str(auth))
    assert out.returncode == 2 and "is not one `python -m qa user add` wrote" in out.stderr
