import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, type EntityManager } from 'typeorm';

/**
 * The transaction the current async call chain runs in, if any. One store for the whole
 * process; each entry names its DataSource, so a process holding two (a test starting
 * two services) never lends one service's transaction to the other's repositories.
 */
const ambient = new AsyncLocalStorage<EntityManager>();

function ambientFor(dataSource: DataSource): EntityManager | undefined {
  const manager = ambient.getStore();
  return manager && manager.dataSource === dataSource && manager.queryRunner?.isTransactionActive ? manager : undefined;
}

/**
 * Runs `work` with `manager` (an open transaction someone else began and will commit —
 * an event consumer's batch) as the ambient transaction, so repositories and
 * `Transactor.run` inside it join that transaction.
 */
export function withinTransaction<T>(manager: EntityManager, work: () => T): T {
  return ambient.run(manager, work);
}

/**
 * The transaction port use cases depend on instead of TypeORM: `run` makes everything
 * the work does through repositories (and the outbox) one transaction; a nested `run`
 * (or one inside an event handler) joins the outer transaction instead of opening a
 * second connection, so the outer commit or rollback decides for all of it.
 */
export class Transactor {
  constructor(private readonly dataSource: DataSource) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    if (ambientFor(this.dataSource)) return work();
    return this.dataSource.transaction((manager) => ambient.run(manager, work));
  }

  /** Whether the caller is inside a transaction of this service's database. */
  get active(): boolean {
    return ambientFor(this.dataSource) !== undefined;
  }
}

/**
 * What repositories use to reach the database: the ambient transaction when there is
 * one, the pool otherwise (a single statement needs no transaction of its own).
 * Use cases never see it; they see repositories and the `Transactor`.
 */
export class Database {
  constructor(private readonly dataSource: DataSource) {}

  /** The ambient transaction's manager, or the plain one outside a transaction. */
  get manager(): EntityManager {
    return ambientFor(this.dataSource) ?? this.dataSource.manager;
  }

  /**
   * The ambient transaction's manager; throws outside one. For writes that are only
   * correct together with others (an outbox append with the change it announces).
   */
  transactionManager(purpose: string): EntityManager {
    const manager = ambientFor(this.dataSource);
    if (!manager) throw new Error(`${purpose} must run inside Transactor.run (or an event handler's transaction)`);
    return manager;
  }

  /**
   * A parameterised statement. For pg, SELECT and INSERT … RETURNING give the rows;
   * UPDATE and DELETE give `[rows, affectedCount]`.
   */
  query<T>(sql: string, parameters: unknown[] = []): Promise<T> {
    return this.manager.query<T>(sql, parameters);
  }
}

/**
 * Nest providers for both, built on the service's DataSource (which the service kit
 * provides). Plain objects, so this library does not depend on Nest.
 */
export const TRANSACTION_PROVIDERS = [
  { provide: Transactor, inject: [DataSource], useFactory: (dataSource: DataSource) => new Transactor(dataSource) },
  { provide: Database, inject: [DataSource], useFactory: (dataSource: DataSource) => new Database(dataSource) },
];
