#!/usr/bin/env bash
# Synthesize offline (no credentials, no lookups) and lint every template with cfn-lint: the reference
# example (examples/rushhour.config.json) and the PHP example (examples/lamp-site.config.json, web.site php).
set -euo pipefail
cd "$(dirname "$0")/.."
export CDK_DISABLE_CLI_TELEMETRY=true
rm -rf cdk.out
npx cdk synth --no-notices -q > /dev/null
scripts/pack-example-site.sh > /dev/null
npx cdk synth --no-notices -q -c config=examples/lamp-site.config.json -o cdk.out/lamp-site > /dev/null
# W3005 (DependsOn already implied by a Ref/GetAtt) is how aws-cdk-lib writes dependencies on purpose.
cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json cdk.out/lamp-site/*.template.json
echo "cfn-lint: $(ls cdk.out/*.template.json cdk.out/lamp-site/*.template.json | wc -l) templates clean"
