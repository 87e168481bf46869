"""Guards each Python process a ``dagen run --local`` task starts: this folder leads its ``PYTHONPATH``.

Python imports ``sitecustomize`` at start-up; this one installs the run's network guard
(:mod:`generator.local.network_guard`, standard library only: it imports in any Python 3 the task
starts, a virtualenv's too), then runs the ``sitecustomize`` it hides, if there is one.
"""

import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))

sys.path.insert(0, _PACKAGE_PARENT)
try:
    from generator.local.network_guard import NetworkGuard
finally:
    sys.path.remove(_PACKAGE_PARENT)
NetworkGuard().install()

_hidden = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]
)
if _hidden is not None and _hidden.loader is not None:
    _module = importlib.util.module_from_spec(_hidden)
    _hidden.loader.exec_module(_module)
