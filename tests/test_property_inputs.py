"""Property test over spec inputs: whatever a spec file holds, dagen answers with located diagnostics, or
with a DAG that builds.

The inputs are the seed specs of ``pipelines/`` and a few small valid specs, mutated in their parsed data or
in their YAML text, under varied file names (tests/property_inputs_support.py says how).  For each input:

- ``dagen validate`` on a folder holding the spec and a copy of ``pipelines/defaults.yaml`` exits 0 or 1,
  prints no traceback, no internal error and no DG601, and every diagnostic line of its report is
  ``<file>:<line>:<col>: DGnnn ...``, inside the file;
- a spec it accepts builds in Airflow's DagBag through the loader file (every accepted input, not a sample):
  no import error, the spec's DAG is there, it is not a placeholder, and it serializes as the DAG processor
  stores it;
- the other Airflow lane's Python (``.venv-airflow2`` from the Airflow 3 lane, ``.venv`` from the Airflow 2
  lane; the test fails when it is missing) judges every input of the run again: tests/property_verdicts.py,
  started once and fed each input as it is made, so both lanes work side by side on the two cores.  Both must
  reach the same verdicts: exit code, located diagnostic codes, and for accepted specs whether they built.

Hypothesis is derandomized (the same inputs on every run, and in CI) and keeps no example database.  One run
makes 2 x 1,500 inputs (``EXAMPLES`` for each of the two generating tests) plus the six seeds: 2,194 distinct
inputs once repeats are dropped, at least ``MIN_INPUTS`` (about 15% accepted; about two minutes per lane on
two cores).  The terminal summary gives the exact counts.  Each class of broken invariant raises its own
AssertionError subclass, so hypothesis shrinks and reports every class separately with its minimal input; a
generating test stops at its first failure, so while one fails the count falls short and the last test fails
too.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir

from generator.compile.build import airflow_major
from tests.property_inputs_support import (
    REPO,
    SEED_TEXTS,
    SpecInput,
    Verdict,
    judge,
    problem_class,
    structural_inputs,
    text_inputs,
)

# Hypothesis's own files (its cache of the constants in the source, the patches of failing examples) go to a
# throw-away folder, not to .hypothesis/ in the working tree; with database=None no example is stored at all.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="dagen-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

EXAMPLES = 1500  # per generating test: about a quarter of what hypothesis generates repeats an earlier input
MIN_INPUTS = 2000
OTHER_LANE = {3: ".venv-airflow2", 2: ".venv"}  # by the Airflow major of this lane, relative to the repository

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    print_blob=False,
)


class OtherLane:
    """tests/property_verdicts.py in the other lane's Python, started once and fed each input as it is made.

    It judges beside this process (the machine has two cores) and writes one verdict per input to a file.
    """

    def __init__(self, folder: Path) -> None:
        self.python = REPO / OTHER_LANE[airflow_major()] / "bin" / "python"
        self.folder = folder
        self.output, self.errors = folder / "verdicts.jsonl", folder / "stderr.txt"
        self.process: subprocess.Popen[str] | None = None
        self.broken = None if self.python.is_file() else f"the other lane's interpreter {self.python} is missing"
        self.sent: list[SpecInput] = []

    def send(self, spec: SpecInput) -> None:
        if self.broken:
            return
        if self.process is None:
            with self.errors.open("w") as errors:
                self.process = subprocess.Popen(  # noqa: S603 - our own script, in our own lane
                    [str(self.python), str(REPO / "tests" / "property_verdicts.py"), str(self.output)],
                    stdin=subprocess.PIPE,
                    stdout=errors,
                    stderr=errors,
                    cwd=REPO,
                    env={**os.environ, "AIRFLOW_HOME": str(self.folder / "airflow-home")},  # not this lane's cfg
                    text=True,
                )
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(spec.as_json()) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            self.broken = f"{self.python} tests/property_verdicts.py stopped:\n{self.errors.read_text()[-3000:]}"
            return
        self.sent.append(spec)

    def verdicts(self) -> list[dict[str, Any]]:
        """The verdicts of every input sent, once the checker has judged them all."""
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=900)
        if self.process is not None and self.process.returncode != 0 and not self.broken:
            self.broken = f"{self.python} tests/property_verdicts.py failed:\n{self.errors.read_text()[-3000:]}"
        if self.broken:
            pytest.fail(f"{self.broken}; `make lanes` installs both lanes")
        lines = self.output.read_text(encoding="utf-8").splitlines() if self.output.exists() else []
        return [json.loads(line) for line in lines]

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            assert self.process.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()


class Checked:
    """Every distinct input this module judged, with its verdict, in the order they were first seen."""

    def __init__(self) -> None:
        self.verdicts: dict[SpecInput, Verdict] = {}
        self.other: OtherLane | None = None
        self.other_lane = "not compared"

    def judge(self, spec: SpecInput) -> Verdict:
        if spec not in self.verdicts:
            self.verdicts[spec] = judge(spec)
            if self.other is not None:
                self.other.send(spec)
        return self.verdicts[spec]

    def summary(self) -> str:
        accepted = [verdict for verdict in self.verdicts.values() if verdict.exit_code == 0]
        built = sum(1 for verdict in accepted if verdict.built)
        classes = Counter(problem_class(verdict.problems[0]) for verdict in self.verdicts.values() if verdict.problems)
        total = len(self.verdicts)
        lines = [
            f"Airflow {airflow_major()} lane: {total:,} distinct inputs checked, {len(accepted):,} accepted by "
            f"validate ({built:,} of them built in the loader's DagBag), {total - len(accepted):,} rejected; "
            f"{sum(classes.values()):,} broke an invariant; other lane: {self.other_lane}",
            *(f"  {count:5,} x {name}" for name, count in classes.most_common()),
        ]
        return "\n".join(lines)


CHECKED = Checked()
_FAILURE_TYPES: dict[str, type[AssertionError]] = {}


def check(spec: SpecInput) -> None:
    """Judge ``spec``; fail with an exception type of its own for each class of problem."""
    verdict = CHECKED.judge(spec)
    if verdict.problems:
        name = problem_class(verdict.problems[0])
        failure = _FAILURE_TYPES.setdefault(name, type(f"Broken[{name}]", (AssertionError,), {}))
        raise failure("\n".join(verdict.problems))


class _Summary:
    """A pytest plugin: the counts of the run in the terminal summary, with or without ``-s``."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("-", "property inputs (tests/test_property_inputs.py)")
        terminalreporter.write_line(CHECKED.summary())


