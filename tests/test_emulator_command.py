"""``dagen emulator``: the local AWS as a process of its own, with faults injected by resource.

One emulator process serves the module (started once, stopped at the end); each test talks to it through
boto3 on its endpoint, as a real Airflow deployment would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO = Path(__file__).resolve().parent.parent
FAULTS = [
    "--fail",
    "step:always_fails",
    "--fail-once",
    "execution:mwaa-movielens-curation",
    "--lose-response",
    "cluster:lost_answer",
    "--fail-once",
    "lambda:nightly",
    "--slow-response",
    "cluster:slow_answer",
]


class Emulator:
    def __init__(self, process: subprocess.Popen[str], env: dict[str, str]) -> None:
        self.process = process
        self.env = env

    def client(self, service: str) -> Any:
        return boto3.session.Session(
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_DEFAULT_REGION"],
        ).client(service, endpoint_url=self.env["AWS_ENDPOINT_URL"])


def start(tmp: Path, *args: str) -> tuple[subprocess.Popen[str], Path]:
    env_file = tmp / "emulator-env.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "generator", "emulator", *args, "--env-file", str(env_file)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return process, env_file


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    tmp = tmp_path_factory.mktemp("emulator")
    pipelines = tmp / "pipelines"
    shutil.copytree(REPO / "pipelines", pipelines)
    (pipelines / "nightly_lambda.yaml").write_text(
        "start_date: 2026-01-01\nschedule: null\n"
        "tasks:\n  call:\n    type: lambda_invoke\n    function_name: nightly\n",
        encoding="utf-8",
    )
    process, env_file = start(tmp, str(pipelines), *FAULTS)
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists():
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the emulator never became ready"
            time.sleep(0.2)
        yield Emulator(process, json.loads(env_file.read_text(encoding="utf-8")))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def _cluster(emr: Any, name: str) -> str:
    return str(
        emr.run_job_flow(
            Name=name,
            ReleaseLabel="emr-7.5.0",
            Instances={"InstanceCount": 1, "MasterInstanceType": "m5.xlarge", "KeepJobFlowAliveWhenNoSteps": True},
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
        )["JobFlowId"]
    )


def _final(describe: Any, done: tuple[str, ...]) -> str:
    for _ in range(20):
        state = describe()
        if state in done:
            return str(state)
    raise AssertionError(f"still {state}")


def test_it_prints_and_writes_the_environment_for_airflow(emulator: Emulator) -> None:
    env = emulator.env
    endpoint = env["AWS_ENDPOINT_URL"]
    assert endpoint.startswith("http://127.0.0.1:")
    assert json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == endpoint
    arn = env["AIRFLOW_VAR_MOVIELENS_STATE_MACHINE_ARN"]
    machine = emulator.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    assert machine["name"] == "mwaa-movielens-curation"
    subnet = env["AIRFLOW_VAR_EMR_SUBNET_ID"]
    assert emulator.client("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["SubnetId"] == subnet
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "dagen-local"


def test_a_failing_step_fails_every_time_and_other_steps_complete(emulator: Emulator) -> None:
    emr = emulator.client("emr")
    cluster = _cluster(emr, "steps")
    step = {"ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]}}
    ids = emr.add_job_flow_steps(
        JobFlowId=cluster,
        Steps=[{**step, "Name": "always_fails"}, {**step, "Name": "fine"}, {**step, "Name": "always_fails"}],
    )["StepIds"]

    def state(step_id: str) -> str:
        return _final(
            lambda: emr.describe_step(ClusterId=cluster, StepId=step_id)["Step"]["Status"]["State"],
            ("COMPLETED", "FAILED"),
        )

    assert [state(step_id) for step_id in ids] == ["FAILED", "COMPLETED", "FAILED"]
    failed = emr.describe_step(ClusterId=cluster, StepId=ids[0])["Step"]["Status"]
    assert failed["FailureDetails"]["Message"] == "injected by dagen emulator --fail step:always_fails"


def test_fail_once_fails_only_the_first_execution(emulator: Emulator) -> None:
    sfn = emulator.client("stepfunctions")
    arn = emulator.env["AIRFLOW_VAR_MOVIELENS_STATE_MACHINE_ARN"]
    states = []
    for name in ("first", "second", "third"):
        execution = sfn.start_execution(stateMachineArn=arn, name=name, input="{}")["executionArn"]
        states.append(
            _final(
                lambda arn=execution: sfn.describe_execution(executionArn=arn)["status"],
                ("SUCCEEDED", "FAILED"),
            )
        )
    assert states == ["FAILED", "SUCCEEDED", "SUCCEEDED"]


def test_a_lost_response_took_effect(emulator: Emulator) -> None:
    emr = emulator.client("emr")
    with pytest.raises(emr.exceptions.InvalidRequestException, match="response was lost"):
        _cluster(emr, "lost_answer")
    _cluster(emr, "lost_answer")  # only the first call loses its response
    named = [c for c in emr.list_clusters()["Clusters"] if c["Name"] == "lost_answer"]
    assert len(named) == 2


def test_a_slow_response_took_effect_at_once_and_answers_late(emulator: Emulator) -> None:
    """While the first RunJobFlow of slow_answer is held, the cluster exists and other calls are answered."""
    from concurrent.futures import ThreadPoolExecutor

    from generator.local.emulator.shared import SLOW_RESPONSE_SECONDS

    emr = emulator.client("emr")
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(_cluster, emr, "slow_answer")
        while not any(c["Name"] == "slow_answer" for c in emulator.client("emr").list_clusters()["Clusters"]):
            assert not held.done(), "the call answered before the cluster was listed"
            time.sleep(0.1)
        assert not held.done()  # the cluster is there, its caller still waits
        first = held.result()
    assert time.monotonic() - started >= SLOW_RESPONSE_SECONDS
    again = time.monotonic()
    assert _cluster(emr, "slow_answer") != first  # only the first call is held
    assert time.monotonic() - again < SLOW_RESPONSE_SECONDS


def test_a_lambda_fails_once_then_answers(emulator: Emulator) -> None:
    client = emulator.client("lambda")
    answers = [client.invoke(FunctionName="nightly", Payload=b"{}").get("FunctionError") for _ in range(2)]
    assert answers == ["Unhandled", None]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--fail", "bucket:x"], 2, "dagen: invalid --fail 'bucket:x': KIND:NAME, KIND one of step, cluster,"),
        (["--fail", "step"], 2, "dagen: invalid --fail 'step': KIND:NAME"),
        (
            ["--fail-once", "cluster:etl"],
            2,
            "dagen: --fail-once cluster:etl: a cluster can only lose a response (--lose-response cluster:NAME)",
        ),
        (["no/such/folder"], 2, "dagen: no such file or folder: no/such/folder"),
        (["tests/cases/dg101_yaml_syntax"], 1, "DG101"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    process, env_file = start(tmp_path, *(args if not args[0].startswith("--") else ["pipelines", *args]))
    output = process.communicate(timeout=60)[0]
    assert process.returncode == code
    assert message in output
    assert "Traceback" not in output
    assert not env_file.exists()


def test_an_env_file_not_named_json_is_for_a_shell(tmp_path: Path) -> None:
    env_file = tmp_path / "emulator.env"
    process = subprocess.Popen(
        [sys.executable, "-m", "generator", "emulator", "pipelines/salary_batch_etl.yaml", "--env-file", str(env_file)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        shell = subprocess.run(
            ["bash", "-c", f"source {env_file} && echo $AIRFLOW_VAR_EMR_SUBNET_ID && echo $AWS_ENDPOINT_URL"],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    subnet, endpoint = shell.stdout.split()
    assert subnet.startswith("subnet-")
    assert endpoint.startswith("http://127.0.0.1:")


def test_sigterm_stops_it_cleanly(emulator: Emulator) -> None:
    emulator.process.send_signal(signal.SIGTERM)
    output = emulator.process.communicate(timeout=30)[0]
    assert emulator.process.returncode == 0
    assert output.rstrip().endswith("dagen emulator: stopped")
    assert "Traceback" not in output


def test_executions_the_emulator_completed_and_ones_moto_ran_list_together() -> None:
    """A fault on a machine moto can run makes the emulator complete that execution: both kinds are listed."""
    from generator.local.emulator import LocalAws

    with LocalAws() as aws:
        sfn = aws.client("stepfunctions")
        role = aws.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
        machine = sfn.create_state_machine(name="passes", roleArn=role, definition=definition)["stateMachineArn"]
        aws.fault_on("execution", "passes", "fail-once", "first fails")
        for name in ("first", "second"):
            arn = sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
            _final(lambda arn=arn: sfn.describe_execution(executionArn=arn)["status"], ("SUCCEEDED", "FAILED"))
        listed = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert sorted((item["name"], item["status"]) for item in listed) == [("first", "FAILED"), ("second", "SUCCEEDED")]
