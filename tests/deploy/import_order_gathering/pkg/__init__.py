"""A package for the upload-order test: typing-only imports and a package that gathers its modules."""
