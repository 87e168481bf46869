"""``dagen deploy --target mwaa-serverless``: each pipeline as an MWAA Serverless workflow.

Steps, each refusing with one line and a hint (exit 1) before anything is written
when it fails: validate every spec for the target (``process(..., target=
"mwaa-serverless")``: any diagnostic stops the deploy), turn each into its
workflow definition (:func:`generator.compile.serverless_workflow.workflow_yaml`),
check the workflow names and role ARNs, read what the bucket holds under the
prefix (one listing, a HEAD only where it cannot tell) and which workflows exist
(:mod:`generator.deploy.workflows`), print the plan; then, unless ``--dry-run``,
for each pipeline: upload its definition to ``s3://BUCKET/PREFIX/<dag_id>.yaml``
if its bytes changed, and create its workflow, update it (only when the
definition's SHA-256 differs from the workflow's ``dagen:definition-sha256``
tag), or leave it.  A failure part-way stops there and says what was done; a
rerun finishes the job (it uploads and updates only what still differs).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from generator.compile.pipelines import MWAA, SpecResult, process
from generator.compile.pipelines import MWAA_SERVERLESS as TARGET
from generator.compile.serverless_workflow import workflow_yaml
from generator.core.diagnostics import REPORTERS, sorted_unique
from generator.core.provider_profile import MODERN
from generator.deploy.bundle import DAGS, BundleFile, Phase, make_file
from generator.deploy.plan import ADD, CHANGE, Location, Plan, Step, same_content
from generator.deploy.s3 import DeployError, Retries, list_remote, read_hashes, run_step, s3_client
from generator.deploy.workflows import (
    DESCRIPTION_MAX,
    RETRY_HINT,
    ClientFactory,
    Request,
    Workflow,
    create_workflow,
    find_workflows,
    request_problem,
    update_workflow,
)

DEFAULT_PREFIX = "workflows/"
# What only the MWAA bundle has: refused with --target mwaa-serverless rather than silently ignored.
_MWAA_ONLY = {"scripts_uri": "--scripts-uri", "prune": "--prune", "break_lock": "--break-lock", "force": "--force"}
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


def add_target_arguments(deploy: argparse.ArgumentParser) -> None:
    """``dagen deploy``'s PATHS, ``--target`` and ``--role-arn``."""
    deploy.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATHS",
        help=f"with --target {TARGET}: the spec files or folders to deploy (default: pipelines/ of --project)",
    )
    deploy.add_argument(
        "--target",
        choices=(MWAA, TARGET),
        default=MWAA,
        help=f"{MWAA}: the bundle an MWAA environment parses (default); {TARGET}: one MWAA Serverless "
        "workflow per spec",
    )
    deploy.add_argument(
        "--role-arn",
        metavar="TEMPLATE",
        help=f"with --target {TARGET} (required): each workflow's execution role, '{{dag_id}}' replaced by the "
        "pipeline's DAG id, e.g. arn:aws:iam::123456789012:role/dagen-{dag_id} (the roles of "
        "`dagen iam --per-pipeline`)",
    )


def target_problem(args: argparse.Namespace) -> str | None:
    """Options of one target given to the other (a usage error, exit 2), or None."""
    if args.target == MWAA:
        if args.paths:
            return f"PATHS are for --target {TARGET}; the MWAA bundle deploys pipelines/ of --project"
        return f"--role-arn is for --target {TARGET}" if args.role_arn else None
    given = [option for dest, option in _MWAA_ONLY.items() if getattr(args, dest)]
    if given:
        return f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} not used by --target {TARGET}"
    return None if args.role_arn else f"--target {TARGET} needs --role-arn"


@dataclass(frozen=True)
class Pipeline:
    """One pipeline to deploy: its definition file and its workflow, as they are and as they will be."""

    request: Request
    file: BundleFile  # the definition, at DAGS/<dag_id>.yaml below the prefix
    upload: str | None  # ADD, CHANGE or None (the bucket holds these bytes)
    workflow: Workflow | None  # the existing workflow of that name

    @property
    def action(self) -> str:
        if self.workflow is None:
            return CREATED
        return UNCHANGED if self.workflow.definition_sha256 == self.request.sha256 else UPDATED


