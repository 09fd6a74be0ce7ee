"""import_companies: the startups data format, idempotent re-runs, bad rows and bad files."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from companies.importing import (
    ImportFileError,
    LineCounter,
    import_companies,
    parse_rows,
    tags_from_alt,
)
from companies.models import Company, IndexStatus
from tests.helpers import DEMO_FILE

pytestmark = pytest.mark.django_db


def row(name, **fields):
    slug = name.lower().replace(" ", "")
    return {
        "name": name,
        "images": f"https://img.example/{slug}.png",
        "alt": f"{name} -  fintech payments",
        "description": f"{name} does payments.",
        "link": f"https://{slug}.example",
        "city": "Chicago",
        **fields,
    }


def jsonl(*rows):
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"


def run_import(tmp_path, text, *args):
    path = tmp_path / "companies.jsonl"
    path.write_text(text)
    out, err = StringIO(), StringIO()
    call_command("import_companies", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_demo_file_imports_every_startup_and_indexes_it(search_store, tmp_path):
    out, err = run_import(tmp_path, DEMO_FILE.read_text())
    assert "259 created, 0 updated, 0 unchanged, 0 rejected" in out
    assert err == ""
    assert Company.objects.count() == 259
    assert Company.objects.filter(index_status=IndexStatus.INDEXED).count() == 259
    assert search_store.count() == 259
    spothero = Company.objects.get(name="SpotHero")
    assert spothero.tags == "mobile marketplaces transportation parking"
    assert spothero.image_url.startswith("https://") and spothero.slug == "spothero"


def test_rerun_creates_nothing_and_embeds_nothing(search_store, tmp_path):
    run_import(tmp_path, DEMO_FILE.read_text())
    ids = set(Company.objects.values_list("id", flat=True))
    out, _ = run_import(tmp_path, DEMO_FILE.read_text())
    assert "0 created, 0 updated, 259 unchanged, 0 rejected" in out
    assert "0 embedded, 259 already up to date" in out
    assert set(Company.objects.values_list("id", flat=True)) == ids
    assert search_store.count() == 259


def test_changed_rows_update_in_place_matched_by_website(search_store, tmp_path):
    run_import(tmp_path, jsonl(row("Acme Pay"), row("Zeta Cards")))
    acme = Company.objects.get(name="Acme Pay")
    # Same website with another scheme and www.: the same company.
    changed = row(
        "Acme Pay", link="http://www.acmepay.example/", description="Payroll for bakeries."
    )
    out, _ = run_import(tmp_path, jsonl(changed, row("Zeta Cards")))
    assert "0 created, 1 updated, 1 unchanged" in out
    acme.refresh_from_db()
    assert acme.description == "Payroll for bakeries." and acme.slug == "acme-pay"
    assert Company.objects.count() == 2


def test_bad_rows_are_reported_with_line_numbers_and_the_rest_imported(search_store, tmp_path):
    text = jsonl(
        row("Good One"),
        "{not json",
        row("No Link", link=""),
        row("Bad Link", link="javascript:alert(1)"),
        row("Numeric City", city=42),
        ["a list"],
        row("Good One Again", link="https://goodone.example"),
        row("Good Two"),
    )
    out, err = run_import(tmp_path, text)
    assert "2 created, 0 updated, 0 unchanged, 6 rejected" in out
    assert "line 2: not valid JSON" in err
    assert "line 3: link is missing" in err
    assert "line 4: link: Enter a valid URL. ('javascript:alert(1)')" in err
    assert "line 5: city must be text" in err
    assert "line 6: a record must be a JSON object" in err
    assert "line 7: same website as line 1" in err
    assert sorted(Company.objects.values_list("name", flat=True)) == ["Good One", "Good Two"]


def test_a_link_that_is_no_url_or_too_long_once_lower_cased_is_that_row_rejected(
    search_store, tmp_path
):
    host = ".".join(["\u0130" * 40] * 3) + ".com"  # "İ" lower-cases to two characters
    long_key = f"https://{host}/" + "p" * (500 - 9 - len(host))
    text = jsonl(
        row("Good One"),
        row("No Host", link="http://[::1"),
        row("Long Key", link=long_key),
        row("Good Two"),
    )
    out, err = run_import(tmp_path, text)
    assert "2 created, 0 updated, 0 unchanged, 2 rejected" in out
    assert "line 2: link: Enter a valid URL." in err
    assert "line 3: link: Enter shorter text: normalised, it is longer than 500" in err
    assert sorted(Company.objects.values_list("name", flat=True)) == ["Good One", "Good Two"]


def test_a_slug_or_website_taken_by_another_writer_between_chunks_does_not_stop_it(
    search_store, tmp_path, monkeypatch
):
    """The import reads the slugs in use once; a company created meanwhile by someone else
    with the same name (or the same website) makes the next chunk read them again."""
    from companies import import_stream

    advance = import_stream.Checkpoint.advance

    def advance_then_another_writer(self, *args, **kwargs):
        advance(self, *args, **kwargs)
        if not Company.objects.filter(slug="beta").exists():
            Company.objects.create(name="Beta", link="https://other-beta.example")
            Company.objects.create(name="Gamma Elsewhere", link="https://gamma.example")

    monkeypatch.setattr(import_stream.Checkpoint, "advance", advance_then_another_writer)
    text = jsonl(row("Alpha"), row("Beta"), row("Gamma"))
    out, _ = run_import(tmp_path, text, "--chunk-size=1")
    assert "2 created, 1 updated, 0 unchanged, 0 rejected" in out
    beta = Company.objects.get(link=row("Beta")["link"])
    assert beta.slug == "beta-2"
    assert Company.objects.get(website_key="gamma.example").name == "Gamma"


def test_rows_no_database_can_store_are_rejected(search_store):
    text = "\n".join(
        [
            json.dumps(row("Good One")),
            '{"name": "Bad \\ud800 Surrogate", "link": "https://s.example"}',
            '{"a":' * 50_000 + "1" + "}" * 50_000,
        ]
    )
    result = import_companies(text)
    assert result.created == 1
    assert [str(r) for r in result.rejected] == [
        "line 2: name contains a lone surrogate, which is not text",
        "line 3: not valid JSON (nested too deeply)",
    ]


def test_json_array_files_are_accepted_with_line_numbers(search_store):
    text = (
        "[\n"
        + json.dumps(row("Array One"))
        + ",\n"
        + json.dumps({**row("Nameless"), "name": ""})
        + "\n]"
    )
    result = import_companies(text)
    assert result.created == 1
    assert [str(r) for r in result.rejected] == ["line 3: name is missing"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'[{"name": "Broken", "link": "https://b.example"', "not valid JSON"),
        (b'[{"name": "A", "link": "https://a.example"} {"name": "B"}]', "Expected , or ]"),
        (b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]", "nested too deeply"),
    ],
)
def test_a_bad_file_imports_nothing(search_store, tmp_path, content, message):
    Company.objects.create(name="Existing", link="https://existing.example")
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("import_companies", str(path), stdout=StringIO(), stderr=StringIO())
    assert list(Company.objects.values_list("name", flat=True)) == ["Existing"]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_companies", str(tmp_path / "nope.jsonl"))


def test_a_database_failure_part_way_leaves_nothing_half_written(search_store, tmp_path):
    run_import(tmp_path, jsonl(row("Acme Pay")))
    # The new row is inserted first; then the update of Acme Pay fails inside the database.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER refuse_update BEFORE UPDATE ON companies_company "
            "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
        )
    with pytest.raises(CommandError, match="refused by trigger.*Nothing was imported"):
        run_import(tmp_path, jsonl(row("New Co"), row("Acme Pay", description="changed")))
    assert list(Company.objects.values_list("name", "description")) == [
        ("Acme Pay", "Acme Pay does payments.")
    ]


def test_index_failure_keeps_the_rows_and_says_how_to_repair(search_store, tmp_path, settings):
    settings.COMPANY_SEARCH = {**settings.COMPANY_SEARCH, "QDRANT_URL": "http://127.0.0.1:9"}
    with pytest.raises(CommandError, match="search_index --repair"):
        run_import(tmp_path, jsonl(row("Acme Pay")))
    company = Company.objects.get()
    assert company.index_status == IndexStatus.FAILED and "unavailable" in company.index_error


@pytest.mark.parametrize(
    "alt, name, tags",
    [
        ("SpotHero -  mobile marketplaces parking", "SpotHero", "mobile marketplaces parking"),
        ("SaferCodes Logo QR codes generator", "SaferCodes", "QR codes generator"),
        ("Hyde Park Angels - ", "Hyde Park Angels", ""),
        ("Lowcost Email cheap flights alerts", "NowBoarding", "Lowcost Email cheap flights alerts"),
    ],
)
def test_tags_come_from_the_logo_alt_text(alt, name, tags):
    assert tags_from_alt(alt, name) == tags


def test_import_file_error_type():
    with pytest.raises(ImportFileError):
        import_companies("   \n")


def test_rows_the_model_refuses_are_rejected_with_its_reasons(search_store):
    text = jsonl(
        row("Good One"),
        row("\u200b\u2800", link="https://invisible.example"),
        row("FTP Co", link="ftp://files.ftpco.example"),
        row("Logo Ftp", images="ftp://img.example/logo.png"),
        row("Wordy", description="x" * 10_001),
        row("Long " + "n" * 300, link="https://long.example"),
    )
    result = import_companies(text)
    assert result.created == 1
    assert [str(r) for r in result.rejected] == [
        "line 2: name: Enter a name with at least one visible character.",
        "line 3: link: Enter a valid URL. ('ftp://files.ftpco.example')",
        "line 4: images: Enter a valid URL. ('ftp://img.example/logo.png')",
        "line 5: description: Ensure this value has at most 10000 characters (it has 10001).",
        "line 6: name: Ensure this value has at most 200 characters (it has 305).",
    ]
    assert list(Company.objects.values_list("name", flat=True)) == ["Good One"]


def test_imported_records_carry_the_keys_the_model_derives(search_store):
    import_companies(jsonl(row("Acme  Pay", city="  ÉVORA ")))
    company = Company.objects.get()
    assert (company.name, company.city, company.city_key) == ("Acme Pay", "ÉVORA", "évora")
    assert company.website_key == "acmepay.example" and company.version == 1
    import_companies(jsonl(row("Acme Pay", city="Lisbon")))
    company.refresh_from_db()
    assert (company.city_key, company.version) == ("lisbon", 2)


def test_the_searchable_column_is_optional_and_must_be_a_boolean(search_store):
    result = import_companies(
        jsonl(
            row("Hidden Co", searchable=False),
            row("Shown Co", searchable=True),
            row("Default Co"),
            row("Stringly Co", searchable="no"),
            row("Numeric Co", searchable=0),
        )
    )
    assert [str(r) for r in result.rejected] == [
        'line 4: searchable must be true or false, not "no"',
        "line 5: searchable must be true or false, not 0",
    ]
    assert dict(Company.objects.values_list("name", "searchable")) == {
        "Hidden Co": False,
        "Shown Co": True,
        "Default Co": True,
    }
    # A file without the column leaves each record's visibility as it is.
    result = import_companies(jsonl(row("Hidden Co", description="New text.")))
    assert result.updated == 1
    assert Company.objects.get(name="Hidden Co").searchable is False


def test_market_phrases_are_shown_whole_on_the_company_page(search_store, client):
    import_companies(
        jsonl(row("Food Genius", alt="Food Genius -  food and beverages big data restaurants"))
    )
    company = Company.objects.get()
    assert company.tags == "food and beverages big data restaurants"
    html = client.get(company.get_absolute_url()).content.decode()
    assert ">food and beverages big data restaurants</a>" in html
    assert ">and<" not in html


class CountingText(str):
    """Text that tallies how many characters its line counting reads."""

    scanned = 0

    def count(self, sub, start=0, end=None):
        end = len(self) if end is None else end
        CountingText.scanned += max(0, end - start)
        return super().count(sub, start, end)


def test_line_numbers_of_a_big_json_array_are_right_and_counted_once():
    elements = [
        json.dumps({"name": f"C{n}", "link": f"https://c{n}.example"}) for n in range(50_000)
    ]
    # Elements spread over one, two or three lines, so each line number is worth checking.
    pieces, expected, line = ["["], [], 1
    for n, element in enumerate(elements):
        gap = "\n" * (n % 3)
        pieces.append(("," if n else "") + gap + element)
        line += n % 3
        expected.append(line)
    text = CountingText("".join(pieces) + "\n]\n")
    assert len(text) > 2_000_000
    CountingText.scanned = 0
    rows = parse_rows(text)
    assert [line for line, _ in rows] == expected
    assert rows[-1][1] == {"name": "C49999", "link": "https://c49999.example"}
    # Counting from the start for each element would read ~50,000 x 1 MB here.
    assert CountingText.scanned <= len(text)


def test_line_counter_is_right_for_any_increasing_positions():
    text = "a\nbb\n\nccc\n"
    counter = LineCounter(text)
    assert [counter(p) for p in (0, 1, 2, 4, 5, 6, 7, 11)] == [1, 1, 2, 2, 3, 4, 4, 5]
    assert counter(3) == 2  # a step back starts again from the top


def test_off_a_terminal_the_command_says_its_progress_in_plain_lines(
    search_store, tmp_path, capsys
):
    out, _ = run_import(
        tmp_path, jsonl(*(row(f"Company {n}") for n in range(20))), "--chunk-size", "4"
    )
    lines = [
        line for line in capsys.readouterr().err.splitlines() if line.startswith("Importing: ")
    ]
    assert [line.split(" (")[0] for line in lines] == [
        f"Importing: {done}/20 row" for done in (4, 8, 12, 16, 20)
    ]
    assert all(", ETA " in line for line in lines)
    assert lines[-1].endswith("ETA 0s)")
    assert "20 created" in out and "rows/s)" in out
