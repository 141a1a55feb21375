"""nft in-process, through libnftables: the library the `nft` command itself is built on.

Why: a long-lived process (the node agent, the benchmarks) that keeps one nft context pays no
process start per transaction, and the context keeps nft's cache between a dry run and the
commit that follows it: at 1,000 policies a checked update costs a few milliseconds instead of
the ~40 ms two `nft` processes spend re-reading the table. The official Python binding is a
Debian package tied to the system interpreter (python3-nftables), so this module binds the same
five C functions with ctypes instead.

A context's netlink socket belongs to the network namespace that was current when it was
created, so `LibnftRunner(netns=...)` enters the namespace only to create the context and comes
back at once: every later command talks to that namespace's nftables, from any thread.

The runner speaks the `Runner` protocol of `podwall.dataplane.apply` (nft's own arguments in,
a CompletedProcess out), for the argument shapes podwall uses: `-c -f -`, `-f -`, and `-j CMD...`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import threading
from collections.abc import Sequence

from podwall.errors import PodwallError

__all__ = ["LibnftRunner", "LibnftUnavailable", "libnftables_available"]

_LIBRARY = "libnftables.so.1"
_CLONE_NEWNET = 0x40000000
_OUTPUT_JSON = 1 << 4  # NFT_CTX_OUTPUT_JSON


class LibnftUnavailable(PodwallError):
    exit_code = 1


def _load() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(_LIBRARY)
    except OSError as err:
        raise LibnftUnavailable(
            f"{_LIBRARY} is missing: install Debian's nftables (libnftables1)"
        ) from err
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
        getattr(lib, name).restype = ctypes.c_char_p
    lib.nft_ctx_set_dry_run.argtypes = [ctypes.c_void_p, ctypes.c_bool]
    lib.nft_ctx_output_get_flags.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_output_get_flags.restype = ctypes.c_uint
    lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return lib


def libnftables_available() -> bool:
    try:
        _load()
    except LibnftUnavailable:
        return False
    return True


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class LibnftRunner:
    """One libnftables context, bound to a network namespace (the caller's own when None)."""

    def __init__(self, netns: str | None = None) -> None:
        self._lib = _load()
        self._lock = threading.Lock()
        self._ctx = self._create(netns)
        self._lib.nft_ctx_buffer_output(self._ctx)
        self._lib.nft_ctx_buffer_error(self._ctx)

    def _create(self, netns: str | None) -> int:
        if netns is None:
            return self._lib.nft_ctx_new(0)
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            try:
                target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            except FileNotFoundError as err:  # an OSError, as callers expect: not a missing lib
                raise FileNotFoundError(
                    err.errno, f"no network namespace {netns!r} (see ip netns list)"
                ) from err
            try:
                _setns(target)
                try:
                    return self._lib.nft_ctx_new(0)
                finally:
                    _setns(home)
            finally:
                os.close(target)
        finally:
            os.close(home)

    def close(self) -> None:
        ctx = getattr(self, "_ctx", 0)  # absent when __init__ failed before creating it
        if ctx:
            self._ctx = 0
            self._lib.nft_ctx_free(ctx)

    def __del__(self) -> None:  # a context holds a netlink socket
        self.close()

    def run(self, commands: str, *, dry_run: bool = False, json_output: bool = False) -> tuple[
        int, str, str
    ]:
        """Run nft commands (a script): (return code, output, error text)."""
        lib, ctx = self._lib, self._ctx
        with self._lock:
            flags = lib.nft_ctx_output_get_flags(ctx)
            wanted = flags | _OUTPUT_JSON if json_output else flags & ~_OUTPUT_JSON
            lib.nft_ctx_output_set_flags(ctx, wanted)
            lib.nft_ctx_set_dry_run(ctx, dry_run)
            try:
                code = lib.nft_run_cmd_from_buffer(ctx, commands.encode())
            finally:
                lib.nft_ctx_set_dry_run(ctx, False)
            out = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
            err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode()
        return code, out, err

    def __call__(
        self, args: Sequence[str], stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The `Runner` protocol: `-c -f -`, `-f -`, `-j CMD...` or plain `CMD...`."""
        words = list(args)
        dry_run = "-c" in words
        json_output = "-j" in words
        words = [w for w in words if w not in ("-c", "-j")]
        if words[:2] == ["-f", "-"]:
            commands = stdin or ""
        elif words and not words[0].startswith("-"):
            commands = " ".join(words)
        else:
            raise ValueError(f"LibnftRunner does not speak nft {' '.join(args)}")
        code, out, err = self.run(commands, dry_run=dry_run, json_output=json_output)
        return subprocess.CompletedProcess(["nft", *args], 1 if code else 0, out, err)
