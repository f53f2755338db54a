// `npx nx g @homiwork/generators:service <name>`: a new service is its folder plus its
// entry in the service manifest. This writes both, with a skeleton that already follows
// every rule of the existing services (own schema by migration, handlers that hand over to
// one use case each, repositories returning plain records, config validated at boot,
// health/readiness/metrics from the service kit, a purge on UserDeleted that keeps a
// tombstone so nothing is written for that user again) and a test, so the new service builds,
// starts and answers before its first real feature. CommonJS: Nx loads generators with require().
const { generateFiles, joinPathFragments, names } = require('@nx/devkit');

const MANIFEST = 'libs/system-runner/src/manifest.ts';
const SERVICE_NAMES = 'libs/contracts/src/services.ts';
const CONTRACTS_INDEX = 'libs/contracts/src/index.ts';
const CONSUMERS = 'libs/contracts/src/consumers.ts';

function read(tree, path) {
  const text = tree.read(path, 'utf-8');
  if (text === null) throw new Error(`${path} is missing: run the generator at the workspace root`);
  return text;
}

/** Adds `name` to a `const X = [...] as const` list of names in a file, if it is not there. */
function addToNameList(tree, path, listName, name) {
  const text = read(tree, path);
  const pattern = new RegExp(`(export const ${listName} = \\[)([^\\]]*)(\\])`);
  const match = pattern.exec(text);
  if (!match) throw new Error(`${path}: no ${listName} list found`);
  if (match[2].split(',').some((item) => item.trim() === `'${name}'`)) return;
  tree.write(path, text.replace(pattern, `$1$2, '${name}'$3`));
}

/**
 * Every service keeping user data purges it on UserDeleted and keeps a tombstone (the
 * skeleton's PurgeUser): its durable consumer is declared with the others, once.
 */
function addUserDeletedConsumer(tree, name, className) {
  const text = read(tree, CONSUMERS);
  const declaration = `export const ${className}Consumers = {`;
  if (text.includes(declaration)) return;
  const imports = [
    ["from './events/user-deleted.v1.js'", "import { UserDeletedV1 } from './events/user-deleted.v1.js';"],
    ["from './names.js'", "import { defineConsumer } from './names.js';"],
  ];
  const missing = imports.filter(([source]) => !text.includes(source)).map(([, line]) => line);
  const body = `${declaration}\n  userDeleted: defineConsumer({ service: '${name}', event: UserDeletedV1 }),\n};\n`;
  tree.write(CONSUMERS, `${missing.length > 0 ? `${missing.join('\n')}\n` : ''}${text.trimEnd()}\n\n${body}`);
}

function nextOpsPort(manifest) {
  const ports = [...manifest.matchAll(/opsPort: (\d+)/g)].map((m) => Number(m[1]));
  return Math.max(9100, ...ports) + 1;
}

async function serviceGenerator(tree, options) {
  const name = options.name;
  if (!/^[a-z][a-z0-9]{1,30}$/.test(name)) throw new Error(`service name "${name}": lower-case letters and digits, starting with a letter`);
  const root = `services/${name}`;
  if (tree.exists(`${root}/project.json`)) throw new Error(`${root} exists already`);
  const manifest = read(tree, MANIFEST);
  const opsPort = options.opsPort ?? nextOpsPort(manifest);
  const { className, propertyName } = names(name);
  const substitutions = { name, className, propertyName, opsPort, migrationTime: 1_764_900_000_000 + opsPort, tmpl: '' };

  generateFiles(tree, joinPathFragments(__dirname, 'files'), root, substitutions);
  generateFiles(tree, joinPathFragments(__dirname, 'contracts'), 'libs/contracts/src', substitutions);

  addToNameList(tree, SERVICE_NAMES, 'SERVICE_NAMES', name);
  addToNameList(tree, SERVICE_NAMES, 'DATA_OWNING_SERVICES', name);
  const index = read(tree, CONTRACTS_INDEX);
  const exportLine = `export * as ${className}Rpc from './rpc/${name}.js';`;
  if (!index.includes(exportLine)) tree.write(CONTRACTS_INDEX, `${index.trimEnd()}\n${exportLine}\n`);
  addUserDeletedConsumer(tree, name, className);

  const entry = `  { name: '${name}', root: '${root}', opsPort: ${opsPort}, needs: ['postgres', 'nats'] },\n`;
  const gatewayMarker = '  // The gateway is last';
  if (!manifest.includes(gatewayMarker)) throw new Error(`${MANIFEST}: the line "${gatewayMarker}…" is missing`);
  tree.write(MANIFEST, manifest.replace(gatewayMarker, `${entry}${gatewayMarker}`));

  return () => {
    process.stdout.write(`\n${name}: written to ${root}/ and added to the manifest (ops port ${opsPort}).\nNext: npm test — the compose check names what docker-compose.yml and Prometheus still need.\n`);
  };
}

module.exports = serviceGenerator;
module.exports.default = serviceGenerator;
