import { z } from 'zod';
import { databaseServiceConfig, withTestOnlyClockControl } from '@homiwork/config';

/** Chat's environment, validated at boot: a missing or bad setting stops it with one line. */
export const chatConfigSchema = withTestOnlyClockControl(databaseServiceConfig.extend({}));
export type ChatConfig = z.infer<typeof chatConfigSchema>;

/** The injection token of the parsed configuration: `@Inject(ChatConfig) config: ChatConfig`. */
export const ChatConfig = Symbol('ChatConfig');
