"""Selectors and ipBlocks evaluated over many endpoints at once, as numpy boolean vectors.

`LabelTable` encodes each label key as an int32 column of value codes (-1: key absent), so a
selector is a handful of vector comparisons whatever the number of objects. `AddressTable`
holds each endpoint's flow address as (family, high 64 bits, low 64 bits) so an ipBlock with
its excepts is a few range comparisons for IPv4 and IPv6 alike.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

import numpy as np

from podwall.model import IPBlock, LabelSelector, SelectorOperator

__all__ = ["AddressTable", "LabelTable"]

_MASK64 = (1 << 64) - 1


class LabelTable:
    def __init__(self, label_sets: Sequence[Mapping[str, str]]) -> None:
        self.size = len(label_sets)
        self._codes: dict[str, np.ndarray] = {}
        self._vocab: dict[str, dict[str, int]] = {}
        self._cache: dict[LabelSelector, np.ndarray] = {}
        for i, labels in enumerate(label_sets):
            for key, value in labels.items():
                column = self._codes.get(key)
                if column is None:
                    column = self._codes[key] = np.full(self.size, -1, dtype=np.int32)
                vocab = self._vocab.setdefault(key, {})
                column[i] = vocab.setdefault(value, len(vocab))

    def _equals(self, key: str, value: str) -> np.ndarray:
        code = self._vocab.get(key, {}).get(value)
        if code is None:
            return np.zeros(self.size, dtype=bool)
        return self._codes[key] == code

    def _member(self, key: str, values: Sequence[str]) -> np.ndarray:
        vocab = self._vocab.get(key, {})
        codes = [vocab[v] for v in values if v in vocab]
        if not codes:
            return np.zeros(self.size, dtype=bool)
        return np.isin(self._codes[key], codes)

    def _has(self, key: str) -> np.ndarray:
        column = self._codes.get(key)
        return np.zeros(self.size, dtype=bool) if column is None else column >= 0

    def match(self, selector: LabelSelector) -> np.ndarray:
        """Which rows the selector matches (read-only; cached per selector)."""
        cached = self._cache.get(selector)
        if cached is not None:
            return cached
        result = np.ones(self.size, dtype=bool)
        for key, value in selector.match_labels.items():
            result &= self._equals(key, value)
        for req in selector.match_expressions:
            if req.operator == SelectorOperator.IN:
                result &= self._member(req.key, req.values)
            elif req.operator == SelectorOperator.NOT_IN:
                result &= ~self._member(req.key, req.values)
            elif req.operator == SelectorOperator.EXISTS:
                result &= self._has(req.key)
            else:
                result &= ~self._has(req.key)
        result.setflags(write=False)
        self._cache[selector] = result
        return result


def _split(value: int) -> tuple[int, int]:
    return value >> 64, value & _MASK64


class AddressTable:
    """Flow addresses of many endpoints; None means the endpoint has no address."""

    def __init__(self, addresses: Sequence[str | None]) -> None:
        n = len(addresses)
        self.family = np.zeros(n, dtype=np.int8)
        self.high = np.zeros(n, dtype=np.uint64)
        self.low = np.zeros(n, dtype=np.uint64)
        for i, text in enumerate(addresses):
            if text is None:
                continue
            addr = ipaddress.ip_address(text)
            self.family[i] = addr.version
            self.high[i], self.low[i] = _split(int(addr))
        self._cache: dict[IPBlock, np.ndarray] = {}

    def in_network(self, cidr: str) -> np.ndarray:
        """Which rows hold an address inside `cidr`."""
        return self._in_network(cidr)

    def _in_network(self, cidr: str) -> np.ndarray:
        net = ipaddress.ip_network(cidr, strict=False)
        first_hi, first_lo = (np.uint64(x) for x in _split(int(net.network_address)))
        last_hi, last_lo = (np.uint64(x) for x in _split(int(net.broadcast_address)))
        above = (self.high > first_hi) | ((self.high == first_hi) & (self.low >= first_lo))
        below = (self.high < last_hi) | ((self.high == last_hi) & (self.low <= last_lo))
        return (self.family == net.version) & above & below

    def match(self, block: IPBlock) -> np.ndarray:
        cached = self._cache.get(block)
        if cached is not None:
            return cached
        result = self._in_network(block.cidr)
        for except_cidr in block.except_:
            result &= ~self._in_network(except_cidr)
        result.setflags(write=False)
        self._cache[block] = result
        return result
