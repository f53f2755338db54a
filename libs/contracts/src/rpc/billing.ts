import { z } from 'zod';
import { defineRoute } from '../rpc-contract.js';

/** The caller's energy balance (billing owns the ledger; the gateway shows it on GET /v1/me). */
export const GetBalanceRoute = defineRoute({ service: 'billing', method: 'balance.get', request: z.strictObject({}), response: z.strictObject({ energy: z.number().int().nonnegative() }) });
