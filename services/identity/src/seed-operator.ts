/**
 * The only way to get the operator role (never the public API): run on the server with
 *   DATABASE_URL=… OPERATOR_PASSWORD=… npm run seed:operator -- --email ops@example.com --username ops
 * It creates a new operator account with OPERATOR_PASSWORD, and refuses when the email or
 * username is already registered. It never promotes an existing account: registration
 * does not prove who owns an address, so the account holding the operator's email may be
 * anyone's — promoting it would hand the operator role to whoever registered it first,
 * with their own password and sessions.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { DataSource } from 'typeorm';
import { SystemClock, type Clock } from '@homiwork/clock';
import { Email, Password, UserRegisteredV1, Username } from '@homiwork/contracts';
import { EventsOutbox, Outbox } from '@homiwork/messaging';
import { createServiceDataSource, Database, runMigrations, Transactor } from '@homiwork/persistence';
import { PasswordHasher } from './crypto/password-hasher.js';
import { IDENTITY_MIGRATIONS } from './migrations/index.js';
import { UniqueViolation, UsersRepository } from './persistence/users.repository.js';

/** Why no operator was created; the message never repeats the email or username given. */
export class OperatorSeedRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperatorSeedRefused';
  }
}

export async function seedOperator(
  dataSource: DataSource,
  deps: { outbox: Outbox; clock: Clock },
  input: { email: string; username: string; password: string },
): Promise<{ userId: string }> {
  const email = Email.parse(input.email);
  const username = Username.parse(input.username);
  const password = Password.parse(input.password);
  const hasher = new PasswordHasher();
  if (!hasher.isAcceptable(password, username)) throw new OperatorSeedRefused('OPERATOR_PASSWORD is too common or contains the username; choose another');
  const db = new Database(dataSource);
  const users = new UsersRepository(db);
  if (await users.findByLogin(email)) throw new OperatorSeedRefused('an account with this email already exists; it is not promoted (choose an address no account uses)');
  const passwordHash = await hasher.hash(password);
  try {
    return await new Transactor(dataSource).run(async () => {
      const now = deps.clock.now();
      const user = await users.insert({ id: randomUUID(), email, username, passwordHash, role: 'operator', now });
      await new EventsOutbox(deps.outbox, db).append(UserRegisteredV1, { userId: user.id, registeredAt: now.toISOString() });
      return { userId: user.id };
    });
  } catch (error) {
    if (error instanceof UniqueViolation) throw new OperatorSeedRefused(`an account with this ${error.field} already exists; it is not promoted`);
    throw error;
  }
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
  try {
    const result = await seedOperator(dataSource, { outbox: new Outbox('identity', EVENT_NAMESPACE, clock), clock }, { email: values.email, username: values.username, password: OPERATOR_PASSWORD });
    process.stdout.write(`operator created: ${result.userId}\n`);
  } catch (error) {
    if (!(error instanceof OperatorSeedRefused)) throw error;
    process.stderr.write(`seed-operator refused: ${error.message}\n`);
    process.exitCode = 1;
  } finally {
    await dataSource.destroy();
  }
}
