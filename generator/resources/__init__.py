"""Managed resources a pipeline creates and removes around its tasks (EMR clusters): their schema,
checks and lifecycle tasks."""
