"""Modules of the local-run test specs (their pipelines folder is tests/local_run/)."""
