"""docker-compose.yml, the Dockerfile, .env.example and the README agree with the settings:
every variable they set is one the site reads, and every one it reads is documented."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Read by others than searchsite/settings.py: compose's interpolation, gunicorn, Python,
# huggingface_hub (kept offline).
OTHER_READERS = {
    "POSTGRES_PASSWORD",
    "WEB_CONCURRENCY",
    "GUNICORN_CMD_ARGS",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "HF_HUB_OFFLINE",
}


def settings_variables():
    source = (ROOT / "searchsite" / "settings.py").read_text()
    return set(re.findall(r'env_[a-z_]+\(\s*"([A-Z][A-Z0-9_]+)"', source))


def env_example_variables():
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_sets_only_variables_the_site_reads():
    app = compose()["x-app"]
    assert set(app["environment"]) <= settings_variables()
    assert app["env_file"] == ".env"


def test_the_env_example_names_only_variables_that_are_read():
    assert env_example_variables() - settings_variables() <= OTHER_READERS


def test_every_variable_the_settings_read_is_documented():
    operations = (ROOT / "docs" / "operations.md").read_text()
    for name in settings_variables():
        assert name in env_example_variables(), f"{name} is missing from .env.example"
        assert f"`{name}`" in operations, f"{name} is missing from docs/operations.md"


def test_the_readme_links_to_every_document():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    for document in (ROOT / "docs").glob("*.md"):
        assert f"](docs/{document.name}" in readme, f"the README does not link {document.name}"


def test_the_image_sets_only_variables_that_are_read():
    dockerfile = (ROOT / "Dockerfile").read_text()
    names = set(re.findall(r"^\s*(?:ENV\s+)?([A-Z][A-Z0-9_]+)=", dockerfile, re.MULTILINE))
    assert names and names <= settings_variables() | OTHER_READERS


def test_the_image_runs_in_production_after_building_in_development():
    """collectstatic and the model check run with a throwaway key, which production refuses."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.index("collectstatic") < dockerfile.index("DJANGO_ENV=production")


def test_compose_waits_for_healthy_services_and_probes_the_site():
    services = compose()["services"]
    app = compose()["x-app"]
    assert {
        name
        for name, dependency in app["depends_on"].items()
        if dependency["condition"] == "service_healthy"
    } == {"postgres", "redis", "qdrant"}
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["setup"]["condition"] == (
            "service_completed_successfully"
        )
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["qdrant"]["healthcheck"]["test"])
    assert "qdrant-data:/qdrant/storage" in services["qdrant"]["volumes"]
