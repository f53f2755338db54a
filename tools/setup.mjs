// Brings this machine to the state the system needs, doing only what is missing:
// PostgreSQL and NATS running, ffmpeg and Prometheus installed, npm packages matching the lock file.
// Plain JavaScript on purpose: it runs on the machine's own Node (20) before the repo's
// Node 24 exists in node_modules.
import { createHash } from 'node:crypto';
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function say(message) {
  process.stderr.write(`[setup] ${message}\n`);
}

function portOpen(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function waitForPort(port, name, seconds = 30) {
  for (let i = 0; i < seconds * 4; i++) {
    if (await portOpen(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${name} did not come up on port ${port}`);
}

function run(command) {
  execSync(command, { stdio: ['ignore', 'inherit', 'inherit'], cwd: root });
}

async function ensurePostgres() {
  if (await portOpen(5432)) return;
  say('PostgreSQL is not running; starting it');
  const version = readdirSync('/etc/postgresql')[0];
  run(`pg_ctlcluster --skip-systemctl-redirect ${version} main start`);
  await waitForPort(5432, 'PostgreSQL');
}

async function ensureNats() {
  if (await portOpen(4222)) return;
  say('NATS is not running; starting it with JetStream');
  run('start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log');
  await waitForPort(4222, 'NATS');
}

function hasCommand(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ensureFfmpeg() {
  if (hasCommand('ffmpeg') && hasCommand('ffprobe')) return;
  say('installing ffmpeg from Debian');
  run('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null');
}

// `npm start` runs Prometheus over the services; `npm test` checks the configurations and
// rule files with its promtool. Debian's package may start its own Prometheus on :9090;
// the system's listens on 9191, so the two do not meet.
function ensurePrometheus() {
  if (hasCommand('prometheus') && hasCommand('promtool')) return;
  say('installing prometheus from Debian');
  run('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null');
}

function ensureNodeModules() {
  const lock = readFileSync(join(root, 'package-lock.json'));
  const digest = createHash('sha256').update(lock).digest('hex');
  const marker = join(root, 'node_modules', '.installed-lock-sha256');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === digest && existsSync(join(root, 'node_modules', '.bin', 'node'))) return;
  say('installing npm packages (npm ci)');
  run('npm ci --no-audit --no-fund');
  writeFileSync(marker, digest);
}

export async function setup() {
  await ensurePostgres();
  await ensureNats();
  ensureFfmpeg();
  ensurePrometheus();
  ensureNodeModules();
}

/**
 * Compiles the services, the libraries they use and the system tools to dist/ (Nx
 * caches each project's build, so only what changed is compiled again).
 */
export function buildSystem() {
  const result = spawnSync(join(root, 'node_modules', '.bin', 'node'), [join(root, 'node_modules', 'nx', 'dist', 'bin', 'nx.js'), 'run-many', '-t', 'build', '--projects=tag:type:service,system', '--outputStyle=static'], { cwd: root, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' } });
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout}${result.stderr}`);
    throw new Error('build failed');
  }
  say(`built (${/(\d+)\/(\d+) hit/.exec(result.stdout)?.[0] ?? 'compiled'} from cache)`);
}

/**
 * Runs `script` on the repo's Node 24 (node_modules/.bin/node), whatever Node started us.
 * Resolves with its exit code.
 */
export function onRepoNode(args) {
  return new Promise((resolve) => {
    import('node:child_process').then(({ spawn }) => {
      const child = spawn(join(root, 'node_modules', '.bin', 'node'), args, { stdio: 'inherit', cwd: root, env: process.env });
      for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await setup();
  say('ready');
}
