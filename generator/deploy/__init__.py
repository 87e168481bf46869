"""``dagen deploy``: validate, bundle, measure the parse, upload only what changed, in a safe order."""
