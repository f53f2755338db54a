import { z } from 'zod';
import { databaseServiceConfig, withTestOnlyClockControl } from '@homiwork/config';

/** Billing's environment, validated at boot: a missing or bad setting stops it with one line. */
export const billingConfigSchema = withTestOnlyClockControl(databaseServiceConfig.extend({}));
export type BillingConfig = z.infer<typeof billingConfigSchema>;

/** The injection token of the parsed configuration: `@Inject(BillingConfig) config: BillingConfig`. */
export const BillingConfig = Symbol('BillingConfig');
