"""structlog set-up: JSON off a terminal, a request id bound per request, personal numbers masked."""

import logging
import re
import sys
from typing import Any

import structlog

# A 12-digit personal ID number or a 9-digit CMND number, standing alone (not glued to letters, as in
# the S10 item number EE123456785VN).
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])([0-9]{12}|[0-9]{9})(?![0-9A-Za-z])")
# Vietnamese phone numbers: 0 or +84/84 followed by 9 digits, optional separators inside.
_PHONE = re.compile(r"(?<![0-9A-Za-z+])(?:\+?84|0)(?:[ .-]?[0-9]){9}(?![0-9A-Za-z])")
# Correlation tokens, not personal data: masking a digit run inside one would break the correlation.
_NEVER_MASKED = frozenset({"request_id"})


def _mask_match(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "*" * (len(digits) - 3) + digits[-3:]


def mask_text(text: str) -> str:
    return _ID_NUMBER.sub(_mask_match, _PHONE.sub(_mask_match, text))


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) in (9, 10, 11, 12):
        return mask_text(str(value))
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_mask(item) for item in value]
    return value


def mask_personal_numbers(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Mask ID and phone numbers wherever they appear in an event, keeping the last three digits."""
    return {key: value if key in _NEVER_MASKED else _mask(value) for key, value in event_dict.items()}


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    """structlog's events and the standard library's (aiohttp's server errors quote the bytes of a bad
    request; tracebacks quote values) go through the same chain, masking included, to one stream."""
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    stamped: list[Any] = [structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*stamped, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                mask_personal_numbers,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *stamped,
            structlog.processors.format_exc_info,
            mask_personal_numbers,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
