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
