#!/usr/bin/env node
// The operator CLI. Runs the TypeScript sources through tsx so there is no build step to forget.
require('tsx/cjs');
require('../src/cli/index.ts');
