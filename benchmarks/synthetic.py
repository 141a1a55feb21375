"""Deterministic generator of realistic synthetic Kubernetes clusters for benchmarking.

Why: podwall and the peer tool (NCA) must be timed on identical, reproducible inputs that look
like what ``kubectl get ns,pods,netpol -A -o yaml`` prints, and that exercise every NetworkPolicy
feature (selectors with expressions, ipBlocks with except, IPv4 and IPv6, named ports, endPort,
UDP, DNS egress).  Only the standard library and PyYAML are used.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]

TIMESTAMP = "2024-05-01T12:00:00Z"
HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what k8s uses for pod-template-hash / suffixes
TEAMS = ("payments", "search", "identity", "checkout", "catalog", "data", "ml", "growth",
         "messaging", "media", "risk", "ads")
ENVS = ("prod", "staging", "dev")
TIERS = ("frontend", "backend", "database", "cache")
TIER_WEIGHTS = (0.2, 0.5, 0.15, 0.15)
APPS = {
    "frontend": ("web", "storefront", "portal", "admin-ui", "landing"),
    "backend": ("api", "auth", "cart", "orders", "billing", "ledger", "inventory", "shipping",
                "users", "reviews", "notifier", "recommender", "gateway", "worker"),
    "database": ("postgres", "mysql", "mongodb", "cassandra"),
    "cache": ("redis", "memcached"),
}
DB_PORTS = {"postgres": [("postgres", 5432)], "mysql": [("mysql", 3306)],
            "mongodb": [("mongodb", 27017)], "cassandra": [("cql", 9042), ("gossip", 7000)]}


@dataclass
class Namespace:
    """A namespace plus the workloads placed in it (used to aim policies at real labels)."""

    name: str
    labels: dict[str, str]
    deployments: list[Deployment] = field(default_factory=list)


@dataclass
class Deployment:
    """A group of replica pods sharing labels and ports."""

    app: str
    tier: str
    labels: dict[str, str]
    ports: list[tuple[str, int, str]]  # (name, containerPort, protocol)
    replicas: int


class _Gen:
    """Holds the RNG and counters so every id is derived from the seed alone."""

    def __init__(self, seed: int) -> None:
        self.rng, self.rv = random.Random(seed), 1000

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def meta(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        self.rv += 1
        ns = {} if namespace is None else {"namespace": namespace}
        return {"creationTimestamp": TIMESTAMP, "name": name, **ns,
                "resourceVersion": str(self.rv), "uid": self.uid()}

    def token(self, n: int) -> str:
        """A k8s-style random suffix; never all digits (NCA would read it back as an int)."""
        s = "".join(self.rng.choice(HASH_ALPHABET) for _ in range(n))
        return s if not s.isdigit() else "b" + s[1:]


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """Split ``total`` into ``parts`` positive-ish integers with uneven (realistic) weights."""
    weights = [rng.uniform(0.4, 2.5) for _ in range(parts)]
    sizes = [max(1, int(w * total / sum(weights))) for w in weights]
    i = 0
    while (diff := total - sum(sizes)) != 0:
        if diff > 0 or sizes[i % parts] > 1:
            sizes[i % parts] += 1 if diff > 0 else -1
        i += 1
    return sizes


def _ports_for(app: str, tier: str, rng: random.Random) -> list[tuple[str, int, str]]:
    if tier == "frontend":
        ports = [("http", rng.choice((8080, 3000, 80)), "TCP")]
    elif tier == "backend":
        ports = [("http", rng.choice((8080, 8000)), "TCP")]
        if rng.random() < 0.5:
            ports.append(("grpc", rng.choice((9000, 50051)), "TCP"))
        if rng.random() < 0.2:
            ports.append(("statsd", 8125, "UDP"))
    elif tier == "database":
        ports = [(n, p, "TCP") for n, p in DB_PORTS[app]]
    elif app == "redis":
        ports = [("redis", 6379, "TCP")]
    else:
        ports = [("memcache", 11211, "TCP"), ("memcache-udp", 11211, "UDP")]
    if rng.random() < 0.8:
        ports.append(("metrics", 9090 if tier in ("frontend", "backend") else 9187, "TCP"))
    return ports


def _build_topology(g: _Gen, pods: int) -> list[Namespace]:
    """Namespaces (kube-system first, then monitoring and team namespaces) with deployments."""
    rng = g.rng
    dns_replicas = 2 if pods >= 4 else 1
    kube_system = Namespace("kube-system", {"kubernetes.io/metadata.name": "kube-system"})
    kube_system.deployments.append(Deployment(
        "coredns", "dns", {"k8s-app": "kube-dns"},
        [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")], dns_replicas))
    n_app = max(2, pods // 20 - 1)
    app_pods = pods - dns_replicas
    result = [kube_system]
    if app_pods <= 0:
        return result
    names = {"kube-system"}
    for i, size in enumerate(_split(app_pods, min(n_app, app_pods), rng)):
        if i == 0:
            team, env, name = "platform", "prod", "monitoring"
        else:
            team, env = rng.choice(TEAMS), rng.choices(ENVS, (0.5, 0.3, 0.2))[0]
            name, k = f"{team}-{env}", 2
            while name in names:
                name, k = f"{team}-{env}-{k}", k + 1
        names.add(name)
        labels = {"env": env, "kubernetes.io/metadata.name": name, "team": team}
        labels.update({"istio-injection": "enabled"} if rng.random() < 0.3 else {})
        labels.update({"compliance": "pci"} if rng.random() < 0.15 else {})
        ns = Namespace(name, labels)
        used: set[str] = set()
        while size > 0:
            if i == 0 and not ns.deployments:
                tier, app, ports = "backend", "prometheus", [("web", 9090, "TCP")]
            else:
                tier = rng.choices(TIERS, TIER_WEIGHTS)[0]
                app = rng.choice(APPS[tier])
                ports = _ports_for(app, tier, rng)
            base, k = app, 2
            while app in used:
                app, k = f"{base}-{k}", k + 1
            used.add(app)
            replicas = min(size, rng.choice((1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 8, 10)))
            version = rng.choice(("v1", "v2", "v3", "v2-canary"))
            labels = {"app": app, "team": team, "tier": tier, "version": version}
            ns.deployments.append(Deployment(app, tier, labels, ports, replicas))
            size -= replicas
        result.append(ns)
    return result


def _namespace_manifest(g: _Gen, ns: Namespace) -> Manifest:
    meta = {**g.meta(ns.name), "labels": dict(sorted(ns.labels.items()))}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def _container(name: str, image: str, ports: list[tuple[str, int, str]]) -> dict[str, Any]:
    return {"image": image, "imagePullPolicy": "IfNotPresent", "name": name,
            "ports": [{"containerPort": p, "name": n, "protocol": proto} for n, p, proto in ports]}


def _pod_manifests(g: _Gen, namespaces: list[Namespace], n_nodes: int) -> list[Manifest]:
    """Pods with ownerReferences, node placement, and IPs unique per node pod CIDR."""
    rng = g.rng
    next_ip = [2] * n_nodes
    out: list[Manifest] = []
    for ns in namespaces:
        for d in ns.deployments:
            stateful, token = d.tier == "database", g.token(10)  # databases are StatefulSets
            owner = d.app if stateful else f"{d.app}-{token}"
            owner_ref = {"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                         "kind": "StatefulSet" if stateful else "ReplicaSet", "name": owner,
                         "uid": g.uid()}
            for r in range(d.replicas):
                name = f"{d.app}-{r}" if stateful else f"{owner}-{g.token(5)}"
                extra = ({"controller-revision-hash": f"{owner}-{token}",
                          "statefulset.kubernetes.io/pod-name": name} if stateful
                         else {"pod-template-hash": token})
                meta = {**g.meta(name, ns.name), "ownerReferences": [dict(owner_ref)],
                        "labels": dict(sorted({**d.labels, **extra}.items()))}
                meta.update({} if stateful else {"generateName": f"{owner}-"})
                image = (f"registry.example.com/{ns.labels['team']}/{d.app}:{d.labels['version']}"
                         if "team" in ns.labels else f"registry.k8s.io/{d.app}/{d.app}:v1.11.1")
                containers = [_container(d.app, image, d.ports)]
                if ns.labels.get("istio-injection") == "enabled":
                    containers.append(_container("istio-proxy", "docker.io/istio/proxyv2:1.20.3",
                                                 [("http-envoy-prom", 15090, "TCP")]))
                node = rng.randrange(n_nodes)
                offset, next_ip[node] = next_ip[node], next_ip[node] + 1
                v4, host_ip = str(node_pod_cidr(node)[offset]), f"192.168.10.{10 + node}"
                pod_ips = [{"ip": v4}]
                if node % 2 == 1:  # odd nodes are dual-stack
                    pod_ips.append({"ip": str(node_pod_cidr_v6(node)[offset])})
                out.append({
                    "apiVersion": "v1", "kind": "Pod", "metadata": meta,
                    "spec": {"containers": containers, "dnsPolicy": "ClusterFirst",
                             "nodeName": f"node-{node}", "restartPolicy": "Always",
                             "schedulerName": "default-scheduler",
                             "serviceAccountName": "default"},
                    "status": {"hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "phase": "Running",
                               "podIP": v4, "podIPs": pod_ips, "qosClass": "BestEffort",
                               "startTime": TIMESTAMP}})
    return out


def node_pod_cidr(node: int) -> ipaddress.IPv4Network:
    """IPv4 pod CIDR of ``node-<node>``: 10.(64+node).0.0/16, inside cluster CIDR 10.64.0.0/10."""
    return ipaddress.IPv4Network(f"10.{64 + node}.0.0/16")


def node_pod_cidr_v6(node: int) -> ipaddress.IPv6Network:
    """IPv6 pod CIDR of a dual-stack (odd) node: 2001:db8:42:<node>::/64."""
    return ipaddress.IPv6Network(f"2001:db8:42:{node:x}::/64")


def _sel(**labels: str) -> dict[str, Any]:
    return {"matchLabels": dict(sorted(labels.items()))}


def _ns_name(name: str) -> dict[str, Any]:
    return _sel(**{"kubernetes.io/metadata.name": name})


def _port(port: int | str, proto: str = "TCP", end: int | None = None) -> dict[str, Any]:
    return {"port": port, "protocol": proto, **({} if end is None else {"endPort": end})}


def _dns_egress() -> dict[str, Any]:
    """The standard allow-DNS egress rule (a fresh dict each time: YAML must not alias)."""
    return {"to": [{"namespaceSelector": _ns_name("kube-system"),
                    "podSelector": _sel(**{"k8s-app": "kube-dns"})}],
            "ports": [_port(53, "UDP"), _port(53, "TCP")]}


def _policy_specs(rng: random.Random, ns: Namespace, others: list[Namespace],
                  n_nodes: int) -> tuple[str, dict[str, Any]]:
    """One randomly chosen, API-valid policy for ``ns``: (name prefix, spec)."""
    d, other, node = rng.choice(ns.deployments), rng.choice(others), rng.randrange(n_nodes)
    (main_name, main_port, main_proto), target = d.ports[0], _sel(app=d.app)
    kind = rng.choices(range(13), (10, 8, 6, 6, 5, 5, 4, 4, 5, 4, 4, 3, 2))[0]
    if kind == 0:  # tier-to-tier, named port
        upstream = {"database": "backend", "cache": "backend"}.get(d.tier, "frontend")
        return f"allow-{upstream}-to-{d.app}", {
            "podSelector": target, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": _sel(tier=upstream)}],
                         "ports": [_port(main_name, main_proto)]}]}
    if kind == 1:  # cross-namespace AND peer, numeric port
        return f"allow-{other.labels.get('team', 'x')}-to-{d.app}", {
            "podSelector": target, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": _sel(team=other.labels.get("team", "")),
                                   "podSelector": _sel(tier="backend")}],
                         "ports": [_port(main_port, main_proto)]}]}
    if kind == 2:  # OR across three peers, one an ipBlock over the whole pod CIDR
        o = rng.choice(other.deployments)
        return f"allow-mixed-to-{d.app}", {
            "podSelector": target, "policyTypes": ["Ingress"],
            "ingress": [{"from": [
                {"podSelector": _sel(app=rng.choice(ns.deployments).app)},
                {"namespaceSelector": _sel(env="prod"), "podSelector": {"matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["backend", "frontend"]}]}},
                {"namespaceSelector": _ns_name(other.name), "podSelector": _sel(app=o.app)},
                {"ipBlock": {"cidr": "10.64.0.0/10", "except": [str(node_pod_cidr(node))]}}]}]}
    if kind == 3:  # matchExpressions on both selectors
        return "allow-prod-staging-to-non-db", {
            "podSelector": {"matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["database"]},
                {"key": "version", "operator": "Exists"}]},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                {"key": "istio-injection", "operator": "DoesNotExist"}]}}],
                "ports": [_port("http")]}]}
    if kind == 4:  # external IPv4 clients
        return f"allow-external-to-{d.app}", {
            "podSelector": target, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "203.0.113.0/24",
                                               "except": ["203.0.113.128/25"]}},
                                  {"ipBlock": {"cidr": "198.51.100.0/24"}}],
                         "ports": [_port(443), _port(main_port, main_proto)]}]}
    if kind == 5:  # egress to the internet but not private ranges (excludes every pod)
        return f"allow-internet-from-{d.app}", {
            "podSelector": target, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [
                "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
                "ports": [_port(443), _port(80)]}, _dns_egress()]}
    if kind == 6:  # egress to pods on one node via ipBlock, port range
        return f"allow-node{node}-range-from-{d.app}", {
            "podSelector": target, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": str(node_pod_cidr(node))}}],
                        "ports": [_port(8000, "TCP", 9999)]}]}
    if kind == 7:  # IPv6: dual-stack pods except one node, and an external v6 range
        v6node = node | 1 if (node | 1) < n_nodes else 1
        return f"allow-ipv6-{d.app}", {
            "podSelector": target, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "2001:db8::/32", "except": [
                str(node_pod_cidr_v6(v6node))]}}], "ports": [_port(main_name, main_proto)]}],
            "egress": [{"to": [{"ipBlock": {"cidr": "2001:db8:ffff::/48"}}],
                        "ports": [_port(443)]}]}
    if kind == 8:  # prometheus scrape on the named metrics port, for every pod
        return "allow-prometheus-scrape", {
            "podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": _ns_name("monitoring"),
                                   "podSelector": _sel(app="prometheus")}],
                         "ports": [_port("metrics")]}]}
    if kind == 9:  # UDP: statsd in, syslog and NTP out
        return f"allow-udp-{d.app}", {
            "podSelector": target, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}], "ports": [_port(8125, "UDP")]}],
            "egress": [{"to": [{"ipBlock": {"cidr": "198.51.100.0/24"}}],
                        "ports": [_port(514, "UDP"), _port(123, "UDP")]}]}
    if kind == 10:  # endPort ranges across namespaces
        return f"allow-range-{d.app}", {
            "podSelector": target, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"namespaceSelector": _sel(env="dev")}],
                         "ports": [_port(8000, "TCP", 8100)]}],
            "egress": [{"to": [{"namespaceSelector": _ns_name(other.name)}],
                        "ports": [_port(30000, "TCP", 32767), _port(9000, "TCP", 9100)]}]}
    if kind == 11:  # backends talk to databases/caches in the namespace by named port
        db = rng.choice([x for x in ns.deployments if x.tier in ("database", "cache")] or [d])
        return f"allow-{d.app}-to-{db.app}", {
            "podSelector": _sel(tier="backend"), "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": _sel(app=db.app)}],
                        "ports": [_port(n, proto) for n, _, proto in db.ports]}]}
    if rng.random() < 0.5:  # allow-all ingress to one app
        return f"allow-all-to-{d.app}", {"podSelector": target, "policyTypes": ["Ingress"],
                                         "ingress": [{}]}
    return f"quarantine-{d.app}", {"podSelector": target, "policyTypes": ["Ingress", "Egress"]}


def _policies(g: _Gen, namespaces: list[Namespace], count: int, n_nodes: int) -> list[Manifest]:
    """Baseline default-deny/DNS/same-namespace policies for some namespaces, then a mix."""
    rng = g.rng
    apps = [ns for ns in namespaces if ns.name != "kube-system" and ns.deployments]
    specs: list[tuple[Namespace, str, dict[str, Any]]] = []
    for ns in rng.sample(apps, len(apps)):
        mode = rng.choice(("ingress", "all", "all", "egress"))
        if len(specs) + (3 if mode == "all" else 2) > int(count * 0.35):
            break
        types = {"ingress": ["Ingress"], "egress": ["Egress"], "all": ["Ingress", "Egress"]}[mode]
        specs.append((ns, f"default-deny-{mode}", {"podSelector": {}, "policyTypes": types}))
        if mode != "ingress":
            specs.append((ns, "allow-dns", {"podSelector": {}, "policyTypes": ["Egress"],
                                            "egress": [_dns_egress()]}))
        if mode != "egress":
            specs.append((ns, "allow-same-namespace", {
                "podSelector": {}, "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {}}]}]}))
    while apps and len(specs) < count:
        ns = rng.choice(apps)
        specs.append((ns, *_policy_specs(rng, ns, apps, n_nodes)))
    used: set[tuple[str, str]] = set()
    out: list[Manifest] = []
    for ns, name, spec in specs[:count]:
        base, k = name[:60], 2
        while (ns.name, name) in used:
            name, k = f"{base}-{k}", k + 1
        used.add((ns.name, name))
        out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {**g.meta(name, ns.name), "generation": 1}, "spec": spec})
    return out


def generate_cluster(pods: int, policies: int, seed: int = 0) -> list[Manifest]:
    """Namespaces, then Pods, then NetworkPolicies; exactly ``pods`` pods and ``policies``."""
    if pods < 1 or policies < 0:
        raise ValueError("need pods >= 1 and policies >= 0")
    g = _Gen(seed)
    n_nodes = min(12, 3 + pods // 500)
    namespaces = _build_topology(g, pods)
    out = [_namespace_manifest(g, ns) for ns in namespaces]
    out += _pod_manifests(g, namespaces, n_nodes)
    out += _policies(g, namespaces, policies, n_nodes)
    return out


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """kubectl never emits YAML anchors/aliases, so neither do we."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(docs: list[Manifest], path: Path, as_list: bool) -> None:
    with path.open("w", encoding="utf-8") as f:
        if as_list:  # the shape of `kubectl get <kind> -A -o yaml`
            yaml.dump({"apiVersion": "v1", "items": docs, "kind": "List",
                       "metadata": {"resourceVersion": ""}}, f, Dumper=_Dumper, sort_keys=True)
        else:
            yaml.dump_all(docs, f, Dumper=_Dumper, sort_keys=True)


def write_cluster(manifests: list[Manifest], directory: str | Path, split: bool = False) -> Path:
    """Write ``cluster.yaml`` (multi-doc); with ``split`` also the three NCA inputs.

    The split files are ``namespaces.yaml`` and ``pods.yaml`` (kubectl ``List`` objects, for
    NCA's ``--ns_list``/``--pod_list``) and ``policies/policies.yaml`` (multi-doc, for
    ``--connectivity``; kept in a subdirectory so pointing NCA at a directory sees no pods).
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    _dump(manifests, root / "cluster.yaml", as_list=False)
    if split:
        (root / "policies").mkdir(exist_ok=True)
        by_kind = {k: [m for m in manifests if m["kind"] == k]
                   for k in ("Namespace", "Pod", "NetworkPolicy")}
        _dump(by_kind["Namespace"], root / "namespaces.yaml", as_list=True)
        _dump(by_kind["Pod"], root / "pods.yaml", as_list=True)
        _dump(by_kind["NetworkPolicy"], root / "policies" / "policies.yaml", as_list=False)
    return root
