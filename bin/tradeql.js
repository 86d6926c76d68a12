#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx); under NODE_ENV=production, the compiled dist/ of `npm run build` while
// it is current (bin/entry.js).
const path = require('node:path');
const { chooseEntry } = require('./entry');

const choice = chooseEntry(path.join(__dirname, '..'), process.env.NODE_ENV === 'production');
if (choice.entry === 'dist') {
  require(choice.file);
} else {
  if (choice.warning) process.stderr.write(`tradeql: ${choice.warning}\n`);
  require('tsx/cjs');
  require('../src/cli.ts');
}
