"""apimachinery's string and IP/CIDR checks, case for case with upstream's tests.

Good and bad values come from staging/src/k8s.io/apimachinery/pkg/util/validation/
validation_test.go and ip_test.go (and api/validate/content/kube_test.go, which repeats the
label key and value lists); exact messages are those upstream's functions build.
"""

from __future__ import annotations

import pytest

from podwall.validation import (
    Path,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_cidr_for_legacy_field,
    is_valid_ip_for_legacy_field,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
    parse_cidr_sloppy,
)
from podwall.validation.apimachinery import regex_error

LABEL_ERR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_ERR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
NAME_PART_ERR = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_ERR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
PORT_CHARSET = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
PORT_LETTER = "must contain at least one letter (a-z)"


def _ids(values: list) -> list[str]:
    return [repr(v) if len(repr(v)) < 40 else repr(v)[:30] + f"...({len(v)})" for v in values]


# --- TestIsDNS1123Label ---
DNS_LABEL_GOOD = ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a",
                  "1--a--b--2", "a" * 63]  # fmt: skip
DNS_LABEL_BAD = ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_",
                 "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ",
                 "a ", " a", "a b", "1 ", " 1", "1 2", "a" * 64]  # fmt: skip


@pytest.mark.parametrize("value", DNS_LABEL_GOOD, ids=_ids(DNS_LABEL_GOOD))
def test_dns1123_label_accepts(value: str) -> None:
    assert is_dns1123_label(value) == []


@pytest.mark.parametrize("value", DNS_LABEL_BAD, ids=_ids(DNS_LABEL_BAD))
def test_dns1123_label_rejects(value: str) -> None:
    assert is_dns1123_label(value)


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        pytest.param("a.b", ["must not contain dots"], id="a valid subdomain with dots"),
        pytest.param("A", [LABEL_ERR], id="uppercase"),
        pytest.param("a" * 64, ["must be no more than 63 characters"], id="64 characters"),
        pytest.param(
            "a" * 64 + "-", ["must be no more than 63 characters", LABEL_ERR], id="long and bad"
        ),
    ],
)
def test_dns1123_label_messages(value: str, messages: list[str]) -> None:
    assert is_dns1123_label(value) == messages


# --- TestIsDNS1123Subdomain ---
SUBDOMAIN_GOOD = ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a",
                  "1--a--b--2", "a.a", "ab.a", "abc.a", "a1.a", "a-1.a", "a--1--2--b.a", "a.1",
                  "ab.1", "abc.1", "a1.1", "a-1.1", "a--1--2--b.1", "0.a", "01.a", "012.a",
                  "1a.a", "1-a.a", "1--a--b--2", "0.1", "01.1", "012.1", "1a.1", "1-a.1",
                  "1--a--b--2.1", "a.b.c.d.e", "aa.bb.cc.dd.ee", "1.2.3.4.5", "11.22.33.44.55",
                  "a" * 253]  # fmt: skip
SUBDOMAIN_BAD = ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_",
                 "a_", "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a..b", "1.", ".1",
                 "1..2", " ", "a ", " a", "a b", "1 ", " 1", "1 2", "A.a", "aB.a", "ab.A", "A1.a",
                 "a1.A", "A.1", "aB.1", "A1.1", "1A.1", "0.A", "01.A", "012.A", "1A.a", "1a.A",
                 "A.B.C.D.E", "AA.BB.CC.DD.EE", "a.B.c.d.e", "aa.bB.cc.dd.ee", "a@b", "a,b", "a_b",
                 "a;b", "a:b", "a%b", "a?b", "a$b", "a" * 254]  # fmt: skip


@pytest.mark.parametrize("value", SUBDOMAIN_GOOD, ids=_ids(SUBDOMAIN_GOOD))
def test_dns1123_subdomain_accepts(value: str) -> None:
    assert is_dns1123_subdomain(value) == []


@pytest.mark.parametrize("value", SUBDOMAIN_BAD, ids=_ids(SUBDOMAIN_BAD))
def test_dns1123_subdomain_rejects(value: str) -> None:
    assert is_dns1123_subdomain(value)


def test_dns1123_subdomain_messages() -> None:
    assert is_dns1123_subdomain("A") == [SUBDOMAIN_ERR]
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]


