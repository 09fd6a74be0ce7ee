"""manage.py reads the development settings `make run` writes, so every command works alike."""

import os
import subprocess
import sys

import manage


def test_the_dev_env_file_sets_what_the_environment_does_not(tmp_path, monkeypatch):
    dev_env = tmp_path / "dev.env"
    dev_env.write_text("# a comment\nDEBUG=1\nALLOWED_HOSTS = example.test\nnot a setting\n")
    monkeypatch.delenv("DEBUG", raising=False)
    monkeypatch.setenv("ALLOWED_HOSTS", "given.test")
    manage.load_dev_env(dev_env)
    assert os.environ["DEBUG"] == "1"
    assert os.environ["ALLOWED_HOSTS"] == "given.test"  # the environment wins
    assert "not a setting" not in os.environ


def test_no_dev_env_file_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("DEBUG", raising=False)
    manage.load_dev_env(tmp_path / "missing.env")
    assert "DEBUG" not in os.environ


def test_a_command_runs_with_the_dev_env_alone(tmp_path):
    """What `make admin` relies on: no SECRET_KEY or DEBUG exported, only the file."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DJANGO_ENV")}
    env["VAR_DIR"] = str(tmp_path)
    code = (
        "import manage, pathlib, sys; "
        f"manage.load_dev_env(pathlib.Path({str(tmp_path / 'dev.env')!r})); "
        "sys.argv = ['manage.py', 'check']; manage.main()"
    )
    (tmp_path / "dev.env").write_text("DEBUG=1\n")
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=manage.DEV_ENV_FILE.parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout
