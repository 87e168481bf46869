"""pytest setup for tests/cloudformation (runs in the tools venv only).

The helpers live in cfn_support.py beside this file; its folder is put on
sys.path so that the test modules can import it under any import mode.
"""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
