"""Who may use a shared library: a credentials file of users, each a reader or an editor.

    python -m qa user add alice --role editor --auth users.json     # asks for the password twice
    python app.py --host 0.0.0.0 --auth users.json                  # the page asks everyone to sign in

The file is JSON, `{"users": {"alice": {"role": "editor", "password": "scrypt$…"}}}`, written with
mode 0600.  Passwords are never stored: each one is hashed with scrypt and a salt of its own, so two
users with one password get different hashes and a stolen file gives no password without a
brute-force search per user.  Standard library only (hashlib.scrypt), so the CLI needs no web
package to make users.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from pathlib import Path

from .errors import AccessError

ROLES = ("reader", "editor")
# scrypt's cost: 2**14 × 8 × 128 bytes = 16 MiB and ~30 ms a check on this machine (2 cores, load
# average ~3; 33 ms to hash, 28 ms to check), which a sign-in does not notice and a guesser pays per try.  Stored with each hash, so
# raising it later leaves old hashes valid.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
MIN_PASSWORD = 8
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        found = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, bytes.fromhex(key))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * n * r * p + 2 ** 20,
                          dklen=KEY_BYTES)


# A check for a name the file does not hold still costs one scrypt, so the time taken does not
# tell a guesser which names exist.
_DUMMY = hash_password(secrets.token_hex(8))


class Users:
    """The users of a credentials file, read again whenever the file changes (a user added or
    removed with `python -m qa user` counts at the next sign-in or request, without a restart)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._users: dict[str, dict] = {}

    # -- reading ---------------------------------------------------------------------
    def all(self) -> dict[str, dict]:
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._stamp, self._users = None, {}
                return {}
            except OSError as e:
                raise AccessError(f"Cannot read the users file {self.path}: {e.strerror}.", code="bad_users_file") \
                    from None
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                self._users, self._stamp = _parse(self.path), stamp
            return self._users

    def role(self, name: str | None) -> str | None:
        """The user's role, or None for a name the file does not hold (removed since signing in)."""
        user = self.all().get(name or "")
        return user["role"] if user else None

    def check(self, name: str, password: str) -> bool:
        user = self.all().get(name)
        ok = verify_password(password, user["password"] if user else _DUMMY)
        return ok and user is not None

    def counts(self) -> dict[str, int]:
        found = {role: 0 for role in ROLES}
        for user in self.all().values():
            found[user["role"]] += 1
        return found

    # -- writing (the CLI) ---------------------------------------------------------------
    def add(self, name: str, role: str, password: str) -> bool:
        """Add the user, or set a known user's role and password; True when the user is new."""
        if not NAME.fullmatch(name or ""):
            raise AccessError(f"User names are 1-64 letters, digits and _ . @ -, starting with a letter or digit; "
                              f"{name!r} is not one.", code="bad_user_name")
        if role not in ROLES:
            raise AccessError(f"A role is one of {', '.join(ROLES)}, not {role!r}.", code="bad_role")
        if len(password) < MIN_PASSWORD:
            raise AccessError(f"The password must have at least {MIN_PASSWORD} characters.", code="weak_password")
        users = dict(self.all())
        new = name not in users
        users[name] = {"role": role, "password": hash_password(password)}
        self._save(users)
        return new

    def remove(self, name: str) -> None:
        users = dict(self.all())
        if name not in users:
            raise AccessError(f"No user {name!r} in {self.path}.", code="unknown_user")
        del users[name]
        self._save(users)

    def _save(self, users: dict[str, dict]) -> None:
        """Written whole to a temporary file (mode 0600) and renamed over the old one: a server reading
        it meanwhile sees the old users or the new, never half a file."""
        text = json.dumps({"users": users}, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise AccessError(f"Cannot write the users file {self.path}: {e.strerror}.", code="bad_users_file") \
                from None


def _parse(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        users = data["users"]
        if not isinstance(users, dict):
            raise TypeError
        for name, user in users.items():
            if user.get("role") not in ROLES or not str(user.get("password", "")).startswith("scrypt$"):
                raise ValueError(name)
        return users
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise AccessError(f"The users file {path} is not one `python -m qa user add` wrote ({type(e).__name__}"
                          f"{': ' + str(e) if str(e) else ''}); make it again with that command.",
                          code="bad_users_file") from None
