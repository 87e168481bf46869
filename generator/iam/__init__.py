"""``dagen iam``: the least-privilege policy of the pipelines."""
