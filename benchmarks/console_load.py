"""The console's REST API under concurrent clients: latency (p50, p99, max) and requests/s.

Usage:
    python benchmarks/console_load.py                          # 16 clients, 20 s, SQLite
    python benchmarks/console_load.py --clients 64 --seconds 60
    python benchmarks/console_load.py --requests 5000          # a fixed amount of work instead
    python benchmarks/console_load.py --synthetic 1000x200     # a bigger cluster instead
    python benchmarks/console_load.py --database postgresql://podwall_test:podwall_test@127.0.0.1/podwall_test

Everything is real and on 127.0.0.1. The lab API server (podwall.apiserver.ApiServer, as
`podwall lab api-server` runs it, in this process) serves the examples topology's namespaces
and 18 pods with examples/policies, or with `--synthetic PODSxPOLICIES` the cluster of
benchmarks/synthetic.py instead. The console runs as `podwall serve` in its own process
(uvicorn, one worker) on a fresh database: a SQLite file in a temporary directory, or with
`--database postgresql://...` a scratch database created on that server (its role must be
allowed to create databases) and dropped at the end. Set-up goes through the REST API as a
user would: log in with the printed one-time password, change it, register the lab's
kubeconfig as cluster "lab", sync it (`?wait=true`). Then each client logs in (its own session
and CSRF token, as a browser tab) and, after one unrecorded round of warm-up, loops over a
fixed weighted mix until `--seconds` pass or `--requests` are done:

    list clusters (3)   GET  /clusters
    list policies (3)   GET  /clusters/lab/policies?namespace=|name=|label=   (rotating filters)
    validate YAML (2)   POST /validate   (a valid policy, then one with an error, in turn)
    matrix        (1)   GET  /clusters/lab/matrix?port=80&protocol=TCP[&namespace=]
    explain       (2)   GET  /clusters/lab/explain?from=&to=&port=&protocol=  (pod pairs)

Clients are asyncio tasks in this process, each with its own httpx.AsyncClient and keep-alive
connection; a request's latency is from sending it to having read its whole body. The table
shows, per endpoint and overall: requests, errors (any status but 200), requests/s over the
measured wall time, and p50, p99 and max latency in milliseconds. The console, the lab API and
the clients share the machine's CPUs: the header says how many there are.

No peer: the seeds' consoles (CCE, HSS) are hosted services with no published load figures
and nothing to run locally, so there is nothing to compare with.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_POLICIES = ROOT / "examples" / "policies"
PODWALL = Path(sys.executable).parent / "podwall"
NEW_PASSWORD = "benchmark password, long enough"
INVALID = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: default}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 80, endPort: 79}]
"""
WEIGHTS = {"list clusters": 3, "list policies": 3, "validate YAML": 2, "matrix": 1,
           "explain": 2}


# -- the lab API and the console -------------------------------------------------------------


def _lab_objects(synthetic: str | None) -> tuple[object, list[dict]]:
    """(what seeds the namespaces and pods, the NetworkPolicy manifests): the examples
    topology and examples/policies, or benchmarks/synthetic.py's cluster."""
    from podwall.assemble import assemble
    from podwall.inputs import read_documents
    from podwall.lab.topology import load_topology

    if synthetic is None:
        topology = load_topology(ROOT / "src" / "podwall" / "lab" / "topologies" / "examples.yaml")
        return topology, [d.manifest for d in read_documents([str(EXAMPLE_POLICIES)])]
    from synthetic import generate_cluster

    pods, policies = (int(n) for n in synthetic.split("x"))
    manifests = generate_cluster(pods, policies, seed=1)
    loaded = assemble([("synthetic", m) for m in manifests if m["kind"] != "NetworkPolicy"])
    return loaded.cluster, [m for m in manifests if m["kind"] == "NetworkPolicy"]


def _seed_lab_api(db: Path, synthetic: str | None) -> None:
    """Namespaces, pods and NetworkPolicies into the lab API's store, validated as created."""
    from podwall.apiserver.options import WriteOptions
    from podwall.apiserver.registry import Registry
    from podwall.apiserver.resources import NETWORK_POLICIES
    from podwall.apiserver.server import seed_store
    from podwall.apiserver.store import Store

    source, policies = _lab_objects(synthetic)
    store = Store(db)
    try:
        registry = Registry(store)
        seed_store(registry, source)
        for m in policies:
            meta = {k: v for k, v in m["metadata"].items() if k in ("name", "namespace", "labels")}
            registry.create(NETWORK_POLICIES, meta.get("namespace", "default"),
                            {**m, "metadata": meta}, WriteOptions())
    finally:
        store.close()


