#!/usr/bin/env bash
# Print the path of a Python interpreter of the given minor version (e.g. 3.12):
# pythonX.Y on PATH if it runs, else a pyenv-installed one. Never downloads anything.
set -euo pipefail
want="$1"
if command -v "python$want" >/dev/null 2>&1 && "python$want" -c 'import sys' >/dev/null 2>&1; then
  command -v "python$want"; exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
  version=$(pyenv versions --bare 2>/dev/null | grep -E "^${want//./\\.}(\.[0-9]+)?$" | sort -V | tail -n 1 || true)
  if [ -n "$version" ]; then PYENV_VERSION="$version" pyenv which "python$want"; exit 0; fi
fi
echo "error: Python $want is needed (python$want on PATH or installed with pyenv)" >&2
exit 1
