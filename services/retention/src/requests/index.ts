import type { Provider } from '@nestjs/common';
import { PrivacyRequestsRepository } from './persistence/privacy-requests.repository.js';
import { RequestsHandlers } from './requests.handlers.js';
import { AuditPrivacyRequests } from './usecases/audit-requests/audit-requests.usecase.js';
import { RequestsAuditSweeper } from './usecases/audit-requests/requests-audit.sweeper.js';
import { CreatePrivacyRequest } from './usecases/create-request/create-request.usecase.js';
import { ReadPrivacyRequests } from './usecases/read-requests/read-requests.usecase.js';
import { RequestViews } from './usecases/request-views.js';
import { VerifyPrivacyRequest } from './usecases/verify-request/verify-request.usecase.js';
import { WithdrawPrivacyRequest } from './usecases/withdraw-request/withdraw-request.usecase.js';

/** Privacy requests (§9): due dates, verification, restriction and objection, consents. */
export const REQUEST_PROVIDERS: Provider[] = [
  PrivacyRequestsRepository,
  RequestViews,
  CreatePrivacyRequest,
  VerifyPrivacyRequest,
  WithdrawPrivacyRequest,
  ReadPrivacyRequests,
  AuditPrivacyRequests,
  RequestsAuditSweeper,
  RequestsHandlers,
];
