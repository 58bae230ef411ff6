"""Structured logging with personal data masked before anything is written.

The registry handles children's personal data (152-FZ): names, SNILS, documents, dates and
places of birth, addresses must never reach a log in clear. `configure_logging` routes both
structlog and standard-library records through one chain whose last step before rendering is
``hub.protection.masking.mask_personal_data``, where all masking lives: ``mask_text`` for any
free text (error texts the hub stores or shows), stored messages by their structure.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from hub.errors import ConfigurationError

__all__ = ["configure_logging"]


class _StderrHandler(logging.StreamHandler[TextIO]):
    # Writes to whatever sys.stderr is at emit time (test capture and redirection swap it).
    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _record_stack(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    # A stdlib record brings its stack already formatted; StackInfoRenderer would take ours.
    stack = event_dict.pop("stack_info", None)
    if isinstance(stack, str):
        event_dict["stack"] = stack
    return event_dict


_SHARED: tuple[Processor, ...] = (
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
)
# One list for every configuration: loggers cached on first use keep pointing at it.
_STRUCTLOG_CHAIN: list[Processor] = [
    structlog.stdlib.filter_by_level,
    *_SHARED,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
]


def configure_logging(*, level: str = "INFO", json: bool | None = None) -> None:
    # The masking rules are read from the models and agency schemas: loaded here, not at import.
    from hub.protection.masking import mask_personal_data  # noqa: PLC0415

    """Send structlog and standard-library logs to stderr with personal data masked.

    ``level`` is a standard level name (``DEBUG``, ``INFO``...). Output is JSON lines unless
    stderr is a terminal (then a console renderer); ``json`` forces either. Safe to call
    again: the root logger's handlers are replaced and structlog is reconfigured.
    Raises `ConfigurationError` for an unknown level.
    """
    numeric_level = _level_number(level)
    tty = _stderr_is_tty()
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _record_stack, *_SHARED],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                mask_personal_data,
                _renderer(json=not tty if json is None else json, colors=tty),
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    # Every command that opens the journal runs the migrations: alembic's INFO lines (its
    # plugins, "Context impl", "Running upgrade") are noise there. `hub db upgrade` reports
    # what it applied itself; DEBUG still shows them.
    logging.getLogger("alembic").setLevel(max(numeric_level, logging.WARNING))
    structlog.configure(
        processors=_STRUCTLOG_CHAIN,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _level_number(level: str) -> int:
    number = logging.getLevelNamesMapping().get(level.strip().upper())
    if number is None:
        raise ConfigurationError(f"unknown log level {level!r}", level=level)
    return number


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr (pythonw) or a closed one
        return False


def _renderer(*, json: bool, colors: bool) -> Processor:
    if json:
        return structlog.processors.JSONRenderer(ensure_ascii=False)
    return structlog.dev.ConsoleRenderer(
        colors=colors, exception_formatter=structlog.dev.plain_traceback
    )
