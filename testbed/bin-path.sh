#!/usr/bin/env bash
# Prints the directory of the test bed's built binaries (kubectl, helm, ...), e.g. "$(testbed/bin-path.sh)/kubectl".
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
echo "$TESTBED_BIN"
