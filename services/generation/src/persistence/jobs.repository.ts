import { Injectable } from '@nestjs/common';
import type { GenerationRpc } from '@homiwork/contracts';
import { injectTraceHeaders } from '@homiwork/observability';
import { Database } from '@homiwork/persistence';
import { sourcesOf, type JobFailureCode, type JobStatus } from '../domain/job-state.js';

/** A generation job. `prompt` is null once the job has ended (data minimisation). */
export interface Job {
  id: string;
  userId: string;
  kind: GenerationRpc.GenerationKind;
  prompt: string | null;
  uploadIds: string[];
  style: string | null;
  status: JobStatus;
  cost: number | null;
  reservedAt: Date | null;
  /** How many times the job was claimed; a claim's number fences its writes. */
  attempts: number;
  leaseUntil: Date | null;
  contentId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** The W3C traceparent of the request that queued the job: its run continues that trace. */
  traceParent?: string | null;
}

interface JobRow {
  id: string;
  user_id: string;
  kind: GenerationRpc.GenerationKind;
  prompt: string | null;
  upload_ids: string[];
  style: string | null;
  status: JobStatus;
  cost: number | null;
  reserved_at: Date | null;
  attempts: number;
  lease_until: Date | null;
  content_id: string | null;
  error_code: string | null;
  error_message: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  trace_parent: string | null;
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    prompt: row.prompt,
    uploadIds: row.upload_ids,
    style: row.style,
    status: row.status,
    cost: row.cost,
    reservedAt: row.reserved_at,
    attempts: row.attempts,
    leaseUntil: row.lease_until,
    contentId: row.content_id,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    traceParent: row.trace_parent,
  };
}

/** Who may still end a job: the runner's claim numbered `attempt`, or anyone while it is unreserved. */
export type JobFence = { attempt: number } | 'unreserved';

/** What a job's end announces (GenerationFinished): whose, and what it was for. */
export interface FinishedJob {
  id: string;
  userId: string;
  kind: GenerationRpc.GenerationKind;
}

/**
 * Jobs. Every state change is one conditional UPDATE matching the states the change may
 * come from (domain/job-state.ts), so of two writers racing for a job one wins and the
 * other changes nothing — which it learns from the returned row count. Runs in the
 * caller's transaction when there is one (Transactor).
 */
@Injectable()
export class JobsRepository {
  constructor(private readonly db: Database) {}

  async insert(job: { id: string; userId: string; kind: GenerationRpc.GenerationKind; prompt: string; uploadIds: string[]; style: string | null; createdAt: Date }): Promise<void> {
    // The active trace is the queuing request's, as the outbox takes it for an event.
    const traceParent = injectTraceHeaders({}).traceparent ?? null;
    await this.db.query(
      `INSERT INTO jobs (id, user_id, kind, prompt, upload_ids, style, status, created_at, trace_parent) VALUES ($1, $2, $3, $4, $5::uuid[], $6, 'queued', $7, $8)`,
      [job.id, job.userId, job.kind, job.prompt, job.uploadIds, job.style, job.createdAt, traceParent],
    );
  }

  /** The job the caller's reservation was refused for (402): as if it had never been asked. */
  async deleteUnreserved(id: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>("DELETE FROM jobs WHERE id = $1 AND status = 'queued' AND reserved_at IS NULL", [id]);
    return count;
  }

