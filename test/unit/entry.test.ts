/** bin/entry.js: under NODE_ENV=production the compiled dist/ runs only while no source is newer than its output. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const { chooseEntry } = require('../../bin/entry.js') as { chooseEntry(root: string, production: boolean): { entry: string; file?: string; warning?: string } };

let root: string;
const T0 = new Date('2026-01-01T00:00:00Z');
const later = (s: number) => new Date(T0.getTime() + s * 1000);

function write(rel: string, at: Date): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
  fs.utimesSync(file, at, at);
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tradeql-entry-'));
  write('src/cli.ts', T0);
  write('src/server/gateway.ts', T0);
  write('migrations/Migration1.ts', T0);
});

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function build(at: Date): void {
  for (const rel of ['dist/src/cli.js', 'dist/src/server/gateway.js', 'dist/migrations/Migration1.js']) write(rel, at);
}

describe('chooseEntry', () => {
  it('runs the sources outside production, and in production without a build', () => {
    build(later(10));
    expect(chooseEntry(root, false)).toEqual({ entry: 'src' });
    fs.rmSync(path.join(root, 'dist'), { recursive: true });
    expect(chooseEntry(root, true)).toEqual({ entry: 'src' });
  });

  it('runs dist/ in production while every output is newer than its source', () => {
    build(later(10));
    expect(chooseEntry(root, true)).toEqual({ entry: 'dist', file: path.join(root, 'dist', 'src', 'cli.js') });
  });

  it('runs the sources, with a warning, once a source is newer than its output', () => {
    build(later(10));
    write('src/server/gateway.ts', later(20));
    expect(chooseEntry(root, true)).toEqual({ entry: 'src', warning: expect.stringContaining(path.join('src', 'server', 'gateway.ts')) });
  });

  it('runs the sources when a source has no output (added after the build), migrations included', () => {
    build(later(10));
    write('migrations/Migration2.ts', T0);
    expect(chooseEntry(root, true)).toEqual({ entry: 'src', warning: expect.stringContaining(path.join('migrations', 'Migration2.ts')) });
  });
});