@pytest.fixture(scope="module", autouse=True)
def _other_lane_and_counts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if not request.config.pluginmanager.has_plugin("dagen-property-inputs"):
        request.config.pluginmanager.register(_Summary(), "dagen-property-inputs")
    CHECKED.other = OtherLane(tmp_path_factory.mktemp("other-lane"))
    yield
    CHECKED.other.stop()


@pytest.mark.parametrize("name", sorted(SEED_TEXTS))
def test_each_seed_is_accepted_and_builds(name: str) -> None:
    """The unmutated seeds: what every mutation starts from must itself be valid."""
    verdict = CHECKED.judge(SpecInput(name, SEED_TEXTS[name]))
    assert (verdict.exit_code, verdict.located, verdict.built, verdict.problems) == (0, [], True, [])


@SETTINGS
@given(structural_inputs())
def test_structurally_mutated_specs_get_located_diagnostics_or_build(spec: SpecInput) -> None:
    check(spec)


@SETTINGS
@given(text_inputs())
def test_textually_mutated_specs_get_located_diagnostics_or_build(spec: SpecInput) -> None:
    check(spec)


def test_the_other_lane_reaches_the_same_verdicts() -> None:
    """Every input of this run, judged again by the other Airflow lane (fed as the inputs were made)."""
    assert CHECKED.verdicts, "run the whole module: the generating tests make the inputs"
    assert CHECKED.other is not None
    theirs = CHECKED.other.verdicts()
    inputs = CHECKED.other.sent
    assert len(theirs) == len(inputs) == len(CHECKED.verdicts)
    differ = [
        f"{spec!r}\n    this lane:  {CHECKED.verdicts[spec].agreed}\n    other lane: {other}"
        for spec, other in zip(inputs, theirs, strict=True)
        if CHECKED.verdicts[spec].agreed != {key: other[key] for key in ("exit_code", "located", "built")}
    ]
    CHECKED.other_lane = f"{OTHER_LANE[airflow_major()]} agrees on {len(inputs) - len(differ):,} of {len(inputs):,}"
    assert not differ, f"{len(differ)} verdict(s) differ between the lanes; the first ones:\n" + "\n".join(differ[:5])


def test_enough_inputs_were_checked() -> None:
    print(CHECKED.summary())
    assert len(CHECKED.verdicts) >= MIN_INPUTS, CHECKED.summary()