@contextlib.contextmanager
def fresh_database(url: str | None, workdir: Path) -> Iterator[str]:
    """A SQLite file in `workdir`, or a scratch PostgreSQL database dropped afterwards."""
    if not url:
        yield f"sqlite:///{workdir / 'console.db'}"
        return
    from podwall.console.db import scratch_database

    with scratch_database(url, "podwall_bench") as scratch:
        yield scratch


@contextlib.contextmanager
def running_console(database: str, port: int, workdir: Path) -> Iterator[str]:
    """`podwall serve` on 127.0.0.1:port; yields its admin's one-time password."""
    log = (workdir / "console.log").open("w+")
    env = {**os.environ, "HOME": str(workdir), "PODWALL_HOME": str(workdir)}
    proc = subprocess.Popen([str(PODWALL), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--database", database], stdout=log, stderr=subprocess.STDOUT,
                            env=env, text=True)
    try:
        deadline = time.monotonic() + 60
        # The address is bound before the database opens: wait for the line said last.
        while "podwall console on" not in _read(log) or not _accepts(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the console did not start:\n{_read(log)}")
            time.sleep(0.05)
        found = re.search(r"one-time password: (\S+)", _read(log))
        if not found:
            raise SystemExit(f"the console printed no one-time password:\n{_read(log)}")
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _read(log) -> str:
    log.seek(0)
    return log.read()


def _accepts(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def set_up_console(base: str, password: str, kubeconfig: str) -> dict:
    """As the first user would: log in, change the password, register and sync the lab."""
    with httpx.Client(base_url=base, timeout=300) as client:
        login = client.post("/session", json={"username": "admin", "password": password})
        login.raise_for_status()
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        client.post("/me/password", json={"current_password": password,
                                          "new_password": NEW_PASSWORD}).raise_for_status()
        client.post("/clusters", json={"name": "lab", "kubeconfig": kubeconfig}
                    ).raise_for_status()
        synced = client.post("/clusters/lab/sync", params={"wait": "true"})
        synced.raise_for_status()
        cluster = synced.json()
        if cluster["state"] != "synced":
            raise SystemExit(f"the lab did not sync: {cluster}")
        pods = client.get("/clusters/lab/pods").json()
        namespaces = sorted({p["namespace"] for p in pods})
        return {"counts": cluster["counts"], "pods": [f"{p['namespace']}/{p['name']}"
                                                       for p in pods], "namespaces": namespaces}


# -- the load --------------------------------------------------------------------------------


@dataclass
class Mix:
    """The requests clients make, in a fixed weighted order, with rotating parameters."""

    pods: list[str]
    namespaces: list[str]
    policy_yaml: list[str]

    def requests(self, seed: int) -> Iterator[tuple[str, str, str, dict]]:
        """(endpoint, method, path, keywords for httpx) forever; each client (seed) has its
        own order of the weighted endpoints, so clients do not move in lock-step."""
        rng = random.Random(seed)
        names = [n for n, w in WEIGHTS.items() for _ in range(w)]
        rng.shuffle(names)
        filters = itertools.cycle([{"namespace": n} for n in self.namespaces]
                                  + [{"name": "demo"}, {"label": "team=data"}])
        yaml_texts = itertools.cycle([*self.policy_yaml, INVALID])
        matrix = itertools.cycle([{}, *({"namespace": n} for n in self.namespaces[:3])])
        for name in itertools.cycle(names):
            if name == "list clusters":
                yield name, "GET", "/clusters", {}
            elif name == "list policies":
                yield name, "GET", "/clusters/lab/policies", {"params": next(filters)}
            elif name == "validate YAML":
                yield name, "POST", "/validate", {"json": {"yaml": next(yaml_texts)}}
            elif name == "matrix":
                params = {"port": 80, "protocol": "TCP", **next(matrix)}
                yield name, "GET", "/clusters/lab/matrix", {"params": params}
            else:
                src, dst = rng.sample(self.pods, 2)
                params = {"from": src, "to": dst, "port": 80, "protocol": "TCP"}
                yield name, "GET", "/clusters/lab/explain", {"params": params}


@dataclass
class Run:
    """What the clients share: when to start, when to stop, and what they measured."""

    clients: int
    seconds: float
    budget: int | None  # requests left, with --requests
    stop_at: float = math.inf
    ready: int = 0
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    start: asyncio.Event = field(default_factory=asyncio.Event)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    first_error: str = ""

    def another(self) -> bool:
        """Whether a client may send one more request (and count it against the budget)."""
        if self.budget is None:
            return time.monotonic() < self.stop_at
        self.budget -= 1
        return self.budget >= 0

    def record(self, name: str, seconds: float, answer: httpx.Response) -> None:
        self.latencies.setdefault(name, []).append(seconds)
        if answer.status_code != 200:
            self.errors[name] = self.errors.get(name, 0) + 1
            self.first_error = self.first_error or (
                f"{name}: {answer.status_code} {answer.text[:300]}")


async def _client(base: str, mix: Mix, run: Run, seed: int) -> None:
    """Log in, warm up with one unrecorded round of the mix, then load until told to stop."""
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        login = await client.post("/session", json={"username": "admin",
                                                    "password": NEW_PASSWORD})
        login.raise_for_status()
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        requests = mix.requests(seed)
        for _name, method, path, kw in itertools.islice(requests, sum(WEIGHTS.values())):
            (await client.request(method, path, **kw)).raise_for_status()
        run.ready += 1
        if run.ready == run.clients:
            run.all_ready.set()
        await run.start.wait()
        for name, method, path, kw in requests:
            if not run.another():
                return
            began = time.perf_counter()
            answer = await client.request(method, path, **kw)
            run.record(name, time.perf_counter() - began, answer)


async def run_load(base: str, mix: Mix, run: Run) -> float:
    """Every client ready, then the clock starts; the measured wall time in seconds."""
    tasks = [asyncio.create_task(_client(base, mix, run, seed)) for seed in range(run.clients)]
    waiting = asyncio.create_task(run.all_ready.wait())
    done, _ = await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if waiting not in done:  # a client failed while setting up
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise SystemExit(f"a client failed to set up: {next(iter(done)).exception()}")
    began = time.perf_counter()
    run.stop_at = time.monotonic() + run.seconds
    run.start.set()
    await asyncio.gather(*tasks)
    return time.perf_counter() - began


# -- the report ------------------------------------------------------------------------------


def _percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..1) of an ascending list."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def report(run: Run, wall: float) -> list[str]:
    rows = [(name, run.latencies.get(name, [])) for name in WEIGHTS]
    rows.append(("all", [x for _, values in rows for x in values]))
    header = (f"{'endpoint':<15} {'requests':>9} {'errors':>7} {'req/s':>8} "
              f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    lines = [header, "-" * len(header)]
    for name, values in rows:
        if not values:
            lines.append(f"{name:<15} {0:>9}")
            continue
        ordered = sorted(values)
        errors = sum(run.errors.values()) if name == "all" else run.errors.get(name, 0)
        lines.append(
            f"{name:<15} {len(values):>9} {errors:>7} {len(values) / wall:>8.1f} "
            f"{_percentile(ordered, 0.5) * 1000:>8.1f} {_percentile(ordered, 0.99) * 1000:>8.1f} "
            f"{ordered[-1] * 1000:>8.1f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured time (default 20)")
    ap.add_argument("--requests", type=int, help="a fixed number of requests instead of time")
    ap.add_argument("--database", help="postgresql://... of a role that may create databases "
                    "(default: a SQLite file)")
    ap.add_argument("--synthetic", metavar="PODSxPOLICIES",
                    help="benchmarks/synthetic.py's cluster instead of the examples, e.g. 1000x200")
    args = ap.parse_args(argv)
    if args.synthetic and not re.fullmatch(r"\d+x\d+", args.synthetic):
        ap.error("--synthetic takes PODSxPOLICIES, e.g. 1000x200")
    workdir = Path(tempfile.mkdtemp(prefix="pwload"))
    try:
        return _bench(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _bench(args: argparse.Namespace, workdir: Path) -> int:
    from podwall.apiserver import ApiServer

    _seed_lab_api(workdir / "api.db", args.synthetic)
    port = _free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    with ApiServer(workdir / "api.db") as lab, fresh_database(args.database, workdir) as url, \
            running_console(url, port, workdir) as password:
        kubeconfig = lab.write_kubeconfig(workdir / "kubeconfig").read_text()
        cluster = set_up_console(base, password, kubeconfig)
        texts = [p.read_text() for p in sorted(EXAMPLE_POLICIES.glob("*.yaml"))]
        mix = Mix(pods=cluster["pods"], namespaces=cluster["namespaces"], policy_yaml=texts)
        run = Run(clients=args.clients, seconds=args.seconds, budget=args.requests)
        wall = asyncio.run(run_load(base, mix, run))
    kind = "PostgreSQL" if args.database else "SQLite"
    counts = cluster["counts"]
    amount = f"{args.requests} requests" if args.requests else f"{args.seconds:g} s"
    print(f"podwall console under load: {args.clients} clients, {amount} (measured {wall:.1f} s), "
          f"{kind}; cluster lab: {counts.get('Namespace', 0)} namespaces, "
          f"{counts.get('Pod', 0)} pods, {counts.get('NetworkPolicy', 0)} NetworkPolicies")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs shared by the console "
          "(uvicorn, one process), the lab API and the clients\n")
    print("\n".join(report(run, wall)))
    if run.first_error:
        print(f"\nfirst error: {run.first_error}")
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main())
