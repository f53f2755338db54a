/**
 * Writes the NATS server configuration generated from the contracts and the service
 * manifest (libs/system-runner/src/nats-permissions.ts): one user per service and the
 * provisioning user, each allowed only what its service does.
 *
 *   node dist/tools/system/src/nats-config.js            → <RUN_DIR>/nats/nats.conf (what `npm start` runs)
 *   node dist/tools/system/src/nats-config.js --deploy   → deploy/nats/authorization.conf (compose; checked in)
 *
 * Neither file holds a password: nats-server reads `$NATS_PASSWORD_<USER>` from its
 * environment. EVENT_NAMESPACE (default hw) names the subjects, streams and buckets.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generatedHeader, natsPermissions, REPO_ROOT, renderDevNatsServerConfig, renderNatsAuthorization } from '@homiwork/system-runner';

const ns = process.env.EVENT_NAMESPACE ?? 'hw';
if (process.argv.includes('--deploy')) {
  const file = join(REPO_ROOT, 'deploy/nats/authorization.conf');
  writeFileSync(file, generatedHeader(ns) + renderNatsAuthorization(natsPermissions(ns)));
  process.stdout.write(`[nats-config] wrote ${file}\n`);
} else {
  const dir = resolve(process.env.RUN_DIR ?? '.run', 'nats');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'nats.conf');
  writeFileSync(file, renderDevNatsServerConfig({ ns, port: Number(process.env.LOCAL_NATS_PORT ?? 4223), storeDir: join(dir, 'jetstream') }));
  process.stdout.write(`[nats-config] wrote ${file}\n`);
}
