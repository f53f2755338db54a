import { z } from 'zod';
import { databaseServiceConfig, withTestOnlyClockControl } from '@homiwork/config';

/** Generation's environment, validated at boot: a missing or bad setting stops it with one line. */
export const generationConfigSchema = withTestOnlyClockControl(databaseServiceConfig.extend({}));
export type GenerationConfig = z.infer<typeof generationConfigSchema>;

/** The injection token of the parsed configuration: `@Inject(GenerationConfig) config: GenerationConfig`. */
export const GenerationConfig = Symbol('GenerationConfig');
