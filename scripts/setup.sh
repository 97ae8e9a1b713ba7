#!/usr/bin/env bash
# Create .venv in the repo root and install kb with its pinned dependencies (idempotent).
# Quiet on success (one line); on failure pip's own output is shown, so errors are never hidden.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_WARN_SCRIPT_LOCATION=1 \
       PIP_PROGRESS_BAR=off PIP_NO_INPUT=1
log=$(mktemp "${TMPDIR:-/tmp}/kb-setup.XXXXXX")
trap 'rm -f "$log"' EXIT
run() {
  if ! "$@" >>"$log" 2>&1; then
    echo "setup.sh: '$*' failed; its output follows" >&2
    grep -v -e '^\s*$' "$log" | tail -n 80 >&2
    exit 1
  fi
}
if [ ! -x .venv/bin/python ]; then
  run "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >>"$log" 2>&1 || true  # offline is fine
run .venv/bin/python -m pip install --quiet -e '.[test]'
echo "kb installed in .venv ($(.venv/bin/python -m pip list --format=freeze 2>/dev/null | wc -l) packages); run: .venv/bin/kb --help"
