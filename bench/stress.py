"""Stress: many API clients racing writes on the same companies of a real server; then drift.

    .venv/bin/python bench/stress.py                      # 30 s, 12 clients, 40 companies
    .venv/bin/python bench/stress.py --seconds 60 --companies 20 --threads 8

The site runs as gunicorn (1 worker, gthread) on 127.0.0.1 in the embedded default: SQLite and
Qdrant Edge in a fresh folder, indexing in the web process. The periodic repair is off, so the
figures show what the ordering of writes and indexing does alone. Clients, each on its own
kept-alive connection, write the same companies at once for ``--seconds``:

- one client per field (name, city, tags, logo) PATCHes that field with new values, so the last
  value each was answered 2xx for is the value the field must end with;
- description clients PATCH a long text and, once it is stored, a short one from a second
  connection while the long one is still being embedded (the long one must never land last);
- a client creates companies and deletes every other one at once (ghost points);
- a client deletes companies others are writing (resurrection);
- a client takes companies out of search and back (``searchable``), if the API accepts it.

Then the server is stopped and the database and index compared: drift (``search_index --check``),
resurrected companies, lost acknowledged writes, ghost points, stale points, 5xx answers. Prints
the counts, writes per second (answered 2xx), the latency of writes, and the command to rerun;
exits 1 if anything is not 0.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, free_port, percentiles, serve, site_env  # noqa: E402

FILLER = (
    "The team ships its platform to operators across the region every week. Customers run "
    "their daily work on it and the company keeps adding integrations with tools they use. "
)
CREATE_USER = """
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
user = User.objects.create_user("stress")
user.user_permissions.set(Permission.objects.filter(content_type__app_label="companies"))
print(Token.objects.create(user=user).key)
"""


class Race:
    def __init__(self, pks, seconds, seed):
        self.pks = list(pks)
        self.deadline = time.monotonic() + seconds
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.acknowledged = {}
        self.deleted = set()
        self.statuses = Counter()
        self.latencies = []
        self.writes = 0

    def running(self):
        return time.monotonic() < self.deadline

    def pick(self):
        with self.lock:
            return self.random.choice(self.pks)

    def record(self, status, ms, acknowledgement=None):
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(ms)
            if 200 <= status < 300:
                self.writes += 1
                if acknowledgement:
                    self.acknowledged[acknowledgement[0]] = acknowledgement[1]


class Client:
    def __init__(self, port, token):
        self.port, self.token = port, token
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def send(self, method, path, body=None):
        headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            self.connection.request(
                method, path, json.dumps(body) if body is not None else None, headers
            )
            response = self.connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            return 0, None, (time.perf_counter() - started) * 1000
        data = json.loads(content) if content and response.status < 500 else None
        return response.status, data, (time.perf_counter() - started) * 1000


def field_writer(race, client, name, value_of):
    n = 0
    while race.running():
        pk, n = race.pick(), n + 1
        value = value_of(n)
        status, _, ms = client.send("PATCH", f"/api/companies/{pk}/", {name: value})
        race.record(status, ms, ((pk, name), value))


def description_writer(race, client, slow_client, database):
    n = 0
    while race.running():
        pk, n = race.pick(), n + 1
        long_value = f"Long d{n}. " + FILLER * 12
        short_value = f"Short s{n}."
        slow = threading.Thread(target=patch_long, args=(race, slow_client, pk, long_value))
        slow.start()
        while slow.is_alive() and not database.stored(pk, long_value):
            time.sleep(0.005)
        status, _, ms = client.send("PATCH", f"/api/companies/{pk}/", {"description": short_value})
        race.record(status, ms, ((pk, "description"), short_value))
        slow.join()


def patch_long(race, client, pk, value):
    status, _, ms = client.send("PATCH", f"/api/companies/{pk}/", {"description": value})
    race.record(status, ms)


def creator(race, client):
    n = 0
    while race.running():
        n += 1
        body = {
            "name": f"Stress new {n}",
            "link": f"https://stress-new-{n}.example",
            "description": f"Short c{n}.",
            "city": "Porto",
        }
        status, data, ms = client.send("POST", "/api/companies/", body)
        race.record(status, ms)
        if status != 201:
            continue
        with race.lock:
            race.pks.append(data["id"])
        if n % 2 == 0:
            delete(race, client, data["id"])


def deleter(race, client):
    while race.running():
        time.sleep(0.2)
        with race.lock:
            alive = [pk for pk in race.pks if pk not in race.deleted]
            if len(alive) <= len(race.pks) // 2:
                continue
            pk = race.random.choice(alive)
        delete(race, client, pk)


def delete(race, client, pk):
    status, _, ms = client.send("DELETE", f"/api/companies/{pk}/")
    race.record(status, ms)
    if status in (204, 404):
        with race.lock:
            race.deleted.add(pk)


def toggler(race, client):
    flags = {}
    while race.running():
        pk = race.pick()
        flags[pk] = not flags.get(pk, True)
        status, _, ms = client.send("PATCH", f"/api/companies/{pk}/", {"searchable": flags[pk]})
        race.record(status, ms, ((pk, "searchable"), flags[pk]))


class Database:
    """Read access to the site's database from this process (Django set up on its settings)."""

    def __init__(self):
        from companies.models import Company

        self.companies = Company.objects

    def stored(self, pk, description):
        return self.companies.filter(pk=pk, description=description).exists()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--companies", type=int, default=40)
    parser.add_argument("--threads", type=int, default=12, help="gunicorn threads")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="stress-"))
    env = site_env(workdir, SEARCH_REPAIR_INTERVAL="0", EMBEDDING_THREADS="1")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run(manage + ["migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(manage + ["collectstatic", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    token = subprocess.run(
        manage + ["shell", "-c", CREATE_USER],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    os.environ.update(env)
    import django

    django.setup()
    database = Database()

    port = free_port()
    server = serve(env, port, args.threads)
    try:
        setup = Client(port, token)
        pks = []
        for i in range(args.companies):
            body = {
                "name": f"Stress {i}",
                "link": f"https://stress-{i}.example",
                "description": f"Short i{i}.",
                "city": "Lisbon",
            }
            status, data, _ = setup.send("POST", "/api/companies/", body)
            if status != 201:
                sys.exit(f"Could not create the companies: {status} {data}")
            pks.append(data["id"])
        probe_status, _, _ = setup.send("PATCH", f"/api/companies/{pks[0]}/", {"searchable": True})
        toggles = probe_status == 200

        race = Race(pks, args.seconds, args.seed)
        clients = [
            (field_writer, "name", lambda n: f"Stress name {n}"),
            (field_writer, "city", lambda n: f"City {n}"),
            (field_writer, "tags", lambda n: f"tag{n}"),
            (field_writer, "image_url", lambda n: f"https://img.example/{n}.png"),
        ]
        threads = [
            threading.Thread(target=work, args=(race, Client(port, token), name, value_of))
            for work, name, value_of in clients
        ]
        threads += [
            threading.Thread(
                target=description_writer,
                args=(race, Client(port, token), Client(port, token), database),
            ),
            threading.Thread(target=creator, args=(race, Client(port, token))),
            threading.Thread(target=deleter, args=(race, Client(port, token))),
        ]
        if toggles:
            threads.append(threading.Thread(target=toggler, args=(race, Client(port, token))))
        print(
            f"{len(threads)} clients racing writes on {args.companies} companies for "
            f"{args.seconds:.0f}s (searchable toggles: {'on' if toggles else 'not in the API'})",
            flush=True,
        )
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)  # the embedded store is released; this process reads it
    failed = report(race, elapsed, args)
    shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(1 if failed else 0)


def report(race, elapsed, args):
    from companies.models import Company
    from companies.search import indexing
    from companies.search.engines import get_store

    drift = indexing.check_index()
    rows = {company.pk: company for company in Company.objects.all()}
    resurrected = race.deleted & set(rows)
    lost = [
        key
        for key, value in race.acknowledged.items()
        if key[0] in rows and getattr(rows[key[0]], key[1]) != value
    ]
    points = get_store().point_hashes()
    ghosts = set(points) - {pk for pk, company in rows.items() if company.searchable}
    server_errors = sum(count for status, count in race.statuses.items() if status >= 500)
    unanswered = race.statuses.get(0, 0)
    latency = percentiles(race.latencies)
    print(f"\nwrites answered 2xx: {race.writes} in {elapsed:.1f}s = {race.writes / elapsed:.1f}/s")
    print(
        "statuses: "
        + ", ".join(f"{status or 'no answer'} x {n}" for status, n in sorted(race.statuses.items()))
    )
    print(
        f"write latency ms: p50 {latency['p50']:.0f}  p95 {latency['p95']:.0f}  "
        f"p99 {latency['p99']:.0f}"
    )
    print(f"after settling: {drift.summary()}")
    figures = {
        "drift": drift.total,
        "resurrected": len(resurrected),
        "lost": len(lost),
        "ghost": len(ghosts),
        "stale": len(drift.stale),
        "5xx": server_errors,
        "unanswered": unanswered,
    }
    print("  ".join(f"{name}: {value}" for name, value in figures.items()))
    print(
        f"\nrerun: .venv/bin/python bench/stress.py --seconds {args.seconds:g} "
        f"--companies {args.companies} --threads {args.threads} --seed {args.seed}"
    )
    return any(figures.values()) or bool(drift.incompatible)


if __name__ == "__main__":
    main()
