#!/usr/bin/env python
import os
import sys
from pathlib import Path

# Written by `make run`: the development settings (DEBUG=1) that make every manage.py command
# behave as the site `make run` serves. Variables already in the environment win.
DEV_ENV_FILE = Path(__file__).resolve().parent / "var" / "dev.env"


def load_dev_env(path=DEV_ENV_FILE):
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            os.environ.setdefault(name.strip(), value.strip())


def main():
    load_dev_env()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
