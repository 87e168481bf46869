"""Functions the catalogue's python tasks call (`callable: catalogue_lib.tasks.summarise`)."""