# --- TestIsValidPortNum / TestIsValidPortName ---
@pytest.mark.parametrize("port", [1, 2, 1000, 16384, 32768, 65535])
def test_port_number_accepts(port: int) -> None:
    assert is_valid_port_num(port) == []


@pytest.mark.parametrize("port", [0, -1, 65536, 100000])
def test_port_number_rejects(port: int) -> None:
    assert is_valid_port_num(port) == ["must be between 1 and 65535, inclusive"]


PORT_NAME_GOOD = ["telnet", "re-mail-ck", "pop3", "a", "a-1", "1-a", "a-1-b-2-c", "1-a-2-b-3"]
PORT_NAME_BAD = ["longerthan15characters", "", "a" * 16, "12345", "1-2-3-4", "-begin", "end-",
                 "two--hyphens", "whois++"]  # fmt: skip


@pytest.mark.parametrize("name", PORT_NAME_GOOD)
def test_port_name_accepts(name: str) -> None:
    assert is_valid_port_name(name) == []


@pytest.mark.parametrize("name", PORT_NAME_BAD, ids=_ids(PORT_NAME_BAD))
def test_port_name_rejects(name: str) -> None:
    assert is_valid_port_name(name)


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("longerthan15characters", ["must be no more than 15 characters"]),
        ("", [PORT_CHARSET, PORT_LETTER]),
        ("12345", [PORT_LETTER]),
        ("-begin", ["must not begin or end with a hyphen"]),
        ("two--hyphens", ["must not contain consecutive hyphens"]),
        ("whois++", [PORT_CHARSET]),
        ("--", [PORT_LETTER, "must not contain consecutive hyphens",
                "must not begin or end with a hyphen"]),
    ],
)  # fmt: skip
def test_port_name_messages(name: str, messages: list[str]) -> None:
    assert is_valid_port_name(name) == messages


# --- TestIsQualifiedName (content.TestIsLabelKey) ---
QUALIFIED_GOOD = ["simple", "now-with-dashes", "1-starts-with-num", "1234", "simple/simple",
                  "now-with-dashes/simple", "now-with-dashes/now-with-dashes",
                  "now.with.dots/simple", "now-with.dashes-and.dots/simple", "1-num.2-num/3-num",
                  "1234/5678", "1.2.3.4/5678", "Uppercase_Is_OK_123",
                  "example.com/Uppercase_Is_OK_123", "requests.storage-foo", "a" * 63,
                  "a" * 253 + "/" + "b" * 63]  # fmt: skip
QUALIFIED_BAD = ["nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash-",
                 "only/one/slash", "Example.com/abc", "example_com/abc", "example.com/", "/simple",
                 "a" * 64, "a" * 254 + "/abc"]  # fmt: skip


@pytest.mark.parametrize("value", QUALIFIED_GOOD, ids=_ids(QUALIFIED_GOOD))
def test_qualified_name_accepts(value: str) -> None:
    assert is_qualified_name(value) == []


@pytest.mark.parametrize("value", QUALIFIED_BAD, ids=_ids(QUALIFIED_BAD))
def test_qualified_name_rejects(value: str) -> None:
    assert is_qualified_name(value)


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        pytest.param("/simple", ["prefix part must be non-empty"], id="empty prefix"),
        pytest.param(
            "example.com/", ["name part must be non-empty", NAME_PART_ERR], id="empty name part"
        ),
        pytest.param(
            "a" * 64, ["name part must be no more than 63 bytes"], id="name part over 63 bytes"
        ),
        pytest.param(
            "a" * 254 + "/abc",
            ["prefix part must be no more than 253 bytes"],
            id="prefix over 253 bytes (content's MaxLenError says bytes)",
        ),
        pytest.param("Example.com/abc", ["prefix part " + SUBDOMAIN_ERR], id="uppercase prefix"),
        pytest.param(
            "only/one/slash",
            [
                "a valid label key "
                + NAME_PART_ERR.removeprefix("name part ")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ],
            id="two slashes",
        ),
        pytest.param("cantendwithadash-", [NAME_PART_ERR], id="trailing dash"),
    ],
)
def test_qualified_name_messages(value: str, messages: list[str]) -> None:
    assert is_qualified_name(value) == messages


