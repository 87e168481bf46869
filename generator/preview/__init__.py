"""``dagen preview``: the DAG the loader would build, as text, diagrams, JSON or HTML, and its diff."""
