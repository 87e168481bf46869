"""A package for the upload-order test: its path order is not its import order."""
