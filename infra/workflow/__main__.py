"""`make definition`: writes statemachine/refresh.asl.json from the builder (a test fails when it is stale)."""

from __future__ import annotations

from . import DEFINITION_FILE, definition_text

if __name__ == "__main__":
    DEFINITION_FILE.write_text(definition_text(), encoding="utf-8")
    print(f"Wrote {DEFINITION_FILE.relative_to(DEFINITION_FILE.parent.parent)}")
