"""``dagen deploy``: validate every spec, then push the MWAA bundle to the DAGs bucket, only what changed.

Steps, each stopping the deploy with one line and a hint (exit 1) before anything
is uploaded: validate pipelines/ (the report ``dagen validate`` prints), check the
bucket name, build the bundle (:mod:`generator.deploy.bundle`) with the shipped
build, measure its parse (:mod:`generator.deploy.parse_budget`), check the bucket's
versioning and read what is there (:mod:`generator.deploy.s3`), print the plan
(:mod:`generator.deploy.plan`); then, unless ``--dry-run``, run it in order with a
progress bar.  A failure part-way stops at that file; a rerun finishes the job.

The package deployed is the one running this command -- the one that just
validated the specs -- so what MWAA loads is what was checked.

``--target mwaa-serverless`` deploys each spec as an MWAA Serverless workflow
instead (:mod:`generator.deploy.serverless`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from generator.compile.pipelines import process
from generator.core.diagnostics import REPORTERS, sorted_unique
from generator.core.provider_profile import LEGACY, MODERN
from generator.deploy.bundle import (
    AIRFLOW_PYTHON,
    DAGS,
    DEFAULT_AIRFLOW_VERSION,
    LOADER,
    SCRIPTS,
    BundleError,
    BundleFile,
    build_bundle,
    refuse_links_out,
    release_of_bundle,
    shipped_entries,
    supported_versions,
)
from generator.deploy.manifest import Manifest
from generator.deploy.parse_budget import DEFAULT_IMPORT_TIMEOUT, airflow_importable, measure, verdict
from generator.deploy.parse_budget import HINT as PARSE_BUDGET_HINT
from generator.deploy.plan import (
    DELETE,
    Location,
    Plan,
    RemoteObject,
    Step,
    make_plan,
    parse_bucket,
    parse_folder_uri,
    parse_prefix,
)
from generator.deploy.progress import progress
from generator.deploy.records import deploy_lock, live_release, read_manifest, write_manifest
from generator.deploy.s3 import (
    DEFAULT_MAX_ATTEMPTS,
    DeployError,
    Retries,
    bucket_name_problem,
    check_dags_bucket,
    list_remote,
    read_hashes,
    run_plan,
    s3_client,
)
from generator.deploy.serverless import DEFAULT_PREFIX as SERVERLESS_PREFIX
from generator.deploy.serverless import TARGET as SERVERLESS
from generator.deploy.serverless import add_target_arguments, deploy_serverless, target_problem
from generator.deploy.workflows import ClientFactory, workflows_client

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the generator package
MWAA_PREFIX = "dags/"
OnStep = Callable[[int, Step], None]


def _airflow_version(text: str) -> str:
    if text not in AIRFLOW_PYTHON:
        raise argparse.ArgumentTypeError(f"unsupported Airflow version '{text}'; supported: {supported_versions()}")
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds (for example 30 or 12.5)")
    return value


def _attempts(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of attempts from 1 to 100")
    return int(text)


def _bucket(text: str) -> str:
    name = parse_bucket(text)
    if name is None:
        raise argparse.ArgumentTypeError(f"'{text}' is not a bucket name")
    return name


def _prefix(text: str) -> str:
    prefix = parse_prefix(text)
    if prefix is None:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a folder like 'dags' (letters, digits, '-', '_', separated by '/')"
        )
    return prefix


def _scripts_uri(text: str) -> Location:
    location = parse_folder_uri(text)
    if location is None:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a folder URI like s3://BUCKET/spark_jobs/ (a bucket root is refused: "
            "--prune would empty it)"
        )
    return location


def register(subparsers: Any) -> None:
    """Add ``deploy`` to the ``dagen`` sub-commands."""
    deploy = subparsers.add_parser(
        "deploy",
        help="validate the specs, then upload the MWAA bundle (only what changed) to the DAGs bucket",
        description="Validate every spec in pipelines/, then upload the MWAA bundle (loader, generator package, "
        "schemas, specs, .airflowignore, requirements.txt) under --prefix and the Spark scripts under --scripts-uri, "
        "only the files that changed, in an order that never shows the loader a half-updated set. "
        "With --target mwaa-serverless: validate PATHS for MWAA Serverless, upload each pipeline's workflow "
        "definition under --prefix (only when it changed) and create or update its workflow.",
    )
    add_target_arguments(deploy)
    deploy.add_argument("--bucket", required=True, type=_bucket, help="the MWAA DAGs bucket (airflow-...)")
    deploy.add_argument(
        "--prefix",
        type=_prefix,
        help="the environment's DagS3Path in the bucket (default: dags); with --target "
        f"{SERVERLESS}: the folder of the workflow definitions (default: {SERVERLESS_PREFIX.rstrip('/')})",
    )
    deploy.add_argument(
        "--scripts-uri",
        type=_scripts_uri,
        help="folder for spark_jobs/*.py and *.ipynb, e.g. s3://DATA_BUCKET/spark_jobs/; "
        "without it the scripts are neither uploaded nor pruned",
    )
    deploy.add_argument(
        "--airflow-version",
        default=DEFAULT_AIRFLOW_VERSION,
        type=_airflow_version,
        help=f"the environment's Airflow version, for requirements.txt (default: {DEFAULT_AIRFLOW_VERSION}; "
        f"supported: {supported_versions()})",
    )
    deploy.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan, upload nothing (with --target mwaa-serverless: no workflow created, updated or tagged)",
    )
    deploy.add_argument(
        "--prune", action="store_true", help="delete files under the prefixes that are no longer in the bundle"
    )
    deploy.add_argument(
        "--import-timeout",
        default=DEFAULT_IMPORT_TIMEOUT,
        type=_seconds,
        metavar="SECONDS",
        help="the environment's core.dagbag_import_timeout: the bundle's measured parse must fit in it "
        f"(a warning above half of it; default: MWAA's {DEFAULT_IMPORT_TIMEOUT:g})",
    )
    deploy.add_argument("--force", action="store_true", help="deploy even when the parse exceeds --import-timeout")
    deploy.add_argument(
        "--no-parse-budget",
        dest="parse_budget",
        action="store_false",
        help="do not measure the parse (a machine without Airflow cannot, and says so)",
    )
    deploy.add_argument(
        "--max-attempts",
        default=DEFAULT_MAX_ATTEMPTS,
        type=_attempts,
        metavar="N",
        help="attempts per S3 request, with botocore's standard retry mode (SlowDown, 500, dropped connections; "
        f"default {DEFAULT_MAX_ATTEMPTS})",
    )
    deploy.add_argument(
        "--break-lock",
        action="store_true",
        help="remove the deploy lock a deploy that died left in the bucket, then deploy",
    )
    deploy.add_argument("--endpoint-url", help="S3 endpoint (an S3-compatible server); default: AWS")
    deploy.add_argument(
        "--region", help="AWS Region of the clients (S3, MWAA Serverless; default: the AWS configuration's)"
    )
    deploy.add_argument(
        "--project",
        default=Path("."),
        type=Path,
        help="folder holding pipelines/ and spark_jobs/, and dags/ and schemas/ if it has its own (else the "
        "installed dagen's are deployed; default: the current folder)",
    )
    deploy.set_defaults(run=run)


def _fail(err: TextIO, message: str, hint: str) -> None:
    err.write(f"dagen deploy: {message}\n" + (f"    hint: {hint}\n" if hint else ""))


def _validate(project: Path, airflow_version: str, out: TextIO) -> dict[str, bytes]:
    """The specs as ``dagen validate pipelines/`` reports them; any diagnostic stops the deploy.

    Returns the shipped build: each spec's compiled entry, keyed as the loader's compile cache keys it.
    """
    folder = project / "pipelines"
    if not folder.is_dir():
        raise BundleError(
            f"{folder.as_posix()} not found: no specs to deploy",
            "run dagen deploy in the repository (or pass --project) holding pipelines/",
        )
    profile, major = (MODERN, 3) if airflow_version.startswith("3.") else (LEGACY, 2)
    results = process([folder], profile=profile, airflow_major=major, root=project)
    if not results:
        raise DeployError(f"DG701 no pipeline specs (*.yaml, *.yml) under {folder.as_posix()}", "")
    diagnostics = sorted_unique(d for result in results for d in result.diagnostics)
    out.write(REPORTERS["text"](diagnostics, len(results)) + "\n")
    if diagnostics:
        raise DeployError(
            "the specs have errors (above); nothing was uploaded",
            "fix them (dagen validate pipelines/) and deploy again",
        )
    return shipped_entries(results)


def _check_parse_budget(
    args: argparse.Namespace, files: list[BundleFile], specs: int, out: TextIO, err: TextIO
) -> None:
    """Measure the loader's parse of the bundle; refuse (before any upload) when it exceeds the timeout."""
    if not args.parse_budget:
        out.write("parse budget: not measured (--no-parse-budget)\n")
        return
    if not airflow_importable():
        out.write("parse budget: not measured (Airflow is not installed in this environment)\n")
        return
    try:
        measured = measure(files)
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as error:
        raise DeployError(
            f"{LOADER}: the bundle's loader could not be parsed here: {error}; nothing was uploaded",
            "run `dagen validate pipelines/` and check that Airflow imports in this environment",
        ) from None
    result = verdict(measured, args.import_timeout, specs)
    if result.level == "refused" and not args.force:
        raise DeployError(f"{result.line}; nothing was uploaded", PARSE_BUDGET_HINT)
    if result.level == "ok":
        out.write(result.line + "\n")
    else:
        out.flush()
        forced = " (deploying anyway: --force)" if result.level == "refused" else ""
        _fail(err, f"warning: {result.line}{forced}", PARSE_BUDGET_HINT)


