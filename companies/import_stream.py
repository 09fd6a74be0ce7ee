"""A big import file read as a stream, written a chunk at a time, resumable after a kill.

JSON lines files are read a line at a time (memory does not grow with the file); a JSON array
is parsed whole, as a file that size is meant for the admin's import. Each chunk of rows is
written in a transaction of its own, then indexed; after that a checkpoint beside the data
(``VAR_DIR/imports/``) records how far the file is done, with the websites seen so far (for
the "same website as line N" rule). Run again on the same, unchanged file, the import goes on
from the checkpoint; a chunk written but not checkpointed (killed in between) is written again,
which changes nothing, as rows are matched by website.
"""

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings

from .importing import ImportFileError, decode, parse_line, parse_rows

BOM = b"\xef\xbb\xbf"


def is_json_array(path):
    """Whether the file holds a JSON array (else JSON lines); an empty file is an error."""
    with open(path, "rb") as stream:
        head = stream.read(len(BOM)).removeprefix(BOM)
        while True:
            head = head.lstrip()
            if head:
                return head.startswith(b"[")
            head = stream.read(65536)
            if not head:
                raise ImportFileError("The file is empty.")


def count_records(path):
    """Records in the file, for the progress's total; a file that cannot be read as a whole
    (not UTF-8, a malformed array) is an ``ImportFileError`` here, before anything is written."""
    if is_json_array(path):
        return len(parse_rows(decode(Path(path).read_bytes())))
    count = 0
    for _line, raw, _end in _raw_lines(path, 0, 1):
        count += bool(raw.strip())
    return count


def read_records(path, position=0, line=1):
    """``(line, record or RejectedRow, position after it)`` from ``position`` (a byte offset
    at the start of line ``line``, for JSON lines; the index of the next record, for an array)."""
    if is_json_array(path):
        rows = parse_rows(decode(Path(path).read_bytes()))
        for index in range(position, len(rows)):
            yield (*rows[index], index + 1)
        return
    for number, raw, end in _raw_lines(path, position, line):
        if raw.strip():
            yield number, parse_line(number, raw), end


def _raw_lines(path, position, line):
    """``(line number, text, byte offset after it)``: only ``\\n`` ends a line."""
    with open(path, "rb") as stream:
        stream.seek(position)
        for raw in stream:
            start = position
            position += len(raw)
            if start == 0:
                raw = raw.removeprefix(BOM)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    f"The file is not UTF-8 text (byte {start + exc.start})."
                ) from None
            yield line, text, position
            line += 1


@dataclass
class Checkpoint:
    """How far an import of one file got: its position, counts, and the websites it wrote."""

    file: str
    size: int
    mtime_ns: int
    position: int = 0
    line: int = 1
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    seen: dict = field(default_factory=dict, repr=False)

    @classmethod
    def for_file(cls, path):
        """The checkpoint of an earlier, interrupted import of this unchanged file, if any;
        else a fresh one."""
        path = Path(path).resolve()
        stat = path.stat()
        fresh = cls(str(path), stat.st_size, stat.st_mtime_ns)
        try:
            saved = json.loads(fresh.state_path.read_text())
        except (OSError, ValueError):
            saved = {}
        if (saved.get("file"), saved.get("size"), saved.get("mtime_ns")) != (
            fresh.file,
            fresh.size,
            fresh.mtime_ns,
        ):
            # What an import of another version of the file left (its websites above all)
            # belongs to no import of this one.
            fresh.remove()
            return fresh
        checkpoint = cls(**{**saved, "seen": {}})
        checkpoint.seen = checkpoint._read_seen()
        return checkpoint

    @property
    def state_path(self):
        name = hashlib.sha256(self.file.encode()).hexdigest()[:24]
        return Path(settings.VAR_DIR) / "imports" / f"{name}.json"

    @property
    def seen_path(self):
        return self.state_path.with_suffix(".websites")

    @property
    def resumed(self):
        return self.records > 0

    def _read_seen(self):
        """Websites written up to the checkpoint's line (a chunk written after it is not)."""
        seen = {}
        try:
            with open(self.seen_path, encoding="utf-8") as lines:
                for entry in lines:
                    line, _, key = entry.rstrip("\n").partition("\t")
                    if line.isdigit() and int(line) < self.line:
                        seen[key] = int(line)
        except OSError:
            pass
        return seen

    def totals(self, result):
        """The counts of the chunks done before plus those of ``result`` (this run's)."""
        return {
            "created": self.created + result.created,
            "updated": self.updated + result.updated,
            "unchanged": self.unchanged + result.unchanged,
            "rejected": self.rejected + len(result.rejected),
        }

    def advance(self, position, line, records, totals, written):
        """Record a chunk as done: ``written`` maps its websites to their lines."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.seen_path, "a", encoding="utf-8") as lines:
            lines.writelines(f"{number}\t{key}\n" for key, number in written.items())
            lines.flush()
            os.fsync(lines.fileno())
        state = {k: v for k, v in asdict(self).items() if k != "seen"}
        state.update(position=position, line=line, records=records, **totals)
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.state_path)  # atomic: the old or the new, never half

    def remove(self):
        for path in (self.state_path, self.seen_path):
            path.unlink(missing_ok=True)
