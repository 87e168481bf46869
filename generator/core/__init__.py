"""The vocabulary every phase shares: the one Diagnostic type, the spec model, templates, value formats,
schema building blocks, the provider profile and the lowering context.  Imports nothing else of dagen."""