def _remote(
    client: Any, files: list[BundleFile], locations: dict[str, Location], retries: Retries
) -> dict[str, dict[str, RemoteObject]]:
    """What each prefix holds: one listing each, and a HEAD only where the listing cannot tell."""
    remote = {}
    for area, location in locations.items():
        local = {file.path: file for file in files if file.area == area}
        remote[area] = read_hashes(client, location, list_remote(client, location, retries), local, retries)
    return remote


def _execute(client: Any, plan: Plan, retries: Retries, out: TextIO, err: TextIO, on_step: OnStep | None) -> None:
    requirements_version: list[str] = []
    with progress(err, len(plan.operations)) as report:

        def after(done: int, step: Step, version: str | None) -> None:
            report(done, f"{step.action} {plan.uri(step)}{retries.text()}")
            if step.area == DAGS and step.path == "requirements.txt" and version:
                requirements_version.append(version)
            if on_step is not None:
                on_step(done, step)

        run_plan(client, plan, after, retries)
    out.write(plan.summary(dry_run=False) + "\n")
    for version in requirements_version:
        out.write(
            f"note: requirements.txt is now version {version}; MWAA installs it only when the environment is "
            f"updated with RequirementsS3ObjectVersion={version} (docs/deploying-stacks.md, step 4)\n"
        )


