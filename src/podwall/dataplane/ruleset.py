"""podwall's nftables table as data, its text, and the transaction from one state to the next.

`render_ruleset` gives the whole table, byte-identical for equal rulesets; `replace_script`
swaps it in atomically; `update_script` touches only what changed (set and map elements,
single chains), falling back to a full replace when a declaration itself changed. Everything
here is pure text: the applier runs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from podwall.dataplane.names import TABLE, TABLE_FAMILY

__all__ = [
    "Chain",
    "NftMap",
    "NftSet",
    "Ruleset",
    "render_ruleset",
    "replace_script",
    "update_script",
]

_T = f"{TABLE_FAMILY} {TABLE}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NftSet:
    name: str
    key_type: str
    flags: tuple[str, ...] = ()
    options: tuple[str, ...] = ()  # e.g. "timeout 1h", "size 65536"
    elements: tuple[str, ...] = ()

    def declaration_lines(self) -> list[str]:
        lines = [f"type {self.key_type}"]
        if self.flags:
            lines.append(f"flags {','.join(self.flags)}")
        return lines + list(self.options)

    def declaration(self) -> str:
        return "; ".join(self.declaration_lines()) + ";"


@dataclass(frozen=True, slots=True, kw_only=True)
class NftMap:
    name: str
    key_type: str
    value_type: str
    elements: tuple[tuple[str, str], ...] = ()

    def declaration(self) -> str:
        return f"type {self.key_type} : {self.value_type};"

    def rendered_elements(self) -> tuple[str, ...]:
        return tuple(f"{k} : {v}" for k, v in self.elements)


@dataclass(frozen=True, slots=True, kw_only=True)
class Chain:
    name: str
    base: str = ""  # "type filter hook forward priority filter; policy accept;" for base chains
    rules: tuple[str, ...] = ()
    comment: str = ""

    def declaration(self) -> str:
        parts = [self.base] if self.base else []
        if self.comment:
            parts.append(f'comment "{self.comment}";')
        return " ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ruleset:
    counters: tuple[str, ...] = ()
    sets: tuple[NftSet, ...] = ()
    maps: tuple[NftMap, ...] = ()
    chains: tuple[Chain, ...] = ()

    def chain(self, name: str) -> Chain:
        return next(c for c in self.chains if c.name == name)


def _elements(items: tuple[str, ...], indent: str) -> list[str]:
    if not items:
        return []
    body = f",\n{indent}             ".join(items)
    return [f"{indent}elements = {{ {body} }}"]


def render_ruleset(ruleset: Ruleset) -> str:
    """The whole table as `nft -f` reads it."""
    lines = [f"table {_T} {{"]
    lines += [f"\tcounter {name} {{\n\t}}" for name in ruleset.counters]
    for s in ruleset.sets:
        lines.append(f"\tset {s.name} {{")
        lines += [f"\t\t{part}" for part in s.declaration_lines()]
        lines += _elements(s.elements, "\t\t")
        lines.append("\t}")
    for m in ruleset.maps:
        lines.append(f"\tmap {m.name} {{\n\t\t{m.declaration()}")
        lines += _elements(m.rendered_elements(), "\t\t")
        lines.append("\t}")
    for c in ruleset.chains:
        lines.append(f"\tchain {c.name} {{")
        if c.declaration():
            lines.append(f"\t\t{c.declaration()}")
        lines += [f"\t\t{rule}" for rule in c.rules]
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def replace_script(ruleset: Ruleset) -> str:
    """One transaction that creates the table if needed, empties it, and loads `ruleset`."""
    return f"table {_T} {{\n}}\ndelete table {_T}\n{render_ruleset(ruleset)}"


def _by_name(items: Iterable[NftSet | NftMap | Chain]) -> dict[str, NftSet | NftMap | Chain]:
    return {item.name: item for item in items}


def _declarations_changed(old: Ruleset, new: Ruleset) -> bool:
    for kind in ("sets", "maps", "chains"):
        before: Mapping[str, NftSet | NftMap | Chain] = _by_name(getattr(old, kind))
        for item in getattr(new, kind):
            prior = before.get(item.name)
            if prior is not None and prior.declaration() != item.declaration():
                return True
    return False


def _rendered(item: NftSet | NftMap) -> tuple[str, ...]:
    return item.elements if isinstance(item, NftSet) else item.rendered_elements()


def _element_lines(verb: str, name: str, elements: Iterable[str]) -> list[str]:
    items = list(elements)
    return [f"{verb} element {_T} {name} {{ {', '.join(items)} }}"] if items else []


def _element_changes(old: NftSet | NftMap, new: NftSet | NftMap) -> list[str]:
    """Element deltas for a set or map whose declaration is unchanged: a label change moves one
    address, not the whole set. Interval sets are refilled whole (their ranges are merged, so
    one address can reshape a range); a map key whose value changed is deleted, then added."""
    if isinstance(old, NftSet) and isinstance(new, NftSet):
        if "interval" in new.flags:
            return [f"flush set {_T} {new.name}", *_element_lines("add", new.name, new.elements)]
        gone = sorted(set(old.elements) - set(new.elements))
        came = sorted(set(new.elements) - set(old.elements))
        return _element_lines("delete", new.name, gone) + _element_lines("add", new.name, came)
    assert isinstance(old, NftMap) and isinstance(new, NftMap)
    before, after = dict(old.elements), dict(new.elements)
    gone = sorted(k for k, v in before.items() if after.get(k) != v)
    came = sorted(f"{k} : {v}" for k, v in after.items() if before.get(k) != v)
    return _element_lines("delete", new.name, gone) + _element_lines("add", new.name, came)


def update_script(old: Ruleset, new: Ruleset) -> str | None:
    """The smallest transaction turning `old` into `new`; "" when equal; None when only a full
    replace will do (a set's type or a base chain's hook changed)."""
    if old == new:
        return ""
    if _declarations_changed(old, new):
        return None
    adds: list[str] = []
    fills: list[str] = []
    deletes: list[str] = []
    old_counters, new_counters = set(old.counters), set(new.counters)
    adds += [f"add counter {_T} {c}" for c in new.counters if c not in old_counters]
    deletes += [f"delete counter {_T} {c}" for c in old.counters if c not in new_counters]
    for kind, word in (("sets", "set"), ("maps", "map")):
        before, after = _by_name(getattr(old, kind)), _by_name(getattr(new, kind))
        for name, item in after.items():
            prior = before.get(name)
            if prior is None:
                adds.append(f"add {word} {_T} {name} {{ {item.declaration()} }}")
                fills += _element_lines("add", name, _rendered(item))  # type: ignore[arg-type]
            elif prior != item:
                fills += _element_changes(prior, item)  # type: ignore[arg-type]
        deletes += [f"delete {word} {_T} {name}" for name in before if name not in after]
    chains_before, chains_after = _by_name(old.chains), _by_name(new.chains)
    rules: list[str] = []
    for name, chain in chains_after.items():
        prior = chains_before.get(name)
        if prior is None:
            decl = chain.declaration()  # type: ignore[union-attr]
            adds.append(f"add chain {_T} {name}" + (f" {{ {decl} }}" if decl else ""))
        elif prior == chain:
            continue
        else:
            rules.append(f"flush chain {_T} {name}")
        rules += [f"add rule {_T} {name} {rule}" for rule in chain.rules]  # type: ignore[union-attr]
    removed = [name for name in chains_before if name not in chains_after]
    # Removed chains are emptied before maps let go of them, and deleted last.
    flushes = [f"flush chain {_T} {name}" for name in removed]
    deletes = [f"delete chain {_T} {name}" for name in removed] + deletes
    return "\n".join(adds + flushes + fills + rules + deletes) + "\n"
