import type { Provider } from '@nestjs/common';
import { RetentionConfig } from '../config.js';
import { ReceiptKeys } from './domain/receipt-keys.js';
import { ErasureMetrics } from './erasure-metrics.js';
import { ErasuresHandlers } from './erasures.handlers.js';
import { ErasuresRepository } from './persistence/erasures.repository.js';
import { LegalHoldsRepository } from './persistence/legal-holds.repository.js';
import { ReceiptAuditRepository } from './persistence/receipt-audit.repository.js';
import { UserRecordsRepository } from './persistence/user-records.repository.js';
import { AuditErasures } from './usecases/audit-erasures/audit-erasures.usecase.js';
import { ErasureAuditSweeper } from './usecases/audit-erasures/erasure-audit.sweeper.js';
import { CompleteErasure } from './usecases/complete-erasure/complete-erasure.usecase.js';
import { GetErasure } from './usecases/get-erasure/get-erasure.usecase.js';
import { ListErasures } from './usecases/list-erasures/list-erasures.usecase.js';
import { ListLegalHolds } from './usecases/list-legal-holds/list-legal-holds.usecase.js';
import { OpenErasure } from './usecases/open-erasure/open-erasure.usecase.js';
import { ProhibitedContentBarrier } from './usecases/open-erasure/prohibited-content-barrier.js';
import { PlaceLegalHold } from './usecases/place-legal-hold/place-legal-hold.usecase.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';
import { RecordPurge } from './usecases/record-purge/record-purge.usecase.js';
import { ReleaseLegalHold } from './usecases/release-legal-hold/release-legal-hold.usecase.js';

/** Legal holds, erasures and their signed receipts, retention's own purge. */
export const ERASURE_PROVIDERS: Provider[] = [
  // A bad RECEIPT_SIGNING_KEYS stops the service at boot, naming the entry (never the key).
  { provide: ReceiptKeys, inject: [RetentionConfig], useFactory: (config: RetentionConfig) => new ReceiptKeys(config.RECEIPT_SIGNING_KEYS) },
  ErasureMetrics,
  ErasuresRepository,
  LegalHoldsRepository,
  ReceiptAuditRepository,
  UserRecordsRepository,
  CompleteErasure,
  ProhibitedContentBarrier,
  OpenErasure,
  RecordPurge,
  PurgeUser,
  PlaceLegalHold,
  ReleaseLegalHold,
  ListLegalHolds,
  GetErasure,
  ListErasures,
  AuditErasures,
  ErasureAuditSweeper,
  ErasuresHandlers,
];

export { ReceiptKeys } from './domain/receipt-keys.js';
export { AuditErasures } from './usecases/audit-erasures/audit-erasures.usecase.js';
export { ErasureAuditSweeper } from './usecases/audit-erasures/erasure-audit.sweeper.js';
export { ErasureMetrics } from './erasure-metrics.js';
