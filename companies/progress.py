"""Progress of long commands: counts, rate and time left, on stderr."""

import sys
import time

from tqdm import tqdm

# Off a terminal (logs, CI, cron), a line at every tenth of the way.
LOG_STEPS = 10


def progress_bar(*, total, desc, unit):
    """A tqdm bar on a terminal; elsewhere, a few plain lines a log can keep."""
    if sys.stderr.isatty():
        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
    return ProgressLines(total=total, desc=desc, unit=unit)


class ProgressLines:
    """``desc: done/total unit (percent, rate)`` each time another tenth is done.

    The same interface as the tqdm bar (``update``, a context manager); the commands end with a
    summary line of their own.
    """

    def __init__(self, *, total, desc, unit, file=None):
        self.total, self.desc, self.unit = total, desc, unit
        self.file = file or sys.stderr
        self.done = 0
        self.step = 0
        self.started = time.monotonic()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, count=1):
        self.done += count
        if not self.total:
            return
        step = min(LOG_STEPS, self.done * LOG_STEPS // self.total)
        if step > self.step:
            self.step = step
            rate = self.done / max(time.monotonic() - self.started, 1e-9)
            self.file.write(
                f"{self.desc}: {self.done}/{self.total} {self.unit} "
                f"({100 * self.done // self.total}%, {rate:.0f}/s)\n"
            )
            self.file.flush()