  /** Records the reservation; false when the job is no longer waiting for one (the sweep failed it meanwhile). */
  async markReserved(id: string, cost: number, now: Date): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>("UPDATE jobs SET reserved_at = $2, cost = $3 WHERE id = $1 AND status = 'queued' AND reserved_at IS NULL", [id, now, cost]);
    return count === 1;
  }

  /** Scoped by owner: another user's id is simply not found (404, never 403). */
  async findOwned(userId: string, id: string): Promise<Job | undefined> {
    const [row] = await this.db.query<JobRow[]>('SELECT * FROM jobs WHERE id = $1 AND user_id = $2', [id, userId]);
    return row && toJob(row);
  }

  /**
   * Takes up to `limit` jobs to run: reserved queued ones, oldest first, and running ones
   * whose lease lapsed (their process stopped). Rows another runner is claiming are
   * skipped, so instances share the queue without waiting on each other. Each claim
   * counts an attempt and leases the job until `leaseUntil`.
   */
  async claim(now: Date, leaseUntil: Date, limit: number): Promise<Job[]> {
    const [rows] = await this.db.query<[JobRow[], number]>(
      `WITH picked AS (
         SELECT id FROM jobs
          WHERE (status = 'queued' AND reserved_at IS NOT NULL) OR (status = 'running' AND lease_until <= $1)
          ORDER BY created_at
          LIMIT $3
          FOR UPDATE SKIP LOCKED
       )
       UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, lease_until = $2, started_at = coalesce(jobs.started_at, $1)
         FROM picked WHERE jobs.id = picked.id AND jobs.status = ANY($4::text[])
       RETURNING jobs.*`,
      [now, leaseUntil, limit, sourcesOf('running')],
    );
    return rows.map(toJob);
  }

  /** Extends the lease of the claim numbered `attempt`; false when that claim is no longer the job's (another runner took it over). */
  async renewLease(id: string, attempt: number, leaseUntil: Date): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>("UPDATE jobs SET lease_until = $3 WHERE id = $1 AND status = 'running' AND attempts = $2", [id, attempt, leaseUntil]);
    return count === 1;
  }

  /**
   * A claim given back unfinished (the service is stopping): claimable again at once, and
   * the attempt not counted, since the job did not fail — its process was asked to stop.
   */
  async release(id: string, attempt: number, now: Date): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>(
      "UPDATE jobs SET lease_until = $3, attempts = attempts - 1 WHERE id = $1 AND status = 'running' AND attempts = $2",
      [id, attempt, now],
    );
    return count === 1;
  }

  async finishSucceeded(id: string, attempt: number, contentId: string, now: Date): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `UPDATE jobs SET status = 'succeeded', prompt = NULL, content_id = $3, finished_at = $4, lease_until = NULL
        WHERE id = $1 AND attempts = $2 AND status = ANY($5::text[])`,
      [id, attempt, contentId, now, sourcesOf('succeeded')],
    );
    return count === 1;
  }

  /**
   * Ends the job as failed, prompt gone, from any state a job may fail from — and with a
   * fence, only if the runner's claim numbered `attempt` still holds it, or only if it is
   * still unreserved (the sweep). Returns the job when this call ended it, undefined when
   * it had ended already or the fence did not hold.
   */
  async finishFailed(id: string, failure: { code: JobFailureCode; message: string }, now: Date, fence?: JobFence): Promise<FinishedJob | undefined> {
    const attempt = fence !== undefined && fence !== 'unreserved' ? fence.attempt : null;
    const [rows] = await this.db.query<[Array<Pick<JobRow, 'id' | 'user_id' | 'kind'>>, number]>(
      `UPDATE jobs SET status = 'failed', prompt = NULL, error_code = $2, error_message = $3, finished_at = $4, lease_until = NULL
        WHERE id = $1 AND status = ANY($5::text[]) AND ($6::int IS NULL OR attempts = $6) AND (NOT $7::boolean OR (status = 'queued' AND reserved_at IS NULL))
       RETURNING id, user_id, kind`,
      [id, failure.code, failure.message, now, sourcesOf('failed'), attempt, fence === 'unreserved'],
    );
    const row = rows[0];
    return row && { id: row.id, userId: row.user_id, kind: row.kind };
  }

  /** Jobs a crash left between insert and reservation (queued before `cutoff`, never reserved). */
  async unreservedBefore(cutoff: Date, limit: number): Promise<FinishedJob[]> {
    const rows = await this.db.query<Array<Pick<JobRow, 'id' | 'user_id' | 'kind'>>>(
      "SELECT id, user_id, kind FROM jobs WHERE status = 'queued' AND reserved_at IS NULL AND created_at <= $1 ORDER BY created_at LIMIT $2",
      [cutoff, limit],
    );
    return rows.map((row) => ({ id: row.id, userId: row.user_id, kind: row.kind }));
  }

  /**
   * A sweep's next candidates, unlocked: the records of up to `limit` jobs that ended
   * before `cutoff`, none of `heldSoFar` (users found under a legal hold this run, §12.2) —
   * how many, and their owners.
   */
  async finishedCandidates(cutoff: Date, limit: number, heldSoFar: readonly string[]): Promise<{ rows: number; userIds: string[] }> {
    const rows = await this.db.query<Array<{ user_id: string; n: number }>>(
      `SELECT user_id, count(*)::int AS n FROM (
         SELECT user_id FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at <= $1 AND user_id <> ALL($3::uuid[])
          ORDER BY finished_at LIMIT $2) c
        GROUP BY user_id`,
      [cutoff, limit, heldSoFar],
    );
    return { rows: rows.reduce((sum, row) => sum + row.n, 0), userIds: rows.map((row) => row.user_id) };
  }

  /**
   * Records of jobs that ended before `cutoff`, only of `ofUsers` (owners retention just
   * said are under no legal hold, §12.2); their content, if any, has a life of its own.
   */
  async deleteFinishedBefore(cutoff: Date, limit: number, ofUsers: readonly string[]): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>(
      `DELETE FROM jobs WHERE id IN (
         SELECT id FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at <= $1 AND user_id = ANY($3::uuid[])
          ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [cutoff, limit, ofUsers],
    );
    return count;
  }

  async deleteAllOfUser(userId: string): Promise<number> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM jobs WHERE user_id = $1', [userId]);
    return count;
  }
}