def _validated(paths: Sequence[Path], root: Path, out: TextIO) -> list[SpecResult]:
    missing = [path.as_posix() for path in paths if not path.exists()]
    if missing:
        raise DeployError(f"no such file or folder: {', '.join(missing)}", "")
    # Files are named relative to the project (the definition names its spec): the same bytes from any folder.
    results = process(list(paths), profile=MODERN, airflow_major=3, root=root, target=TARGET)
    if not results:
        raise DeployError(f"DG701 no pipeline specs (*.yaml, *.yml) under {', '.join(p.as_posix() for p in paths)}", "")
    diagnostics = sorted_unique(d for result in results for d in result.diagnostics)
    out.write(REPORTERS["text"](diagnostics, len(results)) + "\n")
    if diagnostics or any(result.config is None for result in results):
        raise DeployError(
            f"the specs have errors for {TARGET} (above); nothing was uploaded and no workflow was changed",
            "fix them and deploy again",
        )
    return results


def _description(result: SpecResult) -> str | None:
    text = result.spec.description if result.spec is not None else (result.config or {}).get("description")
    text = " ".join(str(text or "").split())
    return text[:DESCRIPTION_MAX] or None


def _requests(results: list[SpecResult], location: Location, role_template: str) -> list[tuple[Request, BundleFile]]:
    """Each pipeline's definition and request, in DAG id order; refuses a name or role MWAA Serverless refuses."""
    pairs = []
    for result in sorted(results, key=lambda r: r.dag_id):
        assert result.config is not None
        try:
            content = workflow_yaml(result.dag_id, result.config).encode("utf-8")
        except ValueError as error:  # what the target's checks should have refused: a dagen bug, not a traceback
            raise DeployError(
                f"{result.file}: cannot write its MWAA Serverless workflow: {error}; nothing was uploaded",
                "the target's checks should have refused this spec: please report it",
            ) from None
        file = make_file(DAGS, f"{result.dag_id}.yaml", content, Phase.OTHER, result.file)
        request = Request(
            name=result.dag_id,
            bucket=location.bucket,
            key=location.key(file.path),
            role_arn=role_template.replace("{dag_id}", result.dag_id),
            description=_description(result),
            sha256=file.sha256,
        )
        problem = request_problem(request)
        if problem is not None:
            raise DeployError(
                f"{result.file}: {problem}; nothing was uploaded",
                "--role-arn is an IAM role ARN in which {dag_id} is replaced by each pipeline's DAG id",
            )
        pairs.append((request, file))
    return pairs


def _plan(
    pairs: list[tuple[Request, BundleFile]], s3: Any, api: Any, location: Location, retries: Retries
) -> list[Pipeline]:
    """What each pipeline needs: one listing of the prefix (a HEAD where it cannot tell), the workflows' tags."""
    local = {file.path: file for _, file in pairs}
    remote = read_hashes(s3, location, list_remote(s3, location, retries), local, retries)
    workflows = find_workflows(api, {request.name for request, _ in pairs})
    pipelines = []
    for request, file in pairs:
        there = remote.get(file.path)
        upload = ADD if there is None else (None if same_content(file, there) else CHANGE)
        workflow = workflows.get(request.name)
        if workflow is not None and workflow.status == "DELETING":
            raise DeployError(
                f"workflow {request.name} is being deleted; nothing was uploaded", "deploy again once it is gone"
            )
        pipelines.append(Pipeline(request=request, file=file, upload=upload, workflow=workflow))
    return pipelines


