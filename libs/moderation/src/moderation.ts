/**
 * R3.5 / §12: what a moderation check answers. A refusal names the rule that matched as a
 * short code (`image-blocklist:3`, `text-rule:csam-terms`) — never the content — so the
 * code can go into events, logs and a legal-hold record.
 */
export type ModerationVerdict = { allowed: true } | { allowed: false; rule: string };

/** The seam a real classifier plugs into: implement either or both methods. */
export interface ModerationCheck {
  readonly name: string;
  checkImage?(image: { dHash: bigint }): Promise<ModerationVerdict>;
  checkText?(text: string): Promise<ModerationVerdict>;
}

export const RULE_CODE = /^[a-z0-9_.:-]{1,64}$/;

const ALLOWED: ModerationVerdict = Object.freeze({ allowed: true });

/** Runs the checks in order; the first refusal wins, later checks are not asked. */
export class Moderator {
  constructor(private readonly checks: readonly ModerationCheck[]) {}

  async image(dHash: bigint): Promise<ModerationVerdict> {
    for (const check of this.checks) {
      if (!check.checkImage) continue;
      const verdict = checked(check, await check.checkImage({ dHash }));
      if (!verdict.allowed) return verdict;
    }
    return ALLOWED;
  }

  async text(text: string): Promise<ModerationVerdict> {
    for (const check of this.checks) {
      if (!check.checkText) continue;
      const verdict = checked(check, await check.checkText(text));
      if (!verdict.allowed) return verdict;
    }
    return ALLOWED;
  }
}

/**
 * A plugged-in classifier that answers with a malformed rule is a bug; failing the request
 * (closed) beats accepting the upload or writing free text into a legal-hold record.
 */
function checked(check: ModerationCheck, verdict: ModerationVerdict): ModerationVerdict {
  if (!verdict.allowed && !RULE_CODE.test(verdict.rule)) {
    throw new Error(`moderation check "${check.name}" returned a rule that is not a short code`);
  }
  return verdict;
}
