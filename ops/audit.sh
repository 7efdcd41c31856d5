#!/usr/bin/env bash
# make audit: pip-audit over the installed dependencies (the locked ones), against PyPI's
# vulnerability data. Known vulnerabilities we accept go in ops/audit-ignore.txt, one
# "ID  reason" per line. Where PyPI's per-release JSON API cannot be reached (a proxy serving
# only the simple index and unversioned JSON, as on the development machines, where every
# /pypi/NAME/VERSION/json is 404), it says so and passes unless AUDIT_REQUIRED=1: pip-audit would
# otherwise skip every package and still print "No known vulnerabilities found". It then runs
# ops/audit_latest.py, a partial check of the installed releases that are PyPI's latest.
set -euo pipefail
cd "$(dirname "$0")/.."
probe=https://pypi.org/pypi/pip/24.0/json  # the per-release endpoint pip-audit reads
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 20 --retry 3 "$probe" || true)
if [ "$code" != 200 ]; then
  echo "pip-audit NOT RUN: PyPI's vulnerability API ($probe) answered '${code:-nothing}' from here."
  # PyPI's project JSON still lists the latest release's vulnerabilities: check what it can.
  .venv/bin/python ops/audit_latest.py
  [ "${AUDIT_REQUIRED:-0}" = 1 ] && exit 1
  exit 0
fi
ignores=()
while read -r id _; do
  [ -n "$id" ] && [ "${id:0:1}" != "#" ] && ignores+=(--ignore-vuln "$id")
done < ops/audit-ignore.txt
.venv/bin/pip-audit --strict --skip-editable --progress-spinner off "${ignores[@]}"
