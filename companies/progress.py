"""Progress of long commands: counts, rate and time left, on stderr."""

import sys
import time

from tqdm import tqdm

# Off a terminal (logs, CI, cron), a line at every tenth of the way.
LOG_STEPS = 10


def progress_bar(*, total, desc, unit, initial=0):
    """A tqdm bar on a terminal; elsewhere, a few plain lines a log can keep. ``initial``: done
    before (a resumed run), counted in the total but not in the rate."""
    if sys.stderr.isatty():
        return tqdm(
            total=total,
            desc=desc,
            unit=unit,
            initial=initial,
            file=sys.stderr,
            dynamic_ncols=True,
        )
    return ProgressLines(total=total, desc=desc, unit=unit, initial=initial)


class ProgressLines:
    """``desc: done/total unit (percent, rate, time left)`` each time another tenth is done.

    The same interface as the tqdm bar (``update``, a context manager); the commands end with a
    summary line of their own.
    """

    def __init__(self, *, total, desc, unit, file=None, initial=0):
        self.total, self.desc, self.unit = total, desc, unit
        self.file = file or sys.stderr
        self.initial = self.done = initial
        self.step = min(LOG_STEPS, initial * LOG_STEPS // total) if total else 0
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
            rate = (self.done - self.initial) / max(time.monotonic() - self.started, 1e-9)
            left = (self.total - self.done) / rate if rate else 0
            self.file.write(
                f"{self.desc}: {self.done}/{self.total} {self.unit} "
                f"({100 * self.done // self.total}%, {rate:.0f}/s, ETA {_duration(left)})\n"
            )
            self.file.flush()


def _duration(seconds):
    """``42s``, ``3m05s``, ``2h07m``: a time left as people read it."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
