import { describe, expect, it } from 'vitest';
import { canTransition, isFinal, isJobFailureCode, JOB_FAILURES, JobFailure, sourcesOf, type JobStatus } from './job-state.js';

const ALL: JobStatus[] = ['queued', 'running', 'succeeded', 'failed'];

describe('job states', () => {
  it('queued → running | failed; running → running (lease lapsed) | succeeded | failed', () => {
    const allowed = ALL.flatMap((from) => ALL.filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`));
    expect(allowed).toEqual(['queued→running', 'queued→failed', 'running→running', 'running→succeeded', 'running→failed']);
  });

  it('the ends are final: nothing leaves succeeded or failed, so a job is announced finished once', () => {
    expect(ALL.filter(isFinal)).toEqual(['succeeded', 'failed']);
    for (const to of ALL) {
      expect(canTransition('succeeded', to)).toBe(false);
      expect(canTransition('failed', to)).toBe(false);
    }
  });

  it('a job is never queued again and never succeeds without having run', () => {
    expect(sourcesOf('queued')).toEqual([]);
    expect(sourcesOf('succeeded')).toEqual(['running']);
    expect(sourcesOf('failed')).toEqual(['queued', 'running']);
    expect(sourcesOf('running')).toEqual(['queued', 'running']);
  });
});

describe('job failures', () => {
  it('carry a fixed message per code that promises no charge and names no input', () => {
    for (const [code, message] of Object.entries(JOB_FAILURES)) {
      expect(isJobFailureCode(code)).toBe(true);
      expect(new JobFailure(code as keyof typeof JOB_FAILURES).message).toBe(message);
      expect(message).toMatch(/nothing (was|is) (charged|sent)/);
      expect(message).not.toMatch(/[@{}%$]/);
    }
    expect(isJobFailureCode('toString')).toBe(false);
    expect(isJobFailureCode('something_else')).toBe(false);
  });
});
