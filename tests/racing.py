"""Many API clients racing writes on the same companies, and what must hold once they settle.

Each client is a thread with its own Django test client (the whole request stack: middleware,
authentication, the API, the model, the signals) and its own database connection. Every client
writes one field of its own, so the last value acknowledged with a 2xx for a field of a company
is the value that field must end with; the racing happens between the fields, the deletes, the
creates and the searchable toggles of the same companies.
"""

import json
import random
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

from django.db import connection, transaction
from django.test import Client

from companies.models import Company, CompanyGone, MapCluster, MapPoint
from companies.search import indexing, landscape, map_snapshot
from companies.search.engines import get_store
from companies.search.query import search_companies, similar_companies

URL = "/api/companies/"
# Statuses a racing client may get: a company deleted meanwhile is 404, nothing else fails.
EXPECTED = {200, 201, 204, 404}
FILLER = (
    "The team ships its platform to operators across the region every week. Customers run "
    "their daily work on it and the company keeps adding integrations with tools they use. "
)


def long_text(token):
    """A description long enough to take a while to embed, with a word found nowhere else."""
    return f"Long {token}. " + FILLER * 12


def short_text(token):
    return f"Short {token}."


@dataclass
class Race:
    """What the clients were told: acknowledged values, deletes, creates, every status."""

    acknowledged: dict = field(default_factory=dict)  # (pk, field) -> value
    visible: dict = field(default_factory=dict)  # pk -> last searchable value written
    deleted: set = field(default_factory=set)
    created: list = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: list = field(default_factory=list)
    writes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, response, acknowledgement=None):
        with self.lock:
            self.writes += 1
            self.statuses[response.status_code] += 1
            if response.status_code not in EXPECTED:
                self.errors.append(f"{response.status_code}: {response.content[:300]!r}")
            elif acknowledgement and 200 <= response.status_code < 300:
                self.acknowledged[acknowledgement[0]] = acknowledgement[1]


def company_body(token):
    return {
        "name": f"Racer {token}",
        "link": f"https://racer-{token}.example",
        "description": short_text(token),
        "city": "Lisbon",
        "tags": "racing",
    }


