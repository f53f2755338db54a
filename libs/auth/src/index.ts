export {
  AccessTokenClaims,
  AccessTokenIssuer,
  AccessTokenVerifier,
  InvalidAccessTokenError,
} from './access-token.js';
export { openRevocationBucket, RevocationMirror, RevocationWriter } from './revocation-list.js';
