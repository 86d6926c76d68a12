// Which code bin/tradeql.js runs: the TypeScript sources (through tsx), or under NODE_ENV=production the compiled
// dist/ of `npm run build`, but only while dist/ is current. A checkout whose sources changed after its last build
// would otherwise run the old code without a word: then the sources run, with a warning.
const fs = require('node:fs');
const path = require('node:path');

/** The directories `npm run build` compiles (tsconfig.build.json), each into dist/<dir>. */
const COMPILED = ['src', 'migrations'];

/** The first source under `dir` whose compiled file is missing or older than it, or null. */
function staleSource(root, dir) {
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = staleSource(root, rel);
      if (found) return found;
    } else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      const out = path.join(root, 'dist', rel.replace(/\.ts$/, '.js'));
      let built;
      try {
        built = fs.statSync(out).mtimeMs;
      } catch {
        return rel;
      }
      if (fs.statSync(path.join(root, rel)).mtimeMs > built) return rel;
    }
  }
  return null;
}

/** { entry: 'dist', file } or { entry: 'src', warning? } for the checkout at `root`. */
function chooseEntry(root, production) {
  const file = path.join(root, 'dist', 'src', 'cli.js');
  if (!production || !fs.existsSync(file)) return { entry: 'src' };
  for (const dir of COMPILED) {
    if (!fs.existsSync(path.join(root, dir))) continue;
    const stale = staleSource(root, dir);
    if (stale) return { entry: 'src', warning: `dist/ is older than ${stale}: running the sources (npm run build compiles them again)` };
  }
  return { entry: 'dist', file };
}

module.exports = { chooseEntry };
