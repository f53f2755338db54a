/**
 * The Prometheus configurations and rule files, checked by Prometheus' own promtool (Debian's
 * `prometheus` package, which tools/setup.mjs installs): the compose configuration, the one
 * `npm start` generates for its embedded Prometheus, and every rule file both load.
 * Nothing here is skipped: without promtool the checks fail.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROMETHEUS_RULE_FILES, prometheusBinary, renderPrometheusConfig, SERVICE_MANIFEST } from '@homiwork/system-runner';

const ROOT = resolve(import.meta.dirname, '../..');
const COMPOSE_CONFIG = join(ROOT, 'deploy/prometheus/prometheus.yml');
const RULES_DIR = join(ROOT, 'deploy/prometheus/rules');
const scratch = mkdtempSync(join(tmpdir(), 'prometheus-spec-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function promtool(...args: string[]): { ok: boolean; output: string } {
  const binary = prometheusBinary('promtool');
  if (!binary) throw new Error('promtool not found: tools/setup.mjs installs Debian\'s prometheus package (apt-get install prometheus)');
  const result = spawnSync(binary, args, { encoding: 'utf8' });
  if (result.error) throw result.error;
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

const ruleFiles = (): string[] =>
  (existsSync(RULES_DIR) ? readdirSync(RULES_DIR) : [])
    .filter((file) => file.endsWith('.yml'))
    .map((file) => join(RULES_DIR, file));

/** The embedded configuration as run-system.ts renders it, for the manifest's ports. */
function embeddedConfig(): string {
  return renderPrometheusConfig({
    targets: SERVICE_MANIFEST.map((entry) => ({ service: entry.name, instance: entry.name, url: `http://127.0.0.1:${entry.opsPort}` })),
    supervisorUrl: 'http://127.0.0.1:9190',
    selfAddress: '127.0.0.1:9191',
    intervalSeconds: 1,
  });
}

interface PrometheusConfig {
  rule_files?: string[];
  scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[]; labels?: Record<string, string> }> }>;
}

describe('promtool', () => {
  it('passes the compose configuration', () => {
    const { ok, output } = promtool('check', 'config', COMPOSE_CONFIG);
    expect(ok, output).toBe(true);
  });

  it('passes the configuration npm start generates (rule files included)', () => {
    const file = join(scratch, 'embedded.yml');
    writeFileSync(file, embeddedConfig());
    const { ok, output } = promtool('check', 'config', file);
    expect(ok, output).toBe(true);
    // check config also checks every rule file it loads: it found them.
    for (const rules of ruleFiles()) expect(output, `${rules} loaded`).toContain(rules);
  });

  it('passes every rule file in deploy/prometheus/rules', () => {
    const files = ruleFiles();
    expect(files.length, 'alert rules exist').toBeGreaterThan(0);
    const { ok, output } = promtool('check', 'rules', ...files);
    expect(ok, output).toBe(true);
  });

  it('every alert fires on the series the services export and stays quiet on healthy ones (promtool test rules)', () => {
    const { ok, output } = promtool('test', 'rules', join(RULES_DIR, 'tests', 'alerts.test.yml'));
    expect(ok, output).toBe(true);
    expect(output).toContain('SUCCESS');
  });

  it('fails a rule file with an expression that does not parse (the check can fail)', () => {
    const broken = join(scratch, 'broken.yml');
    writeFileSync(broken, 'groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: sum(rate(http_requests_total[5m])\n');
    const { ok, output } = promtool('check', 'rules', broken);
    expect(ok).toBe(false);
    expect(output).toMatch(/parse error|unclosed/i);
  });
});

describe('the configurations agree', () => {
  const compose = parse(readFileSync(COMPOSE_CONFIG, 'utf8')) as PrometheusConfig;
  const embedded = parse(embeddedConfig()) as PrometheusConfig;

  it('both load the same rule files', () => {
    expect((compose.rule_files ?? []).map((pattern) => resolve(dirname(COMPOSE_CONFIG), pattern))).toEqual([PROMETHEUS_RULE_FILES]);
    expect(embedded.rule_files).toEqual([PROMETHEUS_RULE_FILES]);
  });

  it('the embedded one scrapes every manifest service, the supervisor and itself, on loopback, with names rather than addresses as instances', () => {
    expect(embedded.scrape_configs.map((job) => job.job_name).sort()).toEqual([...SERVICE_MANIFEST.map((entry) => entry.name), 'prometheus', 'supervisor'].sort());
    for (const entry of SERVICE_MANIFEST) {
      const job = embedded.scrape_configs.find((candidate) => candidate.job_name === entry.name);
      expect(job?.static_configs).toEqual([{ targets: [`127.0.0.1:${entry.opsPort}`], labels: { service: entry.name, instance: entry.name } }]);
    }
    for (const job of embedded.scrape_configs) {
      for (const config of job.static_configs ?? []) expect(config.labels?.instance, job.job_name).toMatch(/^[a-z]+\d*$/);
    }
  });

  it('the same jobs as compose, plus the supervisor that only npm start has', () => {
    expect(compose.scrape_configs.map((job) => job.job_name).sort()).toEqual(embedded.scrape_configs.map((job) => job.job_name).filter((name) => name !== 'supervisor').sort());
  });
});
