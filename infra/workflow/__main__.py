"""`make definition`: writes statemachine/*.asl.json from the builder (a test fails when one is stale)."""

from __future__ import annotations

from . import DEFINITION_FILES, definition_text

if __name__ == "__main__":
    for name, path in DEFINITION_FILES.items():
        path.write_text(definition_text(name), encoding="utf-8")
        print(f"Wrote {path.relative_to(path.parent.parent)}")
