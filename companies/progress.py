"""Progress bars for long commands: counts, rate and time left, on stderr."""

import sys

from tqdm import tqdm


def progress_bar(*, total, desc, unit):
    # Shown on terminals; in logs (CI, cron) the closing summary line says it all.
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
    )
