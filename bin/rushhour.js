#!/usr/bin/env node
// The operator CLI. Runs the TypeScript sources through tsx's require hook, so there is no build step to
// forget. (Only require() is hooked: a dynamic import() of a .ts file fails here, so the sources use static imports.)
require('tsx/cjs');
require('../src/cli/index.ts');
