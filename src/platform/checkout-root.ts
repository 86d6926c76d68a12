/** The folder holding package.json: where schema.graphql and the built web pages are, run from src/ or from dist/src/. */
import fs from 'node:fs';
import path from 'node:path';

export function checkoutRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}
