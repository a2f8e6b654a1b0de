"""One logging setup for the service and its workers: our loggers and uvicorn's, one line per record, plain
(`2026-11-28 10:00:00,000 INFO salesboost.sales.sms.outbox: ...`) or JSON (`SALESBOOST_LOG_FORMAT=json`), at
`SALESBOOST_LOG_LEVEL`."""

from __future__ import annotations

import logging.config
from typing import Any

from salesboost.config import Settings

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping (uvicorn applies it in each worker as its `log_config`)."""
    level = settings.log_level.upper()
    formatter: dict[str, Any] = {"format": PLAIN}
    if settings.log_format == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    # uvicorn's loggers lose their own handlers and pass their records to the root's, like ours.
    uvicorn = {"handlers": [], "level": level, "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: uvicorn for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