# --- TestIsValidLabelValue (content.TestIsLabelValue) ---
VALUE_GOOD = ["simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234",
              "a" * 63, ""]  # fmt: skip
VALUE_BAD = ["nospecialchars%^=@", "Tama-nui-te-rā.is.Māori.sun", "\\backslashes\\are\\bad",
             "-starts-with-dash", "ends-with-dash-", ".starts.with.dot", "ends.with.dot.",
             "a" * 64]  # fmt: skip


@pytest.mark.parametrize("value", VALUE_GOOD, ids=_ids(VALUE_GOOD))
def test_label_value_accepts(value: str) -> None:
    assert is_valid_label_value(value) == []


@pytest.mark.parametrize("value", VALUE_BAD, ids=_ids(VALUE_BAD))
def test_label_value_rejects(value: str) -> None:
    assert is_valid_label_value(value)


def test_label_value_messages() -> None:
    assert is_valid_label_value("a" * 64) == ["must be no more than 63 bytes"]
    assert is_valid_label_value("-a") == [VALUE_ERR]
    # Go's len counts bytes: 32 two-byte characters are 64 bytes.
    assert is_valid_label_value("ā" * 32) == ["must be no more than 63 bytes", VALUE_ERR]


def test_regex_error_spells_examples_as_upstream() -> None:
    assert regex_error("m", "f") == "m (regex used for validation is 'f')"
    two = "m (e.g. 'a',  or 'b', regex used for validation is 'f')"
    assert regex_error("m", "f", "a", "b") == two


# --- TestIsValidIP: IsValidIPForLegacyField, strict and legacy (ip_test.go) ---
BAD_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
IP_CASES = [
    ("ipv4", "1.2.3.4", None, None),
    ("ipv4, all zeros", "0.0.0.0", None, None),
    ("ipv4, max", "255.255.255.255", None, None),
    ("ipv6", "1234::abcd", None, None),
    ("ipv6, all zeros, collapsed", "::", None, None),
    ("ipv6, max", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None, None),
    ("ipv6, all zeros, expanded (non-canonical)", "0:0:0:0:0:0:0:0", None, None),
    ("ipv6, leading 0s (non-canonical)", "0001:002:03:4::", None, None),
    ("ipv6, capital letters (non-canonical)", "1234::ABCD", None, None),
    ("ipv4 with leading 0s", "1.1.1.01", None, "must not have leading 0s"),
    ("ipv4-in-ipv6 value", "::ffff:1.1.1.1", None, "must not be an IPv4-mapped IPv6 address"),
    ("empty string", "", BAD_IP, BAD_IP),
    ("junk", "aaaaaaa", BAD_IP, BAD_IP),
    ("domain name", "myhost.mydomain", BAD_IP, BAD_IP),
    ("cidr", "1.2.3.0/24", BAD_IP, BAD_IP),
    ("ipv4 with out-of-range octets", "1.2.3.400", BAD_IP, BAD_IP),
    ("ipv4 with negative octets", "-1.0.0.0", BAD_IP, BAD_IP),
    ("ipv6 with out-of-range segment", "2001:db8::10005", BAD_IP, BAD_IP),
    ("ipv4:port", "1.2.3.4:80", BAD_IP, BAD_IP),
    ("ipv6 with brackets", "[2001:db8::1]", BAD_IP, BAD_IP),
    ("[ipv6]:port", "[2001:db8::1]:80", BAD_IP, BAD_IP),
    ("host:port", "example.com:80", BAD_IP, BAD_IP),
    ("ipv6 with zone", "1234::abcd%eth0", BAD_IP, BAD_IP),
    ("ipv4 with zone", "169.254.0.0%eth0", BAD_IP, BAD_IP),
]


def _details(errors: list) -> list[str]:
    return [err.detail for err in errors]


@pytest.mark.parametrize(("value", "legacy", "strict"), [c[1:] for c in IP_CASES],
                         ids=[c[0] for c in IP_CASES])  # fmt: skip
def test_ip_for_legacy_field(value: str, legacy: str | None, strict: str | None) -> None:
    path = Path("status.podIPs[0]")
    assert _details(is_valid_ip_for_legacy_field(path, value, strict=False)) == (
        [legacy] if legacy else []
    )
    errors = is_valid_ip_for_legacy_field(path, value, strict=True)
    assert _details(errors) == ([strict] if strict else [])
    assert all(err.field == "status.podIPs[0]" and err.bad_value == value for err in errors)


