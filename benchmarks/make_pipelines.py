"""Generate N realistic pipelines in three equivalent forms, for the parse-time benchmark.

For each pipeline (shaped like the seeds: one EMR cluster, 3-6 Spark steps with
some in parallel, then a Step Functions or Glue task):

* ``specs/``        the dagen spec (what users write),
* ``handwritten/``  an equivalent hand-written Python DAG file per pipeline (the floor),
* ``dagfactory/``   the dag-factory YAML `dagen compile` prints, loaded by dag-factory itself (the peer),
* ``shipped/``      ``specs/`` plus the ``compiled/`` build `dagen deploy` ships beside ``pipelines/``
                    (compiled here, in the lane's own Python: its key holds the lane's Airflow major,
                    provider profile, library versions and the generator's source).

Usage: python benchmarks/make_pipelines.py N OUT_DIR
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
# run.py points this at its copy of the source (generator/ and dags/pipelines_loader.py), else the work tree
SOURCE = Path(os.environ.get("DAGEN_BENCH_SOURCE") or REPO)
sys.path.insert(0, str(SOURCE))

from generator.compile.constructed import Constructed  # noqa: E402
from generator.compile.dagfactory_config import to_dagfactory_yaml  # noqa: E402
from generator.compile.pipelines import process  # noqa: E402
from generator.core.provider_profile import installed_profile  # noqa: E402
from generator.deploy.bundle import shipped_entries  # noqa: E402


def spec(index: int, rng: random.Random) -> dict:
    steps = rng.randint(3, 6)
    tasks: dict = {
        "extract": {
            "type": "emr_step",
            "cluster": "etl",
            "command": ["bash", "-c", f"aws s3 cp s3://bench-{index}/in/ s3://bench-{index}/raw/ --recursive"],
        }
    }
    for step in range(1, steps):
        tasks[f"transform_{step}"] = {
            "type": "emr_step",
            "cluster": "etl",
            "depends_on": ["extract"] if step < 3 else [f"transform_{step - 2}"],
            "spark": {
                "script": "{{ params.scripts_uri }}" + f"/job_{step}.py",
                "args": [
                    "--input",
                    f"s3://bench-{index}/raw/",
                    "--output",
                    f"s3://bench-{index}/out/{step}/",
                    "--date",
                    "{{ ds }}",
                ],
                "conf": {"spark.sql.shuffle.partitions": "64"},
            },
        }
    last = [f"transform_{step}" for step in range(max(1, steps - 2), steps)]
    if index % 2:
        tasks["curate"] = {
            "type": "step_function",
            "depends_on": last,
            "state_machine_arn": f"arn:aws:states:us-east-1:123456789012:stateMachine:curate-{index}",
            "input": {"bucket": f"bench-{index}", "date": "{{ ds }}"},
        }
    else:
        tasks["curate"] = {
            "type": "glue_job",
            "depends_on": last,
            "job_name": f"curate-{index}",
            "arguments": {"--date": "{{ ds }}"},
            "worker_type": "G.1X",
            "number_of_workers": 2,
        }
    return {
        "description": f"Benchmark pipeline {index}",
        "schedule": "0 3 * * *",
        "start_date": "2024-01-01",
        "catchup": False,
        "task_defaults": {"retries": 2, "retry_delay": "5m"},
        "params": {"scripts_uri": {"default": f"s3://bench-{index}/jobs", "type": "string"}},
        "clusters": {
            "etl": {
                "release_label": "emr-7.5.0",
                "applications": ["Hadoop", "Spark"],
                "instance_groups": {
                    "primary": {"instance_type": "m5.xlarge"},
                    "core": {"instance_type": "m5.xlarge", "count": 2, "market": "SPOT"},
                },
                "log_uri": f"s3://bench-{index}/logs/",
            }
        },
        "tasks": tasks,
    }


def python_literal(value: object) -> str:
    """Source text for a configuration value (Constructed markers become constructor calls)."""
    if isinstance(value, Constructed):
        args = [python_literal(arg) for arg in value.args]
        args += [f"{key}={python_literal(sub)}" for key, sub in value.kwargs.items()]
        return f"{value.path.rsplit('.', 1)[1]}({', '.join(args)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {python_literal(sub)}" for key, sub in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(sub) for sub in value) + "]"
    return repr(value)


def handwritten(dag_id: str, config: dict, airflow_major: int) -> str:
    """The DAG file an engineer would write for the same pipeline (same operators, same arguments)."""
    imports = sorted({task["operator"] for task in config["tasks"].values()})
    dag_import = (
        "from airflow.sdk import DAG, Param"
        if airflow_major >= 3
        else ("from airflow import DAG\nfrom airflow.models.param import Param")
    )
    lines = [
        '"""Hand-written airflow dag (benchmark floor)."""',
        "from datetime import timedelta",
        "import pendulum",
        dag_import,
    ]
    lines += [f"from {path.rsplit('.', 1)[0]} import {path.rsplit('.', 1)[1]}" for path in imports]
    schedule = None if config["schedule"] == "none" else config["schedule"]
    lines += [
        "",
        f"with DAG(dag_id={dag_id!r}, schedule={schedule!r}, start_date=pendulum.parse({config['start_date']!r}),",
        f"         catchup={config['catchup']!r}, default_args={python_literal(config['default_args'])},",
        f"         params={python_literal(config.get('params', {}))}, tags={config['tags']!r}) as dag:",
    ]
    for task_id, task in config["tasks"].items():
        kwargs = {key: value for key, value in task.items() if key not in ("operator", "dependencies")}
        arguments = ", ".join(f"{key}={python_literal(value)}" for key, value in kwargs.items())
        lines.append(f"    {task_id} = {task['operator'].rsplit('.', 1)[1]}(task_id={task_id!r}, {arguments})")
    for task_id, task in config["tasks"].items():
        for upstream in task["dependencies"]:
            lines.append(f"    {upstream} >> {task_id}")
    for teardown, setups in config["dagen_teardowns"].items():
        lines.append(f"    {teardown}.as_teardown(setups=[{', '.join(setups)}], on_failure_fail_dagrun=True)")
    return "\n".join(lines) + "\n"


def ship(dags_folder: Path, airflow_major: int) -> int:
    """Write the shipped build of ``dags_folder/pipelines`` into ``dags_folder/compiled``, as `dagen deploy` does."""
    # root is the DAGs folder, so display names (part of each key) are ``pipelines/x.yaml`` as the loader sees them
    results = process(
        [dags_folder / "pipelines"], profile=installed_profile(), airflow_major=airflow_major, root=dags_folder
    )
    entries = shipped_entries(results)
    assert len(entries) == len(results), [r.diagnostics for r in results if r.diagnostics]
    for rel_path, content in entries.items():
        target = dags_folder / rel_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return len(entries)


def main() -> None:
    count, out = int(sys.argv[1]), Path(sys.argv[2])
    airflow_major = int(__import__("airflow").__version__.split(".")[0])
    rng = random.Random(count)
    specs = out / "specs" / "pipelines"
    for folder in (specs, out / "handwritten", out / "dagfactory" / "yaml"):
        folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (specs / f"bench_{index:04d}.yaml").write_text(yaml.safe_dump(spec(index, rng), sort_keys=False))
    (out / "specs" / "pipelines_loader.py").write_text((SOURCE / "dags" / "pipelines_loader.py").read_text())
    results = process([specs], profile=installed_profile(), airflow_major=airflow_major)
    assert all(result.config for result in results), [r.diagnostics for r in results if r.diagnostics]
    for result in results:
        assert result.config is not None
        (out / "handwritten" / f"{result.dag_id}.py").write_text(
            handwritten(result.dag_id, result.config, airflow_major)
        )
        (out / "dagfactory" / "yaml" / f"{result.dag_id}.yml").write_text(
            to_dagfactory_yaml({result.dag_id: result.config})
        )
    (out / "dagfactory" / "load_yaml_dags.py").write_text(
        '"""dag-factory loading the compiled YAML (airflow dag file)."""\n'
        "from pathlib import Path\n\nimport dagfactory\n\n"
        "dagfactory.load_yaml_dags(globals_dict=globals(), dags_folder=str(Path(__file__).parent / 'yaml'))\n"
    )
    (out / "dagfactory" / ".airflowignore").write_text("yaml/\n")
    shutil.copytree(out / "specs", out / "shipped")
    ship(out / "shipped", airflow_major)


if __name__ == "__main__":
    main()
