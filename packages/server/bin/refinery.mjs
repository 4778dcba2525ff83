#!/usr/bin/env node
// The `refinery` command: the CLI as built into dist/ (`npm run build`; in the repository, `npm ci` runs it).
import '../dist/cli.js';
