export { ApiClient, type ApiClientOptions, type CallInput, type RawInput, type RawResponse } from './api-client.js';
export { AccountsApi } from './accounts-api.js';
export { ApiContractError, ApiError } from './api-error.js';
