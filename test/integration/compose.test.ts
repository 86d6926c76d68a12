/**
 * docker-compose.yml and docker/nginx.conf, read as files (no Docker needed): the services and their order, where the
 * gateways' URLs point, that only the load balancer is published, that nginx balances /graphql (WebSockets included)
 * over both gateways, and that every variable the gateways get is one src/config.ts reads and the README documents.
 * test/integration/deployment.test.ts runs the same topology as processes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const ROOT = path.join(__dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: unknown[];
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
};

// Compose resolves YAML merge keys (<<: *anchor): so must the parser.
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const GATEWAYS = ['gateway-1', 'gateway-2'];
const LB = 'lb';

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => {
      const at = entry.indexOf('=');
      return at < 0 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function dependsOn(service: Service): Record<string, string | undefined> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, undefined]));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d?.condition]));
}

/** The keys of ConfigSchema in src/config.ts: the variables the gateway reads. */
function configKeys(): string[] {
  const source = read('src/config.ts');
  const start = source.indexOf('const ConfigSchema = z.object({');
  expect(start).toBeGreaterThanOrEqual(0);
  const body = source.slice(start, source.indexOf('\n});', start));
  return [...body.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]);
}

/** The variables named in the README's configuration table (first column, `A`, `B` allowed). */
function documentedKeys(): string[] {
  const readme = read('README.md');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
  return table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]));
}

// --- a small nginx configuration reader: directives with their arguments and blocks --------------------------------

interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}

function parseNginx(text: string): Directive[] {
  const tokens: string[] = [];
  const re = /#[^\n]*|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([{};])|([^\s{};'"#]+)/g;
  for (const m of text.matchAll(re)) {
    if (m[0].startsWith('#')) continue;
    tokens.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
  }
  let i = 0;
  const block = (): Directive[] => {
    const out: Directive[] = [];
    while (i < tokens.length && tokens[i] !== '}') {
      const words: string[] = [];
      while (i < tokens.length && tokens[i] !== ';' && tokens[i] !== '{') words.push(tokens[i++]);
      if (tokens[i] === '{') {
        i++;
        const inner = block();
        if (tokens[i++] !== '}') throw new Error(`unclosed block ${words.join(' ')}`);
        out.push({ name: words[0], args: words.slice(1), block: inner });
      } else {
        if (tokens[i++] !== ';') throw new Error(`unterminated directive ${words.join(' ')}`);
        out.push({ name: words[0], args: words.slice(1) });
      }
    }
    return out;
  };
  const top = block();
  if (i < tokens.length) throw new Error('unbalanced }');
  return top;
}

const all = (ds: Directive[] | undefined, name: string) => (ds ?? []).filter((d) => d.name === name);
const one = (ds: Directive[] | undefined, name: string) => all(ds, name)[0];

