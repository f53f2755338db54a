/**
 * The images (deploy/images/*.Dockerfile), their build context (.dockerignore), how compose
 * builds and configures them, and .env.example. No Docker engine runs here, so the files are
 * read, and one image's final file set is assembled the way its stages would assemble it
 * (the build's own commands, a production install of its narrowed package.json) and started.
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compiledMain, SERVICE_MANIFEST } from '@homiwork/system-runner';
import { CONTAINER_OPS_PORT, dockerfilePath, FFMPEG_SERVICES, IMAGES_DIR, imageName, imageSpecs, MIGRATE_IMAGE, NODE_IMAGE, renderDockerfile } from './images/dockerfiles.js';
import { importSpecifiers, runtimePackageJson } from './images/runtime-package.mjs';
import { references, strings } from './support/compose-interpolation.js';
import { copies, dockerStages, envOf, instruction, runs, type DockerStage } from './support/dockerfile.js';

const ROOT = resolve(import.meta.dirname, '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const IMAGES = [...SERVICE_MANIFEST.map((entry) => entry.name), MIGRATE_IMAGE];
const SECRET_NAME = /PASSWORD|SECRET|KEY|SALT|TOKEN/i;

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  volumes?: string[];
  ports?: unknown[];
  networks?: string[];
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;

const stagesOf = (name: string): DockerStage[] => dockerStages(read(dockerfilePath(name)));
const finalStage = (name: string): DockerStage => stagesOf(name).at(-1)!;
const stageNamed = (stages: DockerStage[], name: string | undefined): DockerStage | undefined => stages.find((stage) => stage.name === name);
const installsAll = (stage: DockerStage): boolean => runs(stage).some((run) => /\bnpm (?:ci|install)\b/.test(run) && !/--omit=dev\b/.test(run));
const installsProduction = (stage: DockerStage): boolean => runs(stage).some((run) => /\bnpm (?:ci|install)\b.*--omit=dev\b.*--ignore-scripts\b/.test(run));

// ------------------------------------------------------------------ the Dockerfiles

describe('deploy/images/*.Dockerfile', () => {
  it('has one per manifest service and one for the migration, and nothing else', () => {
    const files = readdirSync(join(ROOT, IMAGES_DIR)).filter((file) => file.endsWith('.Dockerfile') || file === 'Dockerfile');
    expect(files.sort()).toEqual(IMAGES.map((name) => basename(dockerfilePath(name))).sort());
    expect(existsSync(join(ROOT, 'deploy/Dockerfile')), 'the old shared image is gone').toBe(false);
  });

  it('are what deploy/images/dockerfiles.ts renders from the manifest (regenerate them after a manifest change)', () => {
    for (const spec of imageSpecs()) expect(read(dockerfilePath(spec.name)), `${dockerfilePath(spec.name)} is out of date: node --import @swc-node/register/esm-register deploy/images/dockerfiles.ts`).toBe(renderDockerfile(spec));
  });

  it.each(IMAGES)('%s: a build stage compiles with the full install, a prod-deps stage installs production packages only', (name) => {
    const stages = stagesOf(name);
    expect(stages.map((stage) => stage.name)).toEqual(['build', 'prod-deps', 'runtime']);
    const [build, prodDeps] = stages as [DockerStage, DockerStage, DockerStage];
    expect(installsAll(build), 'the build stage installs devDependencies (swc, nx)').toBe(true);
    expect(runs(build).join(' '), 'exactly the lockfile').toMatch(/\bnpm ci --ignore-scripts\b/);
    const nx = runs(build).find((run) => /\bnx run/.test(run)) ?? '';
    // A service's image compiles that service only (Nx adds the libraries it imports).
    if (name === MIGRATE_IMAGE) expect(nx).toMatch(/\bnx run-many -t build --projects=system,tag:type:service\b/);
    else expect(nx).toMatch(new RegExp(`\\bnx run ${name}:build\\b`));
    expect(installsProduction(prodDeps)).toBe(true);
    expect(installsAll(prodDeps)).toBe(false);
    // Its package.json is the one the build stage narrowed to what the compiled code imports.
    expect(copies(prodDeps)).toContainEqual({ from: 'build', sources: ['/app/runtime-package.json'], target: './package.json' });
    expect(copies(prodDeps)).toContainEqual({ sources: ['package-lock.json'], target: './' });
    expect(nx).toMatch(/node deploy\/images\/runtime-package\.mjs .*> runtime-package\.json$/);
  });

  it.each(IMAGES)('%s: the final stage is node:24-slim with compiled output and production node_modules only', (name) => {
    const stages = stagesOf(name);
    const runtime = stages.at(-1)!;
    expect(read(dockerfilePath(name))).toMatch(new RegExp(`^ARG NODE_IMAGE=${NODE_IMAGE}$`, 'm'));
    expect(runtime.from).toBe('${NODE_IMAGE}');
    expect(installsAll(runtime) || installsProduction(runtime), 'the runtime stage installs no packages').toBe(false);
    const copied = copies(runtime);
    expect(copied.filter((copy) => copy.from === undefined), 'nothing from the build context').toEqual([]);
    for (const copy of copied) {
      const from = stageNamed(stages, copy.from);
      if (copy.sources.some((source) => source.includes('node_modules')) || copy.sources.some((source) => source.endsWith('package.json'))) {
        expect(from && installsProduction(from) && !installsAll(from), `${copy.sources.join(' ')} from a production install`).toBe(true);
      } else {
        expect(copy, 'only dist/ from the build').toEqual({ from: 'build', sources: ['/app/dist'], target: './dist' });
      }
    }
    expect(copied.map((copy) => copy.target).sort()).toEqual(['./dist', './node_modules', './package.json']);
  });

  it.each(IMAGES)('%s: runs unprivileged with plain node, NODE_ENV=production, no secret baked in', (name) => {
    const stages = stagesOf(name);
    const runtime = stages.at(-1)!;
    expect(instruction(runtime, 'USER').at(-1)).toBe('node');
    expect(instruction(runtime, 'ENTRYPOINT')).toEqual(['["node"]']);
    expect(envOf(runtime).NODE_ENV).toBe('production');
    const all = stages.flatMap((stage) => stage.instructions.map((i) => `${i.keyword} ${i.args}`)).join('\n');
    expect(all, 'no TypeScript loader').not.toMatch(/swc-node|ts-node|tsx\b|--import|--loader|--experimental-strip-types/);
    for (const stage of stages) {
      const names = [...Object.keys(envOf(stage)), ...instruction(stage, 'ARG').map((arg) => arg.split('=')[0] ?? '')];
      expect(names.filter((variable) => SECRET_NAME.test(variable)), `${stage.name}: secret-like ENV/ARG`).toEqual([]);
    }
  });

  it.each(SERVICE_MANIFEST.map((entry) => [entry.name, entry] as const))('%s: exposes its ports, probes its ops port, runs its compiled entry with its manifest settings', (name, entry) => {
    const runtime = finalStage(name);
    const env = envOf(runtime);
    const expected = [...(entry.publicPort === undefined ? [] : [entry.publicPort]), CONTAINER_OPS_PORT];
    expect(instruction(runtime, 'EXPOSE').join(' ').split(/\s+/).map(Number).sort()).toEqual(expected.sort());
    expect(env.OPS_PORT).toBe(String(CONTAINER_OPS_PORT));
    expect(env.OPS_HOST, 'reachable from probes and Prometheus').toBe('0.0.0.0');
    if (entry.publicPort !== undefined) expect([env.HTTP_HOST, env.HTTP_PORT]).toEqual(['0.0.0.0', String(entry.publicPort)]);
    expect(instruction(runtime, 'HEALTHCHECK').join(' ')).toContain(`http://127.0.0.1:${CONTAINER_OPS_PORT}/health/ready`);
    expect(instruction(runtime, 'CMD')).toEqual([JSON.stringify([compiledMain(entry)])]);
    for (const [key, value] of Object.entries(entry.env ?? {})) expect(env[key], key).toBe(value);
  });

  it('installs ffmpeg in the images of media and generation only', () => {
    const withFfmpeg = IMAGES.filter((name) => runs(finalStage(name)).some((run) => /apt-get install -y --no-install-recommends ffmpeg/.test(run)));
    expect(withFfmpeg.sort()).toEqual([...FFMPEG_SERVICES].sort());
    for (const name of IMAGES) for (const stage of stagesOf(name).slice(0, -1)) expect(runs(stage).join(' '), `${name}: ${stage.name}`).not.toMatch(/ffmpeg/);
  });

  it('sends the builder what the Dockerfiles copy, and never dependencies, builds or .env files', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignore[0], 'an allow-list: everything is excluded first').toBe('**');
    for (const name of IMAGES) {
      for (const stage of stagesOf(name)) {
        for (const copy of copies(stage).filter((candidate) => candidate.from === undefined)) {
          for (const source of copy.sources) {
            const path = source.replace(/^\.\//, '').replace(/\/$/, '');
            const allowed = ignore.some((rule) => rule === `!${path}` || rule === `!${path}/**` || (rule.endsWith('/**') && path.startsWith(rule.slice(1, -2))));
            expect(allowed, `${name}/${stage.name} copies ${path}`).toBe(true);
            expect(existsSync(join(ROOT, path)), `${path} exists`).toBe(true);
          }
        }
      }
    }
    for (const rule of ['**/node_modules', '**/dist', '**/.env*', '**/*.spec.ts']) expect(ignore, rule).toContain(rule);
  });
});

// ------------------------------------------------------------------ the narrowed package.json

describe('deploy/images/runtime-package.mjs', () => {
  it('reads imports where swc writes them, right after a leading comment', () => {
    expect(importSpecifiers('/**\n * doc\n */ import "reflect-metadata";\nimport pg from "pg";\nconst s = "import x from \'y\'";').sort()).toEqual(['pg', 'reflect-metadata']);
  });

  it('keeps the root ranges of what is imported, and refuses a package that is not a dependency', () => {
    const root = { name: 'x', version: '1.0.0', type: 'module', dependencies: { a: '^1.0.0', b: '^2.0.0' }, devDependencies: { vitest: '^5.0.0' } };
    expect(runtimePackageJson(root, ['a'])).toEqual({ name: 'x', version: '1.0.0', private: true, type: 'module', dependencies: { a: '^1.0.0' } });
    expect(() => runtimePackageJson(root, ['a', 'vitest'])).toThrow(/vitest/);
  });
});

