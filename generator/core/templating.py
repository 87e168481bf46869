"""Jinja helpers for lowering: XCom references and JSON with embedded templates.

Runtime values stay Jinja templates that Airflow renders when the task runs;
nothing here evaluates them.
"""

from __future__ import annotations

import json
import re
from typing import Any

_WHOLE_EXPRESSION = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}).)+)\}\}$", re.DOTALL)


def xcom_pull(task_id: str) -> str:
    """Template that reads the return value of another task at run time."""
    return f"{{{{ ti.xcom_pull(task_ids='{task_id}') }}}}"


def json_with_templates(value: Any) -> str:
    """Serialise ``value`` with ``json.dumps``, keeping templates renderable.

    A string that is exactly one ``{{ expr }}`` becomes ``{{ (expr) | tojson }}``
    outside quotes, so a list or number param renders as JSON, not as a Python
    repr inside a string.  Other strings (including partial templates) are
    ordinary JSON strings.
    """
    expressions: list[str] = []

    def mark(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: mark(sub) for key, sub in item.items()}
        if isinstance(item, list):
            return [mark(sub) for sub in item]
        if isinstance(item, str):
            match = _WHOLE_EXPRESSION.match(item.strip())
            if match:
                expressions.append(match.group("expr").strip())
                return f"\x00{len(expressions) - 1}\x00"
        return item

    text = json.dumps(mark(value), sort_keys=False, default=str)
    for index, expr in enumerate(expressions):
        text = text.replace(json.dumps(f"\x00{index}\x00"), f"{{{{ ({expr}) | tojson }}}}")
    return text
