#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx); `npm run build` output in dist/ is used when present and NODE_ENV=production.
const path = require('node:path');
const fs = require('node:fs');
const built = path.join(__dirname, '..', 'dist', 'src', 'cli.js');
if (process.env.NODE_ENV === 'production' && fs.existsSync(built)) {
  require(built);
} else {
  require('tsx/cjs');
  require('../src/cli.ts');
}
