#!/usr/bin/env bash
# Set up, build the knowledge base from data/, and open the explorer (http://localhost:8501).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/kb build
exec .venv/bin/streamlit run app.py --server.headless true "$@"
