"""Mosquitto password file entries (``mosquitto_passwd`` format ``$7$``: PBKDF2-SHA512)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# The values mosquitto_passwd 2.0 writes; the broker reads the iteration count per entry.
ITERATIONS = 101
SALT_BYTES = 12
HASH_BYTES = 64


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """``$7$<iterations>$<salt b64>$<hash b64>`` as Mosquitto 2 stores it."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """True when ``password`` matches a ``$7$`` entry (used by tests and ``fleet`` checks)."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    iterations, salt, expected = int(parts[2]), base64.b64decode(parts[3]), parts[4]
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return hmac.compare_digest(base64.b64encode(digest).decode(), expected)


def dynsec_password(
    password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS
) -> dict[str, str | int]:
    """A client's ``password``/``salt``/``iterations`` as the dynamic security plugin
    stores them: the same PBKDF2-SHA512 hash, the salt and hash base64 on their own."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": iterations,
    }


def password_line(username: str, password: str) -> str:
    """One line of a Mosquitto ``password_file``."""
    if ":" in username or "\n" in username:
        raise ValueError(f"username {username!r} must not contain ':' or a newline")
    return f"{username}:{hash_password(password)}"


def new_password() -> str:
    """A random broker password (32 url-safe characters)."""
    return secrets.token_urlsafe(24)
