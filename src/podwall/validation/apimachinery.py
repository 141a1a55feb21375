"""apimachinery's string checks and the IP/CIDR parsing Kubernetes validates with.

Ports of `k8s.io/apimachinery/pkg/util/validation` (DNS names, port numbers and names),
`.../api/validate/content` (label keys and values) and `.../util/validation/ip.go` plus
`k8s.io/utils/net`'s "sloppy" parsers (legacy IP and CIDR fields). The string checks return
the upstream message list (`[]string`); the IP/CIDR checks return `FieldError`s, as upstream.
MaxLenError wording differs by package in the newest upstream: `content.MaxLenError` (label
keys, label values and the DNS prefix of a label key) says "bytes", while `util/validation`'s
own `MaxLenError` (DNS labels and subdomains used for names, port names) still says
"characters". Each check uses the wording of the package upstream calls. Lengths are always
counted in UTF-8 bytes, as Go's `len` does.

CIDR strictness (KEP-4858, feature gate StrictIPCIDRValidation), `strict` below:
- legacy (`strict=False`) accepts what `netutils.ParseCIDRSloppy` accepts: IPv4 octets with
  leading zeros (read as decimal: "010.0.0.0/8" is 10.0.0.0/8), IPv6 groups of more than four
  hex digits when the value fits ("::00001/128"), a prefix length with leading zeros ("/016"),
  IPv4-mapped IPv6 addresses ("::ffff:1.2.3.0/120"), and host bits set after the prefix
  ("192.168.1.1/24", which then means the masked network 192.168.1.0/24).
- strict (`strict=True`) additionally rejects, one error at most, in this order: leading zeros
  in the IP or prefix length, an IPv4-mapped IPv6 address, bits set beyond the prefix length.
  Neither requires canonical IPv6 text ("FD00::/8" is fine): these are legacy fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from podwall.validation.field import FieldError, Path

__all__ = [
    "IPNet",
    "content_max_len_error",
    "empty_error",
    "inclusive_range_error",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_cidr_for_legacy_field",
    "is_valid_ip_for_legacy_field",
    "is_valid_label_value",
    "is_valid_port_name",
    "is_valid_port_num",
    "max_len_error",
    "parse_cidr_sloppy",
    "parse_ip_sloppy",
    "regex_error",
]

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
LABEL_VALUE_MAX_LENGTH = 63
_LABEL_KEY_NAME_MAX_LENGTH = 63
_PORT_NAME_MAX_LENGTH = 15

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character"
)
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)

_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_LABEL_KEY_RE = re.compile(_LABEL_KEY_FMT)
_PORT_NAME_CHARSET_RE = re.compile("[-a-z0-9]+")
_PORT_NAME_LETTER_RE = re.compile("[a-z]")


def _byte_len(value: str) -> int:
    return len(value.encode("utf-8"))


# Error-message helpers, as util/validation and api/validate/content spell them.
def max_len_error(length: int) -> str:
    """util/validation.MaxLenError: `fmt.Sprintf("must be no more than %d characters", length)`."""
    return f"must be no more than {length} characters"


def content_max_len_error(length: int) -> str:
    """content.MaxLenError: `fmt.Sprintf("must be no more than %d bytes", length)`."""
    return f"must be no more than {length} bytes"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """RegexError; note upstream's double space before "or" (`"', "` then `" or "`)."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    listed = " or ".join(f"'{example}', " for example in examples)
    return f"{msg} (e.g. {listed}regex used for validation is '{fmt}')"


def empty_error() -> str:
    return "must be non-empty"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


# DNS names (util/validation: "characters").
def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if _byte_len(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            # "It was a valid subdomain and not a valid label. Since we already checked
            # length, it must be dots."
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def _dns1123_subdomain(value: str, max_len: str) -> list[str]:
    errs = []
    if _byte_len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len)
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    return _dns1123_subdomain(value, max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))


