#!/usr/bin/env bash
# Prints the directory of the test bed's built binaries (kubectl, helm, ...), e.g. "$(testbed/bin-path.sh)/kubectl";
# with --checks, that of the checkers (kstatus, argolua, kube-score).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
if [ "${1:-}" = --checks ]; then echo "$CHECKS_BIN"; else echo "$TESTBED_BIN"; fi
