import { z } from 'zod';
import { databaseServiceConfig, withTestOnlyClockControl } from '@homiwork/config';
import { RETENTION_SCHEDULE } from '@homiwork/contracts';
import { checkDataKeysConfig, dataKeysConfigShape } from '@homiwork/data-keys';
import { moderationConfigShape } from '@homiwork/moderation';

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const chatSettings = databaseServiceConfig.extend({
  /** The master keys wrapping each user's data key (message text is sealed with it). */
  ...dataKeysConfigShape,
  // The same settings media and generation read, so one rule list serves every text a user sends.
  ...moderationConfigShape,
  /** Whether a reply costs energy (purpose `chat`, reserved under the user message's id). */
  CHAT_CHARGE_ENERGY: z.stringbool().default(true),
  /**
   * §5.5: messages of a user without Prime are deleted this many days after they were
   * written (or after their last Prime period ended, whichever is later). The policy says 2–4 months;
   * the default is the schedule's (libs/contracts/src/retention-schedule.ts), which retention's clock uses too.
   */
  CHAT_RETENTION_DAYS: int(60, 120, RETENTION_SCHEDULE.chatHistory.days),
  /** How often chat itself deletes messages past retention. */
  CHAT_SWEEP_INTERVAL_MS: int(100, 86_400_000, 600_000),
  /**
   * A user message still unsettled (its energy neither committed nor refunded) this long
   * after it was stored belongs to a send that died — chat stopped between reserving and
   * settling: the stale-send sweep refunds it. Longer than a send can take after storing
   * (the reply wait, 35 s, plus its transactions), with margin.
   */
  CHAT_SETTLE_AFTER_MS: int(60_000, 86_400_000, 120_000),
  /** How often the stale-send sweep runs (only while replies cost energy). */
  CHAT_SETTLE_SWEEP_INTERVAL_MS: int(100, 3_600_000, 60_000),
  /**
   * How much of the recent conversation (characters, newest first, the new message always
   * included) goes to the assistant as context; the reply route takes at most 16,000.
   */
  CHAT_CONTEXT_CHARS: int(8_000, 16_000, 12_000),
});

/** Chat's environment, validated at boot: a missing or bad setting stops it with one line. */
export const chatConfigSchema = withTestOnlyClockControl(chatSettings.superRefine(checkDataKeysConfig));
export type ChatConfig = z.infer<typeof chatConfigSchema>;

/** The injection token of the parsed configuration: `@Inject(ChatConfig) config: ChatConfig`. */
export const ChatConfig = Symbol('ChatConfig');
