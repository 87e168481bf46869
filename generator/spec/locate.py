"""Where a value of a merged spec came from: the pipeline file or defaults.yaml."""

from __future__ import annotations

from typing import Any

from generator.spec.load import Pointer, SourceDocument


def defaults_pointer(pointer: Pointer) -> Pointer:
    """The path in defaults.yaml that supplies ``pointer`` of a pipeline."""
    if len(pointer) >= 2 and pointer[0] == "clusters":
        return ("cluster_defaults", *pointer[2:])
    return pointer


class Locator:
    """Turns a path in the merged spec into ``file``/``line``/``column``/``path`` fields."""

    def __init__(self, pipeline: SourceDocument, defaults: SourceDocument | None = None) -> None:
        self.pipeline = pipeline
        self.defaults = defaults

    def at(self, pointer: tuple[Any, ...], *, key: bool = False) -> dict[str, Any]:
        pointer = tuple(str(part) for part in pointer)
        doc, doc_pointer = self.pipeline, pointer
        if self.defaults is not None and not self.pipeline.has(pointer):
            candidate = defaults_pointer(pointer)
            if self.defaults.has(candidate):
                doc, doc_pointer = self.defaults, candidate
        line, column = doc.locate(doc_pointer, key=key)
        return {"file": doc.file, "line": line, "column": column, "path": "/".join(pointer)}
