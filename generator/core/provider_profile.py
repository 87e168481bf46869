"""What the installed apache-airflow-providers-amazon accepts.

The compiler targets two provider lines: 9.34 (MWAA 3.3.1) and 9.0 (MWAA
2.10.3).  Lowering asks the profile instead of guessing, and a test checks
every keyword it emits against the real operator signatures of each lane.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ProviderProfile:
    name: str
    # Every EMR operator and sensor takes region_name (AwsBaseOperator); on 9.0
    # only some do, so the region then comes from the connection for all of them.
    region_on_every_operator: bool
    # GlueJobOperator's deferrable wait is driven by waiter_delay/waiter_max_attempts.
    glue_waiter_arguments: bool
    # GlueCrawlerRunOperator starts an existing crawler without rewriting its config.
    crawler_run_operator: bool
    # GlueDataQualityHook logs the rule results as a table only when pandas is installed (on 9.0 it imports
    # pandas unconditionally and fails the task without it).
    data_quality_results_without_pandas: bool
    # The lane has apache-airflow-providers-standard, home of PythonOperator (Airflow 3's lane; on 2.10 it is
    # airflow.operators.python).
    standard_provider: bool


MODERN = ProviderProfile(
    name="9.34",
    region_on_every_operator=True,
    glue_waiter_arguments=True,
    crawler_run_operator=True,
    data_quality_results_without_pandas=True,
    standard_provider=True,
)
LEGACY = ProviderProfile(
    name="9.0",
    region_on_every_operator=False,
    glue_waiter_arguments=False,
    crawler_run_operator=False,
    data_quality_results_without_pandas=False,
    standard_provider=False,
)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def profile_for(version: str) -> ProviderProfile:
    """The profile for a provider version; anything older than 9.34 gets the safe subset."""
    return MODERN if _version_tuple(version) >= (9, 34) else LEGACY


def installed_profile() -> ProviderProfile:
    """The profile of the provider installed here (the newest one if none is)."""
    try:
        from airflow.providers.amazon import __version__
    except ImportError:
        return MODERN
    return profile_for(__version__)