class Clients:
    """Threads writing through the API until ``seconds`` have passed and ``MIN_WRITES`` writes
    were answered (on a busy machine a round takes longer rather than racing less), at most ten
    times ``seconds``."""

    MIN_WRITES = 30

    def __init__(self, token, pks, seconds, seed):
        self.headers = {"Authorization": f"Token {token}"}
        self.pks = list(pks)
        self.deadline = time.monotonic() + seconds
        self.last_chance = time.monotonic() + 10 * seconds
        self.random = random.Random(seed)
        self.race = Race()
        self.seed = seed

    def run(self):
        workers = [
            self._field_writer("city", lambda t: f"City {t}"),
            self._field_writer("tags", lambda t: f"tag{t}"),
            self._field_writer("image_url", lambda t: f"https://img.example/{t}.png"),
            self._field_writer("name", lambda t: f"Racer {t}"),
            self._field_writer("link", lambda t: f"https://racer-{t.replace('x', '-')}.example"),
            self._description_writer(),
            self._creator_and_deleter(),
            self._deleter(),
            self._toggler(),
        ]
        threads = [threading.Thread(target=self._guarded, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.race

    def _guarded(self, work):
        try:
            work()
        except Exception as exc:  # a client that crashes is a failure of the race
            with self.race.lock:
                self.race.errors.append("".join(traceback.format_exception(exc)))
        finally:
            connection.close()

    def _running(self):
        now = time.monotonic()
        return now < self.deadline or (
            self.race.writes < self.MIN_WRITES and now < self.last_chance
        )

    def _pick(self):
        with self.race.lock:
            return self.random.choice(self.pks)

    def _send(self, client, method, url, body=None):
        return getattr(client, method)(
            url, body, content_type="application/json", headers=self.headers
        )

    def _field_writer(self, name, value_of):
        def work():
            client = Client(raise_request_exception=False)
            n = 0
            while self._running():
                pk, n = self._pick(), n + 1
                value = value_of(f"{self.seed}x{n}")
                response = self._send(client, "patch", f"{URL}{pk}/", {name: value})
                self.race.answered(response, ((pk, name), value))

        return work

    def _description_writer(self):
        """PATCH a long description and, once it is committed (its embedding still running),
        a short one from another client: the long one's slower embedding must never land last."""

        def work():
            client = Client(raise_request_exception=False)
            n = 0
            while self._running():
                pk, n = self._pick(), n + 1
                long_value, short_value = (
                    long_text(f"d{self.seed}n{n}"),
                    short_text(f"d{self.seed}m{n}"),
                )
                slow = threading.Thread(
                    target=self._guarded, args=(partial(self._patch_long, pk, long_value),)
                )
                slow.start()
                while (
                    slow.is_alive()
                    and not Company.objects.filter(pk=pk, description=long_value).exists()
                ):
                    time.sleep(0.005)
                response = self._send(client, "patch", f"{URL}{pk}/", {"description": short_value})
                self.race.answered(response, ((pk, "description"), short_value))
                slow.join()

        return work

    def _patch_long(self, pk, value):
        client = Client(raise_request_exception=False)
        self.race.answered(self._send(client, "patch", f"{URL}{pk}/", {"description": value}))

    def _creator_and_deleter(self):
        """Create companies (which join the others' targets) and delete some at once."""

        def work():
            client = Client(raise_request_exception=False)
            n = 0
            while self._running():
                n += 1
                token = f"{self.seed}c{n}"
                response = self._send(client, "post", URL, company_body(token))
                self.race.answered(response)
                if response.status_code != 201:
                    continue
                pk = response.json()["id"]
                with self.race.lock:
                    self.race.created.append(pk)
                    self.pks.append(pk)
                if n % 2 == 0:
                    self._delete(client, pk)

        return work

    def _deleter(self):
        def work():
            client = Client(raise_request_exception=False)
            while self._running():
                time.sleep(0.05)
                with self.race.lock:
                    alive = [pk for pk in self.pks if pk not in self.race.deleted]
                    if len(alive) <= len(self.pks) // 2:
                        continue  # keep half of them to check their fields
                    pk = self.random.choice(alive)
                self._delete(client, pk)

        return work

    def _delete(self, client, pk):
        response = self._send(client, "delete", f"{URL}{pk}/")
        self.race.answered(response)
        if response.status_code in (204, 404):
            with self.race.lock:
                self.race.deleted.add(pk)

    def _toggler(self):
        """Take companies out of search and back, as an editor does in the admin."""

        def work():
            while self._running():
                pk = self._pick()
                company = Company.objects.filter(pk=pk).first()
                if company is None:
                    continue
                company.searchable = not company.searchable
                try:
                    with transaction.atomic():  # as the admin saves: the version read back too
                        company.save(update_fields=["searchable"])
                except CompanyGone:
                    continue
                with self.race.lock:
                    self.race.writes += 1
                    self.race.acknowledged[(pk, "searchable")] = company.searchable

        return work


def settled(timeout=10):
    """Wait until the index matches the database (polling on the check); the last drift."""
    deadline = time.monotonic() + timeout
    while True:
        drift = indexing.check_index()
        if drift.clean or time.monotonic() > deadline:
            return drift
        time.sleep(0.2)


def _keys(company):
    return company.name_text, company.city_key, company.website_key


def derived_keys(company):
    """The keys ``Company.normalize`` derives from the stored name, city and link."""
    fresh = Company(name=company.name, city=company.city, link=company.link)
    fresh.normalize()
    return _keys(fresh)


def assert_consistent(race, timeout=10):
    """After the race settled (within ``timeout`` seconds): the index equals the database; no
    2xx write is lost; nothing deleted is back or found; no text is older than the record's."""
    assert not race.errors, race.errors[:5]
    drift = settled(timeout)
    assert drift.clean, drift.summary()

    rows = {company.pk: company for company in Company.objects.all()}
    back = race.deleted & set(rows)
    assert not back, f"deleted companies resurrected: {sorted(back)}"

    lost = {
        key: (value, getattr(rows[key[0]], key[1]))
        for key, value in race.acknowledged.items()
        if key[0] in rows and getattr(rows[key[0]], key[1]) != value
    }
    assert not lost, f"acknowledged writes lost: {lost}"
    off_key = [pk for pk, company in rows.items() if derived_keys(company) != _keys(company)]
    assert not off_key, f"keys not derived from the stored fields: {off_key}"

    points = get_store().point_hashes()
    ghosts = set(points) - {pk for pk, company in rows.items() if company.searchable}
    assert not ghosts, f"points without a searchable company: {sorted(ghosts)}"
    for pk, company in rows.items():
        if company.searchable:
            assert points.get(pk) == indexing.point_hash(company), f"stale point {pk}"

    for pk, company in rows.items():
        # The record's own description is what the index finds it by, and only when searchable.
        word = company.description.split()[1].rstrip(".")
        found = {hit.company.pk for hit in search_companies(word, mode="keyword").hits}
        assert (pk in found) == company.searchable, (pk, word, company.searchable)
    for pk in race.deleted:
        assert pk not in points
    _assert_map_follows(rows, points)
    survivor = next((c for c in rows.values() if c.searchable), None)
    if survivor is not None:
        similar = {company.pk for company, _ in _similar(survivor)}
        assert not similar & race.deleted
        assert all(rows[pk].searchable for pk in similar)


def _assert_map_follows(rows, points):
    """Where there is a map: positions only of searchable companies, each from the text its
    point holds now; after the repair, every searchable company has one."""
    if not MapCluster.objects.exists():
        return
    placed = dict(MapPoint.objects.values_list("company_id", "hash"))
    ghosts = set(placed) - {pk for pk, company in rows.items() if company.searchable}
    assert not ghosts, f"positions of hidden or deleted companies: {sorted(ghosts)}"
    stale = {pk for pk, text_hash in placed.items() if points.get(pk) != text_hash}
    assert not stale, f"positions from an older text: {sorted(stale)}"
    landscape.repair_landscape()
    missing = {pk for pk, company in rows.items() if company.searchable} - set(
        MapPoint.objects.values_list("company_id", flat=True)
    )
    assert not missing, f"searchable companies off the map: {sorted(missing)}"
    # What /api/map/ serves, once its encoding has caught up, is the map in the database.
    map_snapshot.whole_map()
    map_snapshot.wait_for_refresh(timeout=60)
    served = json.loads(map_snapshot.whole_map().plain)
    assert served == map_snapshot.map_data(), "/api/map/ does not serve the map of now"


def _similar(company):
    return [(hit.company, hit.score) for hit in similar_companies(company, limit=50)]