def deploy(args: argparse.Namespace, out: TextIO, err: TextIO, on_step: OnStep | None = None) -> int:
    """Validate, check, plan and (unless --dry-run) upload; raises BundleError/DeployError to refuse."""
    dags = Location(args.bucket, args.prefix or MWAA_PREFIX)
    scripts: Location | None = args.scripts_uri
    if scripts is not None and scripts.overlaps(dags):
        _fail(
            err,
            f"--scripts-uri {scripts.uri()} overlaps the DAGs folder {dags.uri()}",
            "use a folder outside the DAGs prefix: MWAA would parse the scripts as DAG files",
        )
        return 2
    project: Path = args.project
    refuse_links_out(project, with_scripts=scripts is not None)  # before validation reads any of them
    compiled = _validate(project, args.airflow_version, out)
    problem = bucket_name_problem(args.bucket)
    if problem is not None:
        raise problem
    files = build_bundle(
        project, args.airflow_version, package_dir=PACKAGE_DIR, with_scripts=scripts is not None, compiled=compiled
    )

    client = s3_client(region=args.region, endpoint_url=args.endpoint_url, max_attempts=args.max_attempts)
    retries = Retries()
    check_dags_bucket(client, args.bucket, retries)
    _check_parse_budget(args, files, len(compiled), out, err)
    locations = {DAGS: dags} if scripts is None else {DAGS: dags, SCRIPTS: scripts}
    if args.dry_run:
        _plan(client, files, locations, args, retries, out)
        return 0
    with deploy_lock(client, dags, retries, break_lock=args.break_lock):
        plan, manifest = _plan(client, files, locations, args, retries, out)
        for area, location in locations.items():  # recorded before the first upload: nothing of ours goes unlisted
            manifest.add(location.uri(), {file.path for file in files if file.area == area})
        write_manifest(client, dags, manifest, retries)
        _execute(client, plan, retries, out, err, on_step)
        manifest.switched_to(release_of_bundle(files))
        for step in plan.operations:
            if step.action == DELETE:
                manifest.remove(locations[step.area].uri(), {step.path})
        write_manifest(client, dags, manifest, retries)
    return 0


