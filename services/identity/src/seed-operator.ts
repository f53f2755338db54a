/**
 * The only way to get the operator role (never the public API): run on the server with
 *   DATABASE_URL=… OPERATOR_PASSWORD=… npm run seed:operator -- --email ops@example.com --username ops
 * It creates the account as an operator, or promotes an existing account with that email.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { DataSource } from 'typeorm';
import { SystemClock, type Clock } from '@homiwork/clock';
import { Email, Password, UserRegisteredV1, Username } from '@homiwork/contracts';
import { Outbox } from '@homiwork/messaging';
import { createServiceDataSource, Database, runMigrations, Transactor } from '@homiwork/persistence';
import { PasswordHasher } from './crypto/password-hasher.js';
import { IDENTITY_MIGRATIONS } from './migrations/index.js';
import { EventsOutbox } from './persistence/events-outbox.js';
import { UsersRepository } from './persistence/users.repository.js';

export async function seedOperator(
  dataSource: DataSource,
  deps: { outbox: Outbox; clock: Clock },
  input: { email: string; username: string; password: string },
): Promise<{ userId: string; created: boolean }> {
  const email = Email.parse(input.email);
  const username = Username.parse(input.username);
  const password = Password.parse(input.password);
  const db = new Database(dataSource);
  const users = new UsersRepository(db);
  return await new Transactor(dataSource).run(async () => {
    const existing = await users.findByLogin(email);
    if (existing) {
      await users.promoteToOperator(existing.id);
      return { userId: existing.id, created: false };
    }
    const now = deps.clock.now();
    const passwordHash = await new PasswordHasher().hash(password);
    const user = await users.insert({ id: randomUUID(), email, username, passwordHash, role: 'operator', now });
    await new EventsOutbox(deps.outbox, db).append(UserRegisteredV1, { userId: user.id, registeredAt: now.toISOString() });
    return { userId: user.id, created: true };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { email: { type: 'string' }, username: { type: 'string' } } });
  const { DATABASE_URL, OPERATOR_PASSWORD, EVENT_NAMESPACE = 'hw' } = process.env;
  if (!DATABASE_URL || !OPERATOR_PASSWORD || !values.email || !values.username) {
    process.stderr.write('usage: DATABASE_URL=… OPERATOR_PASSWORD=… seed-operator --email EMAIL --username NAME\n');
    process.exit(2);
  }
  const dataSource = await createServiceDataSource({ databaseUrl: DATABASE_URL, schema: 'identity', migrations: IDENTITY_MIGRATIONS }).initialize();
  await runMigrations(dataSource);
  const clock = new SystemClock();
  const result = await seedOperator(dataSource, { outbox: new Outbox('identity', EVENT_NAMESPACE, clock), clock }, { email: values.email, username: values.username, password: OPERATOR_PASSWORD });
  process.stdout.write(`operator ${result.created ? 'created' : 'promoted'}: ${result.userId}\n`);
  await dataSource.destroy();
}
