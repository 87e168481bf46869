"""One Airflow lane's verdicts on a stream of spec inputs: the other half of tests/test_property_inputs.py.

    .venv-airflow2/bin/python tests/property_verdicts.py VERDICTS.jsonl < INPUTS.jsonl

Each line of stdin is one input, ``{"name": ..., "raw": <base64 of the bytes>}``; each gets one line in
``VERDICTS.jsonl``, in order, as soon as it is judged: ``{"exit_code", "located", "built"}`` (see
``Verdict.agreed`` in tests/property_inputs_support.py), plus the ``problems`` this lane found, for the record.
The test starts this once and streams its inputs as it makes them, so both lanes judge side by side.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for `tests.`

import tests.conftest  # noqa: E402, F401 - the tests' set-up before Airflow is imported: its home, no examples
from tests.property_inputs_support import SpecInput, judge  # noqa: E402


def main(output: str) -> int:
    with open(output, "w", encoding="utf-8") as verdicts:
        for line in sys.stdin:
            verdict = judge(SpecInput.from_json(json.loads(line)))
            verdicts.write(json.dumps({**verdict.agreed, "problems": verdict.problems}) + "\n")
            verdicts.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
