"""The params section of a preview: the DAG's params, their defaults, schemas and descriptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.preview.values import plain


@dataclass(frozen=True, kw_only=True)
class ParamPreview:
    name: str
    default: Any
    schema: dict[str, Any]
    description: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "default": self.default, "schema": self.schema, "description": self.description}


def param_previews(dag: Any) -> tuple[ParamPreview, ...]:
    out = []
    for name in dag.params.keys():
        param = dag.params.get_param(name)
        out.append(
            ParamPreview(
                name=name, default=plain(param.value), schema=plain(param.schema), description=param.description
            )
        )
    return tuple(out)