def _plan_lines(pipelines: list[Pipeline], location: Location) -> list[str]:
    lines = []
    for pipeline in pipelines:
        request = pipeline.request
        if pipeline.upload is not None:
            lines.append(f"  upload    {location.uri(pipeline.file.path)}  ({pipeline.file.source})")
        if pipeline.action == CREATED:
            lines.append(f"  create    workflow {request.name}  (role {request.role_arn})")
        elif pipeline.action == UPDATED:
            lines.append(f"  update    workflow {request.name}  (definition sha256 {request.sha256[:12]})")
        else:
            assert pipeline.workflow is not None
            lines.append(f"  unchanged workflow {request.name}  (version {pipeline.workflow.version})")
    return lines


def _done_so_far(uploaded: int, outcomes: list[str]) -> str:
    done = ", ".join(outcomes) if outcomes else "no workflow changed"
    return f"so far: {uploaded} definition(s) uploaded; {done}. {RETRY_HINT}"


def _execute(pipelines: list[Pipeline], s3: Any, api: Any, location: Location, out: TextIO) -> tuple[int, dict]:
    """Per pipeline: upload (if changed), then create or update; the first failure stops, saying what was done."""
    plan = Plan(steps=(), locations={DAGS: location}, prune=False)
    retries = Retries()
    uploaded = 0
    outcomes: list[str] = []
    counts = {CREATED: 0, UPDATED: 0, UNCHANGED: 0}
    for pipeline in pipelines:
        request = pipeline.request
        try:
            if pipeline.upload is not None:
                run_step(s3, plan, Step(pipeline.upload, DAGS, pipeline.file.path, pipeline.file), retries)
                uploaded += 1
            hint = _done_so_far(uploaded, outcomes)
            if pipeline.action == CREATED:
                version = create_workflow(api, request, hint)
            elif pipeline.action == UPDATED:
                assert pipeline.workflow is not None
                version = update_workflow(api, pipeline.workflow, request, hint)
            else:
                assert pipeline.workflow is not None
                version = str(pipeline.workflow.version)
        except DeployError as error:
            raise DeployError(error.message, error.hint or _done_so_far(uploaded, outcomes)) from None
        counts[pipeline.action] += 1
        if pipeline.action != UNCHANGED:
            outcomes.append(f"{request.name} {pipeline.action}")
        out.write(f"{request.name}: {pipeline.action}, version {version}\n")
        out.flush()
    return uploaded, counts


def deploy_serverless(args: argparse.Namespace, out: TextIO, make_client: ClientFactory) -> int:
    """Validate, plan and (unless --dry-run) upload and create/update; raises DeployError to refuse or stop."""
    paths: list[Path] = list(args.paths) or [args.project / "pipelines"]
    location = Location(args.bucket, args.prefix or DEFAULT_PREFIX)
    pairs = _requests(_validated(paths, args.project, out), location, args.role_arn)
    s3 = s3_client(region=args.region, endpoint_url=args.endpoint_url, max_attempts=args.max_attempts)
    api = make_client(region=args.region, max_attempts=args.max_attempts)
    pipelines = _plan(pairs, s3, api, location, Retries())
    out.write(f"deploy {len(pipelines)} workflow(s) to MWAA Serverless, definitions in {location.uri()}\n")
    out.write("plan, in the order it runs:\n")
    out.writelines(line + "\n" for line in _plan_lines(pipelines, location))
    to_upload = sum(1 for p in pipelines if p.upload is not None)
    if args.dry_run:
        would = {action: sum(1 for p in pipelines if p.action == action) for action in (CREATED, UPDATED, UNCHANGED)}
        out.write(
            f"dry run: {to_upload} definition(s) to upload, {would[CREATED]} workflow(s) to create, "
            f"{would[UPDATED]} to update, {would[UNCHANGED]} unchanged; nothing was written\n"
        )
        return 0
    out.flush()
    uploaded, counts = _execute(pipelines, s3, api, location, out)
    out.write(
        f"{uploaded} definition(s) uploaded; {counts[CREATED]} workflow(s) created, {counts[UPDATED]} updated, "
        f"{counts[UNCHANGED]} unchanged\n"
    )
    return 0