/** nginx time ("1h", "90s", "500ms", "60") in seconds. */
function seconds(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value);
  if (!m) throw new Error(`not an nginx time: ${value}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

describe('docker-compose.yml', () => {
  it('has the primary, its replica, Redis, the migration, two gateways and the load balancer', () => {
    for (const name of ['postgres', 'postgres-replica', 'redis', 'migrate', ...GATEWAYS, LB]) expect(services[name]).toBeDefined();
    expect(services.postgres.image).toBe('postgres:15');
    expect(services['postgres-replica'].image).toBe('postgres:15');
    expect(services[LB].image).toBe('nginx:1.27');
    expect(services.migrate.command).toEqual(['node', 'bin/tradeql.js', 'migrate']);
    // The replica clones the primary on first start.
    expect(read('docker/replica-entrypoint.sh')).toMatch(/pg_basebackup[^\n]*--write-recovery-conf/);
  });

  it('runs both gateways from the same image with the same settings, ready when /readyz says so', () => {
    const [one1, two] = GATEWAYS.map((name) => services[name]);
    expect(two).toEqual(one1);
    expect(one1.image).toBeTruthy();
    expect(one1.image).toBe(services.migrate.image);
    expect(one1.command).toEqual(['node', 'bin/tradeql.js', 'serve']);
    const test = one1.healthcheck?.test;
    expect(Array.isArray(test) ? test.join(' ') : test).toMatch(/\/readyz/);
    expect(one1.healthcheck?.disable).not.toBe(true);
  });

  it('starts the gateways after the migration has completed and once the replica and Redis are healthy', () => {
    for (const name of GATEWAYS) {
      expect(dependsOn(services[name])).toEqual({
        migrate: 'service_completed_successfully',
        'postgres-replica': 'service_healthy',
        redis: 'service_healthy',
      });
    }
    expect(dependsOn(services.migrate)).toEqual({ postgres: 'service_healthy' });
    expect(dependsOn(services[LB])).toEqual(Object.fromEntries(GATEWAYS.map((g) => [g, 'service_healthy'])));
  });

  it('points the gateways at the primary, the replica and Redis services', () => {
    for (const name of GATEWAYS) {
      const env = environment(services[name]);
      expect(new URL(env.DATABASE_URL).host).toBe('postgres:5432');
      const replicas = env.DATABASE_REPLICA_URLS.split(',').map((u) => new URL(u.trim()));
      expect(replicas.map((u) => u.host)).toEqual(['postgres-replica:5432']);
      // The same database on the replica as on the primary.
      expect(replicas[0].pathname).toBe(new URL(env.DATABASE_URL).pathname);
      expect(new URL(env.REDIS_URL).host).toBe('redis:6379');
      expect(env.PORT).toBe('4000');
      expect(env.HOST).toBe('0.0.0.0');
    }
    expect(environment(services.migrate).DATABASE_URL).toBe(environment(services['gateway-1']).DATABASE_URL);
  });

  it('publishes a port for the load balancer only: 4000', () => {
    const published = Object.entries(services).filter(([, s]) => (s.ports ?? []).length > 0).map(([name]) => name);
    expect(published).toEqual([LB]);
    expect((services[LB].ports ?? []).map(String)).toEqual(['4000:4000']);
  });

  it('gives the gateways only variables that src/config.ts reads and the README documents', () => {
    const known = new Set(configKeys());
    const documented = new Set(documentedKeys());
    // The parsers found the lists at all.
    expect(known.has('DATABASE_URL') && known.has('SLOW_QUERY_MS')).toBe(true);
    expect(documented.has('DATABASE_URL') && documented.has('SLOW_QUERY_MS')).toBe(true);
    for (const name of [...GATEWAYS, 'migrate']) {
      const keys = Object.keys(environment(services[name]));
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((k) => !known.has(k))).toEqual([]);
      expect(keys.filter((k) => !documented.has(k))).toEqual([]);
    }
    // And the README leaves none of the config's variables out.
    expect([...known].filter((k) => !documented.has(k))).toEqual([]);
  });
});

describe('docker/nginx.conf', () => {
  const volume = (services[LB].volumes ?? []).find((v) => v.startsWith('./docker/nginx.conf:'));
  const conf = parseNginx(read('docker/nginx.conf'));
  const server = one(conf, 'server');
  const location = (uri: string) => all(server?.block, 'location').find((l) => l.args.join(' ') === `= ${uri}`);
  /** proxy_set_header in effect in a location: its own if it has any, else the server's (nginx's inheritance). */
  const headers = (loc: Directive) => {
    const own = all(loc.block, 'proxy_set_header');
    const set = own.length ? own : all(server?.block, 'proxy_set_header');
    return Object.fromEntries(set.map((d) => [d.args[0].toLowerCase(), d.args[1]]));
  };
  /** A directive of a location, or the server's when the location does not set it. */
  const setting = (loc: Directive, name: string) => (one(loc.block, name) ?? one(server?.block, name))?.args;

  it('exists and is mounted into the load balancer', () => {
    expect(volume).toBe('./docker/nginx.conf:/etc/nginx/conf.d/default.conf:ro');
    expect(server).toBeDefined();
    expect(setting(server!, 'listen')).toEqual(['4000']);
  });

  it('balances /graphql round robin over both gateways, with WebSocket upgrades and long read timeouts', () => {
    const graphql = location('/graphql');
    expect(graphql).toBeDefined();
    const target = /^http:\/\/([^/]+)$/.exec(setting(graphql!, 'proxy_pass')?.[0] ?? '');
    expect(target).not.toBeNull();
    const upstream = all(conf, 'upstream').find((u) => u.args[0] === target![1]);
    expect(upstream).toBeDefined();
    expect(all(upstream!.block, 'server').map((s) => s.args[0])).toEqual(['gateway-1:4000', 'gateway-2:4000']);
    // No other balancing method: round robin.
    for (const method of ['ip_hash', 'hash', 'least_conn', 'random']) expect(one(upstream!.block, method)).toBeUndefined();

    expect(setting(graphql!, 'proxy_http_version')).toEqual(['1.1']);
    const h = headers(graphql!);
    expect(h.upgrade).toBe('$http_upgrade');
    // Connection: "upgrade" for a WebSocket handshake.
    const connection = h.connection;
    expect(connection).toMatch(/^\$/);
    const map = all(conf, 'map').find((m) => m.args[0] === '$http_upgrade' && m.args[1] === connection);
    expect(map).toBeDefined();
    expect(one(map!.block, 'default')?.args).toEqual(['upgrade']);

    expect(seconds(setting(graphql!, 'proxy_read_timeout')![0])).toBeGreaterThanOrEqual(3600);
    expect(seconds(setting(graphql!, 'proxy_send_timeout')![0])).toBeGreaterThanOrEqual(3600);
    // Bodies as large as the gateway's own limit (MAX_BODY_BYTES, 10 MiB) get through.
    expect(setting(graphql!, 'client_max_body_size')).toEqual(['10m']);
  });

  it('passes X-Request-Id and X-Consistency-Token through, and proxies /healthz and /readyz', () => {
    for (const uri of ['/graphql', '/healthz', '/readyz']) {
      const loc = location(uri);
      expect(loc).toBeDefined();
      expect(setting(loc!, 'proxy_pass')).toEqual(setting(location('/graphql')!, 'proxy_pass'));
      const h = headers(loc!);
      expect(h['x-consistency-token']).toBe('$http_x_consistency_token');
      // The client's id, or nginx's own when it sent none.
      const map = all(conf, 'map').find((m) => m.args[0] === '$http_x_request_id' && m.args[1] === h['x-request-id']);
      expect(map).toBeDefined();
      expect(one(map!.block, 'default')?.args).toEqual(['$http_x_request_id']);
    }
  });

  it('skips a gateway that cannot be reached or is shutting down, never resends a POST, and does not serve /metrics', () => {
    expect(setting(location('/graphql')!, 'proxy_next_upstream')).toEqual(expect.arrayContaining(['error']));
    expect(setting(location('/graphql')!, 'proxy_next_upstream')).not.toContain('non_idempotent');
    // A draining gateway's 503 (nothing ran) takes it out of the rotation.
    expect(setting(location('/graphql')!, 'proxy_next_upstream')).toContain('http_503');
    expect(location('/metrics')).toBeUndefined();
    const fallback = all(server!.block, 'location').find((l) => l.args.join(' ') === '/');
    expect(fallback && one(fallback.block, 'proxy_pass')).toBeUndefined();
  });
});