# --- TestIsValidCIDR: IsValidCIDRForLegacyField, strict and legacy (ip_test.go) ---
BAD_CIDR = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
LEADING = "must not have leading 0s in IP or prefix length"
MAPPED = "must not have an IPv4-mapped IPv6 address"
HOST_BITS = "must not have bits set beyond the prefix length"
CIDR_CASES = [
    ("ipv4", "1.0.0.0/8", None, None),
    ("ipv4, all IPs", "0.0.0.0/0", None, None),
    ("ipv4, single IP", "1.1.1.1/32", None, None),
    ("ipv6", "2001:4860:4860::/48", None, None),
    ("ipv6, all IPs", "::/0", None, None),
    ("ipv6, single IP", "::1/128", None, None),
    ("ipv6, extra 0s (non-canonical)", "2a00:79e0:2:0::/64", None, None),
    ("ipv6, capital letters (non-canonical)", "2001:DB8::/64", None, None),
    ("ipv4 with leading 0s", "1.1.01.0/24", None, LEADING),
    ("ipv4-in-ipv6 with ipv4-sized prefix", "::ffff:1.1.1.0/24", None, MAPPED),
    ("ipv4-in-ipv6 with ipv6-sized prefix", "::ffff:1.1.1.0/120", None, MAPPED),
    ("ipv4 ifaddr", "1.2.3.4/24", None, HOST_BITS),
    ("ipv6 ifaddr", "2001:db8::1/64", None, HOST_BITS),
    ("prefix length with leading 0s", "192.168.0.0/016", None, LEADING),
    ("ipv6 group of five hex digits", "2001:db8::00001/128", None, LEADING),
    ("empty string", "", BAD_CIDR, BAD_CIDR),
    ("junk", "aaaaaaa", BAD_CIDR, BAD_CIDR),
    ("IP address", "1.2.3.4", BAD_CIDR, BAD_CIDR),
    ("partial URL", "192.168.0.1/healthz", BAD_CIDR, BAD_CIDR),
    ("partial URL 2", "192.168.0.1/0/99", BAD_CIDR, BAD_CIDR),
    ("negative prefix length", "192.168.0.0/-16", BAD_CIDR, BAD_CIDR),
    ("prefix length with sign", "192.168.0.0/+16", BAD_CIDR, BAD_CIDR),
    ("ipv4 prefix longer than 32", "1.2.3.0/33", BAD_CIDR, BAD_CIDR),
    ("ipv6 with zone", "fe80::1%eth0/64", BAD_CIDR, BAD_CIDR),
]


@pytest.mark.parametrize(("value", "legacy", "strict"), [c[1:] for c in CIDR_CASES],
                         ids=[c[0] for c in CIDR_CASES])  # fmt: skip
def test_cidr_for_legacy_field(value: str, legacy: str | None, strict: str | None) -> None:
    path = Path("spec.ingress[0].from[0].ipBlock.cidr")
    assert _details(is_valid_cidr_for_legacy_field(path, value, strict=False)) == (
        [legacy] if legacy else []
    )
    assert _details(is_valid_cidr_for_legacy_field(path, value, strict=True)) == (
        [strict] if strict else []
    )


@pytest.mark.parametrize(
    ("cidr", "network", "prefix"),
    [
        pytest.param("10.001.2.0/24", bytes([10, 1, 2, 0]), 24, id="leading zeros are decimal"),
        pytest.param("192.168.1.1/16", bytes([192, 168, 0, 0]), 16, id="host bits are masked"),
        pytest.param("10.0.0.0/008", bytes([10, 0, 0, 0]), 8, id="prefix with leading zeros"),
        pytest.param("::ffff:1.2.3.4/120", bytes(10) + b"\xff\xff" + bytes([1, 2, 3, 0]), 120,
                     id="IPv4-mapped stays 16 bytes"),
    ],
)  # fmt: skip
def test_sloppy_cidr_parsing(cidr: str, network: bytes, prefix: int) -> None:
    parsed = parse_cidr_sloppy(cidr)
    assert parsed is not None
    assert (parsed.ip, parsed.prefix) == (network, prefix)
