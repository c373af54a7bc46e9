#!/usr/bin/env bash
# The static gate: ruff (pyflakes, isort, bugbear, pyupgrade), mypy (strict on models/, server/http/,
# face/) and the import-linter contracts, all configured in pyproject.toml. .ci/run runs it before the
# tests; any failure fails CI. Uses the tools of the active environment (or of $VENV_BIN, e.g.
# VENV_BIN=/opt/vets-venv/bin scripts/lint.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -n "${VENV_BIN:-}" ]; then PATH="$VENV_BIN:$PATH"; fi
status=0
echo "--- ruff check";    ruff check --output-format concise . || status=1
echo "--- mypy";          mypy || status=1
echo "--- import-linter"; lint-imports --no-cache || status=1
exit $status