# Label keys and values (api/validate/content: "bytes").
def is_qualified_name(value: str) -> list[str]:
    """content.IsLabelKey (util/validation.IsQualifiedName is an alias of it)."""
    errs: list[str] = []
    prefix, slash, name = value.partition("/")
    if not slash:
        name = value
    elif "/" in name:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    elif not prefix:
        errs.append("prefix part " + empty_error())
    else:
        # content.IsDNS1123Subdomain, whose MaxLenError says "bytes".
        bad = _dns1123_subdomain(prefix, content_max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
        errs.extend("prefix part " + msg for msg in bad)
    if not name:
        errs.append("name part " + empty_error())
    elif _byte_len(name) > _LABEL_KEY_NAME_MAX_LENGTH:
        errs.append("name part " + content_max_len_error(_LABEL_KEY_NAME_MAX_LENGTH))
    if not _LABEL_KEY_RE.fullmatch(name):
        errs.append(
            "name part "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """content.IsLabelValue (util/validation.IsValidLabelValue is an alias of it)."""
    errs = []
    if _byte_len(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(content_max_len_error(LABEL_VALUE_MAX_LENGTH))
    if value and not _LABEL_KEY_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


# Ports.
def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """IsValidPortName (IANA_SVC_NAME): 1-15 of [-a-z0-9], a letter, no "--", no edge "-"."""
    errs = []
    if _byte_len(port) > _PORT_NAME_MAX_LENGTH:
        errs.append(max_len_error(_PORT_NAME_MAX_LENGTH))
    if not _PORT_NAME_CHARSET_RE.fullmatch(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


# IP addresses: k8s.io/utils/net's sloppy parsers (Go 1.16 net.ParseIP before it rejected
# leading zeros), each also reporting whether netip's strict parser would accept the text.
_BIG = 0xFFFFFF  # Go's `big`: dtoi/xtoi give up at this value.
_V4_IN_V6_PREFIX = bytes(10) + b"\xff\xff"


def _digits(s: str, base: int) -> tuple[int, int] | None:
    """Go's dtoi/xtoi: (value, digits consumed) of the leading digits, None if none/too big."""
    allowed = "0123456789" if base == 10 else "0123456789abcdefABCDEF"
    n = i = 0
    while i < len(s) and s[i] in allowed:
        n = n * base + int(s[i], base)
        if n >= _BIG:
            return None
        i += 1
    return (n, i) if i else None


def _parse_ipv4(s: str) -> tuple[bytes, bool] | None:
    out = bytearray()
    strict = True
    for i in range(4):
        if not s:
            return None
        if i > 0:
            if s[0] != ".":
                return None
            s = s[1:]
        parsed = _digits(s, 10)
        if parsed is None or parsed[0] > 0xFF:
            return None
        strict = strict and not (parsed[1] > 1 and s[0] == "0")
        out.append(parsed[0])
        s = s[parsed[1] :]
    return (bytes(out), strict) if not s else None


def _parse_ipv6(s: str) -> tuple[bytes, bool] | None:
    """Go 1.16 net.parseIPv6 (no zones); an embedded IPv4 tail is parsed as above."""
    ellipsis = -1
    if s.startswith("::"):
        ellipsis, s = 0, s[2:]
        if not s:
            return bytes(16), True
    parsed = _ipv6_groups(s, ellipsis)
    if parsed is None:
        return None
    ip, used, ellipsis, strict = parsed
    if used < 16:
        if ellipsis < 0:
            return None
        n = 16 - used
        ip[ellipsis + n : 16] = ip[ellipsis:used]
        ip[ellipsis : ellipsis + n] = bytes(n)
    elif ellipsis >= 0:
        return None  # "::" must stand for at least one group of zeros
    return bytes(ip), strict


def _ipv6_groups(s: str, ellipsis: int) -> tuple[bytearray, int, int, bool] | None:
    """The hex groups (and IPv4 tail) after any leading "::": (ip, bytes used, ellipsis, strict).

    netip rejects a group of more than four hex digits, which the sloppy parser accepts.
    """
    ip, i, strict = bytearray(16), 0, True
    while i < 16:
        parsed = _digits(s, 16)
        if parsed is None or parsed[0] > 0xFFFF:
            return None
        n, c = parsed
        if c < len(s) and s[c] == ".":
            ip4 = _parse_ipv4(s) if (ellipsis >= 0 or i == 12) and i + 4 <= 16 else None
            if ip4 is None:
                return None
            ip[i : i + 4] = ip4[0]
            return ip, i + 4, ellipsis, strict and ip4[1]
        strict = strict and c <= 4
        ip[i], ip[i + 1], i, s = n >> 8, n & 0xFF, i + 2, s[c:]
        if not s:
            break
        if s[0] != ":" or len(s) == 1:
            return None
        s = s[1:]
        if s[0] == ":":
            if ellipsis >= 0:
                return None
            ellipsis, s = i, s[1:]
            if not s:
                break
    return (ip, i, ellipsis, strict) if not s else None


def parse_ip_sloppy(value: str) -> bytes | None:
    """netutils.ParseIPSloppy: 4 bytes for IPv4 text, 16 for IPv6 text, None if invalid."""
    parsed = _parse_any_ip(value)
    return parsed[0] if parsed else None


def _parse_any_ip(value: str) -> tuple[bytes, bool] | None:
    for ch in value:
        if ch == ".":
            return _parse_ipv4(value)
        if ch == ":":
            return _parse_ipv6(value)
    return None


@dataclass(frozen=True, slots=True)
class IPNet:
    """A parsed CIDR as Go's net.IPNet holds it: the masked IP (4 or 16 bytes) and prefix."""

    ip: bytes
    prefix: int
    bits: int  # 32 for IPv4 text, 128 for IPv6 text (Go's mask length)

    def contains(self, ip: bytes) -> bool:
        """net.IPNet.Contains, including its IPv4-mapped IPv6 quirks."""
        network = _to4(self.ip) or self.ip
        mask = _mask(self.prefix, self.bits)
        if self.bits == 32 and len(network) != 4:
            return False
        if self.bits == 128 and len(network) == 4:
            mask = mask[12:]
        ip = _to4(ip) or ip
        if len(ip) != len(network):
            return False
        return all(n & m == a & m for n, a, m in zip(network, ip, mask, strict=True))


def _to4(ip: bytes) -> bytes | None:
    if len(ip) == 4:
        return ip
    return ip[12:] if len(ip) == 16 and ip[:12] == _V4_IN_V6_PREFIX else None


def _mask(prefix: int, bits: int) -> bytes:
    value = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
    return value.to_bytes(bits // 8, "big")


def _parse_cidr(value: str) -> tuple[IPNet, bytes, bool] | None:
    """ParseCIDRSloppy -> (network, unmasked IP, would netip.ParsePrefix accept the text)."""
    addr, slash, mask_text = value.partition("/")
    if not slash:
        return None
    parsed, bits = _parse_ipv4(addr), 32
    if parsed is None:
        parsed, bits = _parse_ipv6(addr), 128
    digits = _digits(mask_text, 10)
    if parsed is None or digits is None or digits[1] != len(mask_text) or digits[0] > bits:
        return None
    ip, strict = parsed
    prefix = digits[0]
    masked = bytes(a & m for a, m in zip(ip, _mask(prefix, bits), strict=True))
    strict = strict and not (len(mask_text) > 1 and mask_text[0] == "0")
    return IPNet(ip=masked, prefix=prefix, bits=bits), ip, strict


def parse_cidr_sloppy(value: str) -> IPNet | None:
    """netutils.ParseCIDRSloppy's network, or None where it returns an error."""
    parsed = _parse_cidr(value)
    return parsed[0] if parsed else None


def is_valid_ip_for_legacy_field(path: Path, value: str, strict: bool = True) -> list[FieldError]:
    """validation.IsValidIPForLegacyField (util/validation/ip.go parseIP)."""
    parsed = _parse_any_ip(value)
    if parsed is None:
        detail = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
        return [FieldError.invalid(path, value, detail)]
    if not strict:
        return []
    ip, strict_ok = parsed
    if not strict_ok:
        return [FieldError.invalid(path, value, "must not have leading 0s")]
    if len(ip) == 16 and ip[:12] == _V4_IN_V6_PREFIX:
        return [FieldError.invalid(path, value, "must not be an IPv4-mapped IPv6 address")]
    return []


def is_valid_cidr_for_legacy_field(path: Path, value: str, strict: bool = True) -> list[FieldError]:
    """validation.IsValidCIDRForLegacyField (util/validation/ip.go parseCIDR)."""
    parsed = _parse_cidr(value)
    if parsed is None:
        detail = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
        return [FieldError.invalid(path, value, detail)]
    if not strict:
        return []
    network, ip, strict_ok = parsed
    if not strict_ok:
        detail = "must not have leading 0s in IP or prefix length"
    elif network.bits == 128 and ip[:12] == _V4_IN_V6_PREFIX:
        detail = "must not have an IPv4-mapped IPv6 address"
    elif network.ip != ip:
        detail = "must not have bits set beyond the prefix length"
    else:
        return []
    return [FieldError.invalid(path, value, detail)]
