#!/usr/bin/env bash
# `npm test`: install what is missing, type-check, run every jest suite against real services, lint the
# synthesized templates, and run the short rehearsal. Ends with one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$(go env GOPATH)/bin:$PATH" CDK_DISABLE_CLI_TELEMETRY=true

echo "== type check"
npx tsc --noEmit

echo "== lint (eslint + prettier --check)"
npm run --silent lint

echo "== jest"
mkdir -p .rushhour
set +e
npx jest --ci --json --outputFile=.rushhour/jest.json "$@"
jest_rc=$?
set -e

echo "== cdk synth + cfn-lint"
bash scripts/cfn-lint.sh

if [ $# -eq 0 ]; then
  echo "== rehearsal (short)"
  node bin/rushhour.js rehearse --short --out .rushhour/rehearsal
  echo "== rehearsal of the example LAMP site (short)"
  node bin/rushhour.js rehearse --short --config examples/lamp-site/rushhour.config.json \
    --origin-site examples/lamp-site --origin-dump examples/lamp-site/course-selection-lamp.sql.gz \
    --plan examples/lamp-site/loadtest-plan.json --out .rushhour/rehearsal-lamp
fi

node -e '
const r = require("./.rushhour/jest.json");
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
'
exit $jest_rc
