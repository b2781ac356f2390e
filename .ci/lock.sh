#!/usr/bin/env bash
# Refresh constraints.txt: resolve the newest allowed versions into a fresh venv, run the README's
# tests against them, and only then write the new pins. Run on the CI machine kind (x86-64 Linux).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
VENV=.venv-lock
rm -rf "$VENV"
python3 -m venv "$VENV"
. "$VENV/bin/activate"
pip install -q --upgrade pip
pip install -q -e '.[dev]'   # no -c: whatever resolves today
python -m pytest
{
  echo "# Versions tested together (make lock writes this file; see README, Reproducible installs)."
  echo "# Python $(python -c 'import platform; print(platform.python_version())'), $(uname -m), $(date -u +%Y-%m-%d)."
  pip freeze --exclude-editable | grep -v '^#' | grep -viE '^(pip|setuptools|wheel)=='
} >constraints.txt
echo "constraints.txt refreshed: $(grep -vc '^#' constraints.txt) pins"
