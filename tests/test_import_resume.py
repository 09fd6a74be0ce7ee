"""A streaming import killed part-way (SIGKILL, a real process) goes on where it stopped."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from companies.import_stream import Checkpoint, count_records, read_records
from companies.importing import ImportFileError
from tests.helpers import manage, wait_for

ROOT = Path(__file__).resolve().parent.parent
ROWS = 150

SHOW = """
import json, django
django.setup()
from companies.models import Company
from companies.search.engines import get_store
print(json.dumps({
    "names": list(Company.objects.values_list("name", flat=True)),
    "states": sorted(set(Company.objects.values_list("index_status", flat=True))),
    "points": sorted(get_store().point_hashes()),
    "ids": sorted(Company.objects.values_list("pk", flat=True)),
}))
"""


def site(tmp_path):
    """The environment of a site of its own in ``tmp_path``: its database, store and var."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "searchsite.settings",
        "SECRET_KEY": "tests-only-not-a-secret",
        "DEBUG": "0",
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "EMBEDDING_MODEL_DIR": str(settings.COMPANY_SEARCH["MODEL_DIR"]),
        "EMBEDDING_THREADS": "1",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("QDRANT_URL", "CELERY_BROKER_URL", "CACHE_URL", "QDRANT_PATH"):
        env.pop(name, None)
    return env


def test_a_killed_import_resumes_and_every_row_is_there_once(tmp_path):
    from bench.data import generate

    data = tmp_path / "companies.jsonl"
    records = list(generate(ROWS, seed=4))
    data.write_text("".join(json.dumps(record) + "\n" for record in records))
    env = site(tmp_path)
    assert manage(env, "migrate", "-v0").returncode == 0

    first = subprocess.Popen(
        [sys.executable, "manage.py", "import_companies", str(data), "--chunk-size", "5"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    states = tmp_path / "imports"

    def part_done():
        for state in states.glob("*.json"):
            try:
                return 20 <= json.loads(state.read_text())["records"] < ROWS - 20
            except ValueError:  # being replaced
                return False
        return False

    wait_for(part_done, timeout=300, message="the import to get part-way")
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = json.loads(next(states.glob("*.json")).read_text())["records"]

    second = manage(env, "import_companies", str(data), "--chunk-size", "5", timeout=600)
    assert second.returncode == 0, second.stderr
    assert f"Resuming at line {done_before + 1}: {done_before} of {ROWS} rows" in second.stdout
    assert f"{ROWS} rejected" not in second.stdout and " 0 rejected" in second.stdout
    assert list(states.glob("*.json")) == []  # done: the checkpoint is gone

    shown = json.loads(
        subprocess.run(
            [sys.executable, "-c", SHOW],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout
    )
    assert sorted(shown["names"]) == sorted(record["name"] for record in records)
    assert shown["points"] == shown["ids"] and shown["states"] == ["indexed"]
    assert manage(env, "search_index", "--check").returncode == 0


def jsonl_file(tmp_path, lines):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def test_json_lines_are_read_from_a_position_with_their_line_numbers(tmp_path):
    path = jsonl_file(
        tmp_path,
        [b'\xef\xbb\xbf{"name": "A"}\n', b"\n", b"not json\n", b'{"name": "\xc3\xa9"}\r\n'],
    )
    assert count_records(path) == 3
    read = list(read_records(path))
    assert [(line, record) for line, record, _ in read if isinstance(record, dict)] == [
        (1, {"name": "A"}),
        (4, {"name": "é"}),
    ]
    assert read[1][0] == 3 and "not valid JSON" in read[1][1].reason
    # From the position after line 1 on (where a checkpoint would say), as from the start.
    assert list(read_records(path, read[0][2], 2)) == read[1:]


def test_a_file_not_in_utf8_is_refused_before_anything_is_written(tmp_path):
    path = jsonl_file(tmp_path, [b'{"name": "A"}\n', b'{"name": "\xff"}\n'])
    with pytest.raises(ImportFileError, match="not UTF-8 text \\(byte 24\\)"):
        count_records(path)


@pytest.mark.django_db
def test_a_checkpoint_is_only_for_the_same_unchanged_file(tmp_path, settings):
    settings.VAR_DIR = tmp_path / "var"
    path = jsonl_file(tmp_path, [b'{"name": "A"}\n', b'{"name": "B"}\n'])
    checkpoint = Checkpoint.for_file(path)
    assert not checkpoint.resumed
    totals = {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0}
    checkpoint.advance(14, 2, 1, totals, {"a.example": 1})
    again = Checkpoint.for_file(path)
    assert (again.position, again.line, again.records, again.created) == (14, 2, 1, 1)
    assert again.seen == {"a.example": 1}
    path.write_bytes(b'{"name": "A"}\n{"name": "C"}\n{"name": "D"}\n')  # changed: start over
    fresh = Checkpoint.for_file(path)
    assert not fresh.resumed and fresh.seen == {}
    # ... and nothing of the earlier version's run is left to be read back later: the websites
    # of its lines are not those of this version's lines.
    fresh.advance(14, 2, 1, totals, {"c.example": 1})
    assert Checkpoint.for_file(path).seen == {"c.example": 1}
