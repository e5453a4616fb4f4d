"""Logging with the execution ARN and base date in every line.

The functions use Lambda's JSON log format, which adds the `extra` keys of each record to
its JSON line, so an operator can filter a run's lines by execution or base date.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any


class _RunAdapter(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


def run_logger(name: str, *, execution_arn: str, base_date: str | None = None) -> logging.LoggerAdapter:  # type: ignore[type-arg]
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    return _RunAdapter(logger, {"execution_arn": execution_arn, "base_date": base_date})
