import { describe, expect, it } from 'vitest';
import { parseS3Url } from './storage-config.js';

describe('parseS3Url', () => {
  it('reads credentials, host, port and scheme', () => {
    expect(parseS3Url('http://ACCESS:SECRET@127.0.0.1:9000', 'media')).toEqual({
      endPoint: '127.0.0.1',
      port: 9000,
      useSSL: false,
      accessKey: 'ACCESS',
      secretKey: 'SECRET',
      bucket: 'media',
    });
  });

  it('defaults the port from the scheme and takes an optional region', () => {
    const config = parseS3Url('https://a%2Fb:s%40c@minio.internal?region=eu-central-1', 'media');
    expect(config).toMatchObject({ endPoint: 'minio.internal', port: 443, useSSL: true, accessKey: 'a/b', secretKey: 's@c', region: 'eu-central-1' });
  });

  it('takes credentials given apart from the URL, before those in it', () => {
    // docker-compose.yml: S3_URL=http://minio:9000 with S3_ACCESS_KEY / S3_SECRET_KEY beside it.
    expect(parseS3Url('http://minio:9000', 'homiwork', { accessKey: 'ACCESS', secretKey: 'SECRET' })).toEqual({
      endPoint: 'minio',
      port: 9000,
      useSSL: false,
      accessKey: 'ACCESS',
      secretKey: 'SECRET',
      bucket: 'homiwork',
    });
    expect(parseS3Url('http://URLKEY:URLSECRET@h:1', 'media', { accessKey: 'APART', secretKey: 'SECRET-APART' })).toMatchObject({
      accessKey: 'APART',
      secretKey: 'SECRET-APART',
    });
    // An empty setting (`S3_ACCESS_KEY=` from `${VAR:-}`) is no setting: the URL's keys stay.
    expect(parseS3Url('http://URLKEY:URLSECRET@h:1', 'media', { accessKey: '', secretKey: undefined })).toMatchObject({
      accessKey: 'URLKEY',
      secretKey: 'URLSECRET',
    });
  });

  it('refuses a store without both keys, wherever they were to come from', () => {
    const missing: [string, { accessKey?: string; secretKey?: string }][] = [
      ['http://h:9000', {}],
      ['http://h:9000', { accessKey: 'ACCESS' }],
      ['http://h:9000', { accessKey: 'ACCESS', secretKey: '' }],
      ['http://h:9000', { secretKey: 'SECRETX' }],
    ];
    for (const [url, credentials] of missing) {
      expect(() => parseS3Url(url, 'media', credentials)).toThrow(/credentials are missing/);
      try {
        parseS3Url(url, 'media', credentials);
      } catch (error) {
        expect((error as Error).message).not.toContain('SECRETX');
      }
    }
  });

  it('refuses URLs it cannot use, without repeating the secret', () => {
    const bad = ['not a url', 'ftp://A:SECRETX@h:1', 'http://h:9000', 'http://A:SECRETX@h:9000/bucket', 'http://A:SECRETX@h:9000?region=%00'];
    for (const url of bad) {
      expect(() => parseS3Url(url, 'media')).toThrow(TypeError);
      try {
        parseS3Url(url, 'media');
      } catch (error) {
        expect((error as Error).message).not.toContain('SECRETX');
      }
    }
  });

  it('refuses bucket names S3 would refuse', () => {
    for (const bucket of ['', 'ab', 'Media', 'a_b', '-ab', 'a..b', 'x'.repeat(64)]) {
      expect(() => parseS3Url('http://A:S@h:1', bucket)).toThrow(TypeError);
    }
  });
});
