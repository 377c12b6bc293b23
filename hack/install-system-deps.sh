#!/usr/bin/env bash
# Installs the system packages the tests need when they are missing (a fresh machine has none of them):
# openssl (test-bed certificates), iproute2 and util-linux (the node agent's network namespaces: ip, nsenter),
# curl, git (the generated model is published as a git repository) and Debian's prometheus (promtool for rule
# checks; the e2e server is built with Kubernetes discovery, which Debian's lacks: testbed/prometheus/build.sh).
set -euo pipefail
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-deps: need ${missing[*]}; run as root or install them: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "install-system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the packaged prometheus service from starting: tests run their own server.
  made_policy=false
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=true
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if $made_policy; then rm -f /usr/sbin/policy-rc.d; fi
fi
command -v go >/dev/null 2>&1 || { echo "install-system-deps: Go is required to build the test bed" >&2; exit 1; }
echo "install-system-deps: ok ($(go version | cut -d' ' -f3), $(promtool --version 2>&1 | head -1 | cut -d' ' -f1-3))"
