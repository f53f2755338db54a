import { describe, expect, it } from 'vitest';
import { scrubDetail } from './av-transformer.js';
import { parseProbeReport } from './media-probe.js';

const report = (value: unknown) => JSON.stringify(value);

describe('parseProbeReport', () => {
  it('does not count cover art as video', () => {
    const probe = parseProbeReport(
      report({
        streams: [
          { codec_type: 'audio', duration: '3.5' },
          { codec_type: 'video', width: 600, height: 600, disposition: { attached_pic: 1 } },
        ],
        format: { duration: '3.500000' },
      }),
    );
    expect(probe).toEqual({ durationMs: 3500, hasVideo: false, hasAudio: true });
  });

  it('swaps width and height for a quarter-turn rotation, from side data or an old rotate tag', () => {
    const fromSideData = parseProbeReport(report({ streams: [{ codec_type: 'video', width: 1920, height: 1080, side_data_list: [{ rotation: -90 }] }], format: { duration: '1' } }));
    const fromTag = parseProbeReport(report({ streams: [{ codec_type: 'video', width: 1920, height: 1080, tags: { rotate: '270' } }], format: { duration: '1' } }));
    const halfTurn = parseProbeReport(report({ streams: [{ codec_type: 'video', width: 1920, height: 1080, side_data_list: [{ rotation: 180 }] }] }));
    expect([fromSideData, fromTag].map(({ width, height }) => [width, height])).toEqual([
      [1080, 1920],
      [1080, 1920],
    ]);
    expect([halfTurn.width, halfTurn.height]).toEqual([1920, 1080]);
  });

  it('reports an undeclared duration as null, and takes the longest declared one', () => {
    expect(parseProbeReport(report({ streams: [{ codec_type: 'audio' }], format: { duration: 'N/A' } })).durationMs).toBeNull();
    expect(parseProbeReport(report({ streams: [{ codec_type: 'audio', duration: '9.0' }], format: { duration: '2.0' } })).durationMs).toBe(9000);
  });

  it('throws on output that is not an ffprobe report', () => {
    expect(() => parseProbeReport('not json')).toThrow();
    expect(() => parseProbeReport(report({ streams: 'nope' }))).toThrow();
  });
});

describe('scrubDetail', () => {
  it('keeps one short line with paths and addresses replaced', () => {
    const stderr = '[mov,mp4 @ 0x55d5c0a1b2c0] moov atom not found\nfile:/tmp/homiwork-media/upload-abc/original: Invalid data found when processing input\n';
    expect(scrubDetail(stderr, ['/tmp/homiwork-media/upload-abc/original'])).toBe('<file>: Invalid data found when processing input');
    expect(scrubDetail('[hls @ 0x55d5c0a1b2c0] bad\n', [])).toBe('[hls @ 0x…] bad');
  });

  it('drops unprintable characters and caps the length', () => {
    const line = scrubDetail(`\u001b[31m${'x'.repeat(500)}é\n`, []);
    expect(line.length).toBeLessThanOrEqual(160);
    expect(line).toMatch(/^\[31mx+\.\.\.$/);
    expect(scrubDetail('', [])).toBe('no diagnostic');
  });
});
