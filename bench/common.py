"""What the benchmarks share: a site prepared with N companies, its environment, query sets."""

import http.client
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "startups_demo.jsonl"
BENCH_VAR = ROOT / "var" / "bench"
MODEL_DIR = ROOT / "var" / "models" / "all-MiniLM-L6-v2"


def site_env(workdir, **extra):
    """The environment of a production-like site (DEBUG off) living in ``workdir``."""
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-only-not-secret",
        "VAR_DIR": str(workdir),
        "DATABASE_URL": f"sqlite:///{workdir}/db.sqlite3",
        "EMBEDDING_MODEL_DIR": str(MODEL_DIR),
        "API_ANON_SEARCH_RATE": "100000000/minute",
        "API_ANON_SUGGEST_RATE": "100000000/minute",
        "DJANGO_SETTINGS_MODULE": "searchsite.settings",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    for name in ("QDRANT_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        if name not in extra:
            env.pop(name, None)
    return env


def ensure_database(url):
    """Create the PostgreSQL database of ``url`` if it does not exist."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def prepare_site(size, database_url=None, **environment):
    """A folder with a database and an embedded index of ``size`` companies (reused if there).

    259 is the demo data; other sizes are bench/data.py's synthetic companies. The database is
    SQLite in the folder, or the PostgreSQL database ``database_url`` (created if missing, and
    emptied: the index in the folder must hold its companies' ids); run the site on it with
    ``site_env(workdir, DATABASE_URL=database_url)``. ``environment``: settings the import runs
    with (say ``QDRANT_VECTOR_DATATYPE="float32"``), each variant in a folder of its own.
    """
    workdir = BENCH_VAR / f"site-{size}"
    if database_url:
        workdir = workdir.with_name(f"{workdir.name}-{database_url.rsplit('/', 1)[1]}")
    for value in environment.values():
        workdir = workdir.with_name(f"{workdir.name}-{value.lower()}")
    done = workdir / "prepared"
    if done.exists():
        return workdir
    workdir.mkdir(parents=True, exist_ok=True)
    data = DEMO
    if size != 259:
        from bench.data import generate

        data = workdir / "companies.jsonl"
        with open(data, "w") as f:
            for record in generate(size):
                f.write(json.dumps(record) + "\n")
    env = site_env(
        workdir, **({"DATABASE_URL": database_url} if database_url else {}), **environment
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    print(f"Preparing a site with {size:,} companies in {workdir} (once)...", flush=True)
    if database_url:
        ensure_database(database_url)
    subprocess.run(manage + ["migrate", "-v0"], env=env, check=True, cwd=ROOT)
    if database_url:
        subprocess.run(manage + ["flush", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(manage + ["collectstatic", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        manage + ["import_companies", str(data)],
        env=env,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    done.write_text("ok")
    return workdir


def distinct_queries(count, seed=3):
    """``count`` different search queries: the judged ones, then phrases in their style."""
    judged = [
        json.loads(line)["query"]
        for line in (ROOT / "bench" / "queries.jsonl").read_text().splitlines()
        if line
    ]
    from bench.data import SECTORS, VERBS

    rng = random.Random(seed)
    phrases = set(judged)
    templates = [
        "{verb} {thing}",
        "app to {verb} {thing}",
        "{thing} for {users}",
        "help {users} {verb} {thing}",
        "software that lets {users} {verb} {thing}",
        "{tag} startup",
        "{tag} for {users}",
        "{verb} {thing} and {thing2}",
        "{users} who {verb} {thing}",
        "a {tag} tool to {verb} {thing} for {users}",
    ]
    for _ in itertools.count():
        if len(phrases) >= count:
            break
        vocabulary = SECTORS[rng.choice(list(SECTORS))]
        phrases.add(
            rng.choice(templates).format(
                verb=rng.choice(VERBS),
                thing=rng.choice(vocabulary["things"]),
                thing2=rng.choice(vocabulary["things"]),
                users=rng.choice(vocabulary["users"]),
                tag=rng.choice(vocabulary["tags"]),
            )
        )
    ordered = sorted(phrases)
    rng.shuffle(ordered)
    return ordered[:count]


def percentiles(samples_ms):
    ordered = sorted(samples_ms)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": statistics.median(ordered), "p95": q[94], "p99": q[98]}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_pid(master_pid):
    """The (only) worker process of a gunicorn master."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return int(children[0])


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def serve(env, port, threads=4, *, ready="/readyz", worker_class="gthread", root=ROOT):
    """gunicorn (1 process, ``threads`` threads, DEBUG as ``env`` says) serving the site on
    ``port``; returned once ``ready`` answers 200 (a 503 from /readyz stops the benchmark).
    ``root``: the checkout whose code is served (another one: a baseline to compare with)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "searchsite.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--backlog",
            "256",
        ],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", ready)
            response = connection.getresponse()
            body = response.read()
            if response.status == 200:
                return process
            if response.status == 503:
                sys.exit(f"{ready} answered 503: {body.decode()}")
        except OSError:
            time.sleep(0.3)
    process.kill()
    sys.exit(f"gunicorn did not start:\n{process.stderr.read().decode()[-2000:]}")
