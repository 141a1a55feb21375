"""Passwords, session and API tokens: generating them, and the digests the database keeps.

Passwords: scrypt (hashlib, n=2**14, r=8, p=1) with a 16-byte salt, stored as
`scrypt$n$r$p$salt$hash` (hex), compared in constant time. Session and API tokens are 32 random
bytes; only their SHA-256 is stored, so a leaked database grants nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "API_TOKEN_PREFIX",
    "digest_token",
    "hash_password",
    "is_password",
    "new_password",
    "new_token",
]

API_TOKEN_PREFIX = "pwc_"  # recognisable in logs and secret scanners
_N, _R, _P = 2**14, 8, 1


def new_password() -> str:
    return secrets.token_urlsafe(18)


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${key.hex()}"


def is_password(password: str, stored: str) -> bool:
    """Does `password` match the stored hash? False for any malformed hash."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        found = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(key) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(found.hex(), key)
