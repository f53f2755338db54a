export {
  AccessTokenClaims,
  AccessTokenIssuer,
  AccessTokenVerifier,
  InvalidAccessTokenError,
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  ACCESS_TOKEN_TYPE,
} from './access-token.js';
export { openRevocationBucket, revocationBucketName, RevocationMirror, RevocationWriter } from './revocation-list.js';
