"""Who may come in, and who a browser is: the class code and the per-browser secret.

A server reachable from a campus network lets in only the class: a class code the teacher
sets (`CNNVIZ_CLASS_CODE`, or `make run CLASS_CODE=...`), or one generated and printed at
start when none is set and the server listens on an address other than loopback. A student
types it once per browser; the browser keeps a cookie that proves it (a hash of the code, so
the cookie is worth nothing for another code, and every server process of the class accepts
it). A server on 127.0.0.1 only needs none, since nobody else can reach it; a request is never
let in because it *comes* from 127.0.0.1 (behind nginx every student does).

Every browser also gets a random secret of its own in an HttpOnly cookie: its jobs, uploads
and models belong to it (`cnnviz.ui.jobs.owner_key`), and a copied link carries none of it.

Standard library only: the launcher, the gate and the page all read it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

CLASS_CODE_ENV = "CNNVIZ_CLASS_CODE"
CLASS_COOKIE = "cnnviz_class"  # proves the class code: sha256 of it, never the code itself
BROWSER_COOKIE = "cnnviz_browser"  # the browser's own secret: who owns its jobs
CLASS_COOKIE_DAYS = 120  # a term: asked once per browser
BROWSER_COOKIE_DAYS = 400  # the most browsers keep a cookie (Chrome caps at 400 days)
# Letters and digits a student reads off a projector without confusing them (no 0/O, 1/I/L).
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
GENERATED_LENGTH = 8  # 31^8: about 40 bits, against a login that answers a wrong code slowly
MIN_LENGTH = 4
MAX_LENGTH = 64


def generate() -> str:
    """A fresh class code, in two groups of four for reading aloud: 'K7QM-4TXP'."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(GENERATED_LENGTH))
    return f"{chars[:4]}-{chars[4:]}"


def normalize(code: str) -> str:
    """What counts of a typed code: case, spaces and dashes do not ('k7qm 4txp' is K7QM-4TXP)."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def proof(code: str) -> str:
    """The class cookie's value for `code` (hex sha256 of the normalized code)."""
    return hashlib.sha256(f"cnnviz-class:{normalize(code)}".encode()).hexdigest()


def owner_of(browser_secret: str) -> str:
    """The job owner key of a browser's secret: a hash, so the runner never holds the secret."""
    return "browser-" + hashlib.sha256(browser_secret.encode()).hexdigest()[:32]


def is_loopback(address: str) -> bool:
    """Whether a server bound to `address` can only be reached from this machine."""
    if address == "localhost":
        return True
    if not address:  # Streamlit's default: every interface
        return False
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


@dataclass(frozen=True)
class ClassCode:
    """The class code a server asks for (None: no code, a loopback-only server)."""

    code: str | None
    generated: bool = False

    @property
    def required(self) -> bool:
        return self.code is not None

    def accepts_cookie(self, value: str | None) -> bool:
        return (
            self.code is not None
            and value is not None
            and hmac.compare_digest(value.encode(), proof(self.code).encode())
        )

    def accepts_typed(self, typed: str) -> bool:
        return self.code is not None and hmac.compare_digest(
            normalize(typed).encode(), normalize(self.code).encode()
        )

    def banner(self, url: str | None) -> str:
        """The line the launcher prints at start (`url`: where students go, if known here)."""
        if self.code is None:
            return "cnnviz: no class code (only this machine can reach the server)."
        how = (
            f"generated for this start; set {CLASS_CODE_ENV} (or make run CLASS_CODE=...) "
            "to choose one"
            if self.generated
            else f"from {CLASS_CODE_ENV}"
        )
        where = f" Students open {url} and type it once." if url else ""
        return f"cnnviz: class code {self.code} ({how}).{where}"


def class_code(address: str, environ: Mapping[str, str] = os.environ) -> ClassCode:
    """The class code for a server that students reach at `address`: the environment's,
    else a generated one unless the address is loopback. ValueError for a code too short or
    too long (a teacher's typo, said at start)."""
    set_code = environ.get(CLASS_CODE_ENV, "").strip()
    if set_code:
        if not MIN_LENGTH <= len(normalize(set_code)) <= MAX_LENGTH:
            raise ValueError(
                f"{CLASS_CODE_ENV} must have {MIN_LENGTH} to {MAX_LENGTH} letters or digits "
                "(spaces and dashes do not count)."
            )
        return ClassCode(set_code)
    if is_loopback(address):
        return ClassCode(None)
    return ClassCode(generate(), generated=True)
