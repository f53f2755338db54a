import type { Provider } from '@nestjs/common';
import { ClockHandlers } from './clock.handlers.js';
import { ClockMetrics } from './clock-metrics.js';
import { DueItemsRepository } from './due-items.repository.js';
import { FireDueItems } from './fire-due-items.usecase.js';
import { PolicyClock } from './policy-clock.js';
import { RecordFacts } from './record-facts.usecase.js';

/** The policy clock (RETENTION_SCHEDULE → due items → expiry events). */
export const CLOCK_PROVIDERS: Provider[] = [DueItemsRepository, ClockMetrics, RecordFacts, FireDueItems, PolicyClock, ClockHandlers];
export { PolicyClock } from './policy-clock.js';
export { FireDueItems } from './fire-due-items.usecase.js';
export { DueItemsRepository } from './due-items.repository.js';