// ------------------------------------------------------------------ docker-compose.yml and .env.example

describe('docker-compose.yml builds and configures the images', () => {
  it.each(IMAGES)('%s is built from its own Dockerfile and tagged homiwork/<name>', (name) => {
    const svc = services[name];
    expect(svc, `compose service ${name}`).toBeDefined();
    expect(svc?.build).toEqual({ context: '.', dockerfile: dockerfilePath(name) });
    expect(svc?.image).toBe(`${imageName(name)}:\${IMAGE_TAG:-dev}`);
  });

  it('runs an OpenTelemetry collector that every service exports its spans to', () => {
    const collector = services['otel-collector'];
    expect(collector?.image).toMatch(/^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/);
    const configMount = collector?.volumes?.find((volume) => volume.startsWith('./deploy/otel/collector.yaml:'));
    expect(configMount).toBeDefined();
    expect(collector?.command?.join(' ')).toContain(configMount?.split(':')[1]);
    expect(collector?.ports ?? [], 'nothing published').toEqual([]);
    expect(collector?.networks).toEqual(['backend']);
    const config = parse(read('deploy/otel/collector.yaml')) as { receivers?: { otlp?: { protocols?: { http?: { endpoint?: string } } } }; service?: { pipelines?: Record<string, { receivers?: string[] }> } };
    expect(config.receivers?.otlp?.protocols?.http?.endpoint).toMatch(/:4318$/);
    expect(config.service?.pipelines?.traces?.receivers).toContain('otlp');
    for (const entry of SERVICE_MANIFEST) expect(services[entry.name]?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, entry.name).toBe('http://otel-collector:4318');
  });

  it("mounts the alert rules where prometheus.yml's rule_files look", () => {
    expect(services.prometheus?.volumes).toContain('./deploy/prometheus/rules:/etc/prometheus/rules:ro');
  });
});

