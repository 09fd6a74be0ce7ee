"""The JSON log format (``LOG_FORMAT=json``): one object per line, for log collectors.

Each line has ``time``, ``level``, ``logger`` and ``message``, then every field the call passed in
``extra`` (``event``, ``company_ids``, ``error``, ...), then ``traceback`` if there is one. Errors
can then be counted and filtered by event or by company without parsing sentences.
"""

import json
import logging
from datetime import UTC, datetime

# The attributes every LogRecord has; anything else on a record came from ``extra``.
STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (name, value)
            for name, value in vars(record).items()
            if name not in STANDARD_ATTRIBUTES and not name.startswith("_")
        )
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII only: whatever the message holds (even lone surrogates), the line can be written.
        return json.dumps(entry, default=str)
