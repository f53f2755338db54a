import { RpcError } from '@homiwork/messaging';

// The answers of the export download. Never says whether a wrong token's export exists.
export const ExportErrors = {
  notFound: () => new RpcError(404, 'not_found', 'id: no export archive behind this link'),
  linkExpired: () => new RpcError(410, 'link_expired', 'this download link has expired and its archive was deleted; ask for a new export (POST /v1/privacy/requests)'),
};
