"""``dagen init``: start a new pipelines repository in one command (the files it writes: ``templates.py``)."""