describe('.env.example', () => {
  const example = new Map(
    read('.env.example')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
      .map((line) => {
        const at = line.indexOf('=');
        return [line.slice(0, at), line.slice(at + 1)] as const;
      }),
  );
  const referenced = strings(compose.services).flatMap(references);
  const names = new Set(referenced.map((reference) => reference.name));

  it('names every variable compose reads, and no other', () => {
    expect([...names].filter((name) => !example.has(name)).sort(), 'read by compose, missing from .env.example').toEqual([]);
    expect([...example.keys()].filter((name) => !names.has(name)).sort(), 'in .env.example, read by nothing').toEqual([]);
  });

  it('holds no value for what compose requires, and compose’s own default for the rest', () => {
    const required = new Set(referenced.filter((reference) => reference.required).map((reference) => reference.name));
    for (const [name, value] of example) {
      if (required.has(name)) {
        expect(value, `${name} is required: no value in the example`).toBe('');
        continue;
      }
      // Each reference's own default (`${NAME:-default}`) is what the example writes down.
      const defaults = new Set(strings(compose.services).flatMap((text) => [...text.matchAll(new RegExp(`\\$\\{${name}:-([^}]*)\\}`, 'g'))].map((match) => match[1])));
      expect([...defaults], `${name}=${value} is compose's default`).toEqual([value]);
    }
  });
});

