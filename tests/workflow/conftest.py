"""The workflow tier's common fixture: the example configuration refreshing on a fresh local engine. A module
that refreshes another configuration defines its own `refresh`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.config import RefreshConfig
from local_engine.refresh import LocalRefresh


@pytest.fixture
def refresh(example_template: Any, example_config: RefreshConfig) -> Iterator[LocalRefresh]:
    with LocalRefresh(example_template.to_json(), example_config) as local:
        yield local