def _plan(
    client: Any,
    files: list[BundleFile],
    locations: dict[str, Location],
    args: argparse.Namespace,
    retries: Retries,
    out: TextIO,
) -> tuple[Plan, Manifest]:
    """Read the bucket (its manifest, its live release, what each prefix holds) and print the plan."""
    dags = locations[DAGS]
    manifest = read_manifest(client, dags, retries)
    managed = {area: manifest.paths(location.uri()) for area, location in locations.items()}
    kept = manifest.kept_releases(live_release(client, dags, retries))
    remote = _remote(client, files, locations, retries)
    plan = make_plan(files, remote, locations, prune=args.prune, managed=managed, kept_releases=kept)
    python = AIRFLOW_PYTHON[args.airflow_version]
    out.write(f"deploy to {dags.uri()} for MWAA Airflow {args.airflow_version} (Python {python})\n")
    scripts = locations.get(SCRIPTS)
    if scripts is None:
        out.write("scripts: not deployed (no --scripts-uri): spark_jobs/ is neither uploaded nor pruned\n")
    else:
        out.write(f"scripts: spark_jobs/*.py and *.ipynb to {scripts.uri()}\n")
    out.write("plan, in the order it runs:\n")
    out.writelines(line + "\n" for line in plan.lines())
    if args.dry_run:
        out.write(plan.summary(dry_run=True) + "\n")
    out.flush()
    return plan, manifest


def run(
    args: argparse.Namespace, *, on_step: OnStep | None = None, make_workflows_client: ClientFactory | None = None
) -> int:
    """The ``run`` of the ``deploy`` sub-command: 0 deployed, 1 refused or failed, 2 bad arguments.

    ``make_workflows_client`` makes the MWAA Serverless client (default :func:`workflows_client`; tests pass a
    stubbed one: moto has no backend for the service).
    """
    problem = target_problem(args)
    if problem is not None:
        _fail(sys.stderr, problem, "see dagen deploy --help")
        return 2
    try:
        if args.target == SERVERLESS:
            return deploy_serverless(args, sys.stdout, make_workflows_client or workflows_client)
        return deploy(args, sys.stdout, sys.stderr, on_step)
    except (BundleError, DeployError) as error:
        sys.stdout.flush()
        _fail(sys.stderr, error.message, error.hint)
        return 1


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="dagen")
    register(main_parser.add_subparsers(dest="command", required=True))
    return main_parser


def main(
    argv: Sequence[str] | None = None,
    *,
    on_step: OnStep | None = None,
    make_workflows_client: ClientFactory | None = None,
) -> int:
    """``dagen deploy ARGS``: ``argv`` are the arguments after ``deploy``."""
    args = parser().parse_args(["deploy", *(sys.argv[1:] if argv is None else argv)])
    return run(args, on_step=on_step, make_workflows_client=make_workflows_client)


if __name__ == "__main__":
    sys.exit(main())