// ------------------------------------------------------------------ one image, assembled and started

/**
 * The gateway's image assembled on this machine as its stages would: the build context its
 * Dockerfile copies (repository files, .dockerignore's exclusions applied), the build stage's
 * own RUN command (the repository's node_modules stand in for its `npm ci`), the prod-deps
 * stage's install of the narrowed package.json against the lockfile, then the runtime file
 * set alone — started with plain node against the NATS server of this machine.
 */
describe('the gateway image, assembled', () => {
  let work = '';
  beforeAll(() => void (work = mkdtempSync(join(tmpdir(), 'homiwork-image-'))));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const name = 'gateway';
  const entry = SERVICE_MANIFEST.find((candidate) => candidate.name === name)!;
  const stages = stagesOf(name);
  const [build, prodDeps] = stages as [DockerStage, DockerStage];
  const sh = (command: string, cwd: string): string => {
    const result = spawnSync('sh', ['-c', command], { cwd, encoding: 'utf8', env: { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NPM_CONFIG_AUDIT: 'false', NPM_CONFIG_FUND: 'false' } });
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr.slice(-2000)}`);
    return result.stdout;
  };
  const excluded = (path: string): boolean => /(?:^|\/)(?:node_modules|dist|test)(?:\/|$)|\.spec\.ts$|\.e2e\.ts$|(?:^|\/)\.env/.test(path);

  it('builds only the gateway and the libraries it imports, and narrows its packages', () => {
    const context = join(work, 'build');
    for (const copy of copies(build)) {
      for (const source of copy.sources) {
        const target = copy.target.endsWith('/') ? join(context, copy.target, basename(source)) : join(context, copy.target);
        cpSync(join(ROOT, source), target, { recursive: true, filter: (path) => !excluded(path.slice(ROOT.length + 1)) });
      }
    }
    symlinkSync(join(ROOT, 'node_modules'), join(context, 'node_modules'));
    for (const command of runs(build).filter((run) => !/\bnpm ci\b/.test(run))) sh(command, context);
    expect(readdirSync(join(context, 'dist/services'))).toEqual([name]);
    expect(readdirSync(join(context, 'dist/libs')).length).toBeGreaterThan(0);
    const narrowed = JSON.parse(readFileSync(join(context, 'runtime-package.json'), 'utf8')) as { type: string; dependencies: Record<string, string>; devDependencies?: unknown };
    const root = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    expect(narrowed.type).toBe('module');
    expect(narrowed.devDependencies).toBeUndefined();
    expect(Object.keys(narrowed.dependencies)).toEqual(expect.arrayContaining(['@nestjs/core', 'fastify', '@nats-io/transport-node', 'jose', '@opentelemetry/exporter-trace-otlp-http']));
    // The gateway resizes no images and hashes no passwords.
    expect(Object.keys(narrowed.dependencies)).not.toContain('sharp');
    expect(Object.keys(narrowed.dependencies)).not.toContain('@node-rs/argon2');
    for (const [dependency, range] of Object.entries(narrowed.dependencies)) expect(range, dependency).toBe(root.dependencies[dependency]);
  }, 120_000);

  it("installs the narrowed package.json at the lockfile's versions, without devDependencies", () => {
    const deps = join(work, 'prod-deps');
    mkdirSync(deps);
    cpSync(join(ROOT, 'package-lock.json'), join(deps, 'package-lock.json'));
    cpSync(join(work, 'build/runtime-package.json'), join(deps, 'package.json'));
    const install = runs(prodDeps).find((run) => /\bnpm install\b/.test(run))!.replace(/^--mount=\S+\s+/, '');
    sh(`${install} --prefer-offline --no-audit --no-fund`, deps);
    type Lock = { packages: Record<string, { version?: string; integrity?: string; dev?: boolean }> };
    const locked = (JSON.parse(read('package-lock.json')) as Lock).packages;
    const installed = Object.entries((JSON.parse(readFileSync(join(deps, 'package-lock.json'), 'utf8')) as Lock).packages).filter(([path]) => path !== '');
    expect(installed.length).toBeGreaterThan(50);
    const drifted = installed.filter(([path, info]) => locked[path]?.version !== info.version || locked[path]?.integrity !== info.integrity).map(([path]) => path);
    expect(drifted, 'installed at another version than the lockfile').toEqual([]);
    const devOnly = installed.filter(([path]) => locked[path]?.dev === true).map(([path]) => path);
    expect(devOnly, 'dev-only packages').toEqual([]);
    for (const devTool of ['typescript', 'vitest', 'nx', '@swc/core', 's3rver', 'smtp-server']) expect(existsSync(join(deps, 'node_modules', devTool)), devTool).toBe(false);
  }, 180_000);

  it('starts from the runtime file set alone and answers its probes', async () => {
    const app = join(work, 'app');
    mkdirSync(app);
    renameSync(join(work, 'prod-deps/node_modules'), join(app, 'node_modules'));
    cpSync(join(work, 'prod-deps/package.json'), join(app, 'package.json'));
    cpSync(join(work, 'build/dist'), join(app, 'dist'), { recursive: true });
    const opsPort = 20_000 + Math.floor(Math.random() * 20_000);
    const { publicKey } = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const env = {
      ...Object.fromEntries(Object.entries(envOf(finalStage(name))).filter(([key]) => key !== 'NODE_OPTIONS')),
      PATH: process.env.PATH ?? '',
      SERVICE_NAME: name,
      OPS_HOST: '127.0.0.1',
      OPS_PORT: String(opsPort),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(opsPort + 1),
      NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      EVENT_NAMESPACE: `img${randomBytes(4).toString('hex')}`,
      TRUST_PROXY: 'false',
      IP_HASH_SALT: randomBytes(32).toString('hex'),
      JWT_PUBLIC_KEY: publicKey,
      CORS_ORIGINS: 'https://app.example.com',
      INTERNAL_API_TOKEN: randomBytes(32).toString('hex'),
      DOWNSTREAM_SERVICES: 'identity',
      // Loads the tracing SDK, which the service requires lazily only when an endpoint is set.
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    };
    const child = spawn(process.execPath, [compiledMain(entry)], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      let live = 0;
      for (let attempt = 0; attempt < 100 && live !== 200 && child.exitCode === null; attempt++) {
        await new Promise((done) => setTimeout(done, 200));
        live = await fetch(`http://127.0.0.1:${opsPort}/health/live`).then((response) => response.status, () => 0);
      }
      expect(live, `the service did not come up:\n${output.slice(-3000)}`).toBe(200);
      expect(output).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (?:module|package)/);
      const metrics = await fetch(`http://127.0.0.1:${opsPort}/metrics`).then((response) => response.text());
      expect(metrics).toMatch(/process_resident_memory_bytes\{service="gateway"\}/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((done) => (child.exitCode === null ? child.once('exit', done) : done(undefined)));
    }
  }, 60_000);
});
