"""``glue_data_quality`` with ``ruleset``: make the ruleset the pipeline owns exist, with the spec's rules.

``<task>_ruleset`` runs :class:`EnsureDataQualityRulesetOperator` before the evaluation.  It asks
GetDataQualityRuleset first:

* the ruleset is missing (EntityNotFoundException): CreateDataQualityRuleset, targeting the task's table;
* it exists with other rules: UpdateDataQualityRuleset (its rules and description; Glue does not change a
  ruleset's target table after it is made);
* it exists with the same rules (made by an earlier run, or by an earlier try of this run whose response
  was lost): nothing is called.

Two tries racing (a lost worker) end the same way: a CreateDataQualityRuleset answered
``AlreadyExistsException`` is a ruleset that exists, compared and updated as above.  A retry is therefore
always safe.  The task returns the ruleset's name.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.glue import GlueDataQualityOperator
from botocore.exceptions import ClientError


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class EnsureDataQualityRulesetOperator(GlueDataQualityOperator):  # type: ignore[misc]
    """``GlueDataQualityOperator`` that creates a missing ruleset, updates one whose rules differ, else does nothing."""

    def execute(self, context: Any) -> str:
        rules = str(getattr(self, "ruleset", "")).strip()  # a template field: strip the rendered value
        self.ruleset = rules
        self.validate_inputs()
        existing = self._existing_rules()
        if existing is None:
            try:
                self.hook.conn.create_data_quality_ruleset(
                    Name=self.name,
                    Ruleset=self.ruleset,
                    Description=self.description,
                    **self.data_quality_ruleset_kwargs,
                )
                self.log.info("Glue Data Quality ruleset %s created", self.name)
                return str(self.name)
            except ClientError as error:
                if _code(error) != "AlreadyExistsException":
                    raise
                existing = self._existing_rules()
                if existing is None:
                    raise
        if existing.strip() == rules:
            self.log.info("Glue Data Quality ruleset %s exists with these rules: not updated", self.name)
            return str(self.name)
        self.hook.conn.update_data_quality_ruleset(Name=self.name, Ruleset=rules, Description=self.description)
        self.log.info("Glue Data Quality ruleset %s updated: its rules differed", self.name)
        return str(self.name)

    def _existing_rules(self) -> str | None:
        try:
            return str(self.hook.conn.get_data_quality_ruleset(Name=self.name).get("Ruleset", ""))
        except ClientError as error:
            if _code(error) == "EntityNotFoundException":
                return None
            raise
