export { ApiClient, type ApiClientOptions, type CallInput, type Download, type RawInput, type RawResponse } from './api-client.js';
export { AccountsApi } from './accounts-api.js';
export { AssistantsApi } from './assistants-api.js';
export { BillingApi } from './billing-api.js';
export { ContentsApi, GenerationsApi } from './generations-api.js';
export { ApiContractError, ApiError } from './api-error.js';
export { OperatorsApi, PrivacyApi } from './privacy-api.js';
