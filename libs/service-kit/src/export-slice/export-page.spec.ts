import { describe, expect, it } from 'vitest';
import { EXPORT_READ_BATCH, readExportPage, type ExportSection } from './export-page.js';
import { fileExtension } from './file-extension.js';

// The paging shared by every service's export slice (each service keeps the same copy).

/** A section over `count` numbered rows of `size` characters each. */
function numbered(name: string, count: number, size = 10): ExportSection & { reads: number } {
  const section = {
    name,
    key: /^\d+$/,
    reads: 0,
    read(after: string | null, limit: number) {
      section.reads += 1;
      const from = after === null ? 0 : Number(after) + 1;
      return Promise.resolve(
        Array.from({ length: Math.max(0, Math.min(limit, count - from)) }, (_, index) => ({ key: String(from + index), item: { n: from + index, text: 'x'.repeat(size) } })),
      );
    },
  };
  return section;
}

async function drain(sections: ExportSection[], target: number) {
  const pages = [];
  let cursor: string | undefined;
  do {
    const page = await readExportPage(sections, cursor, target);
    pages.push(page);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && pages.length < 10_000);
  return pages;
}

describe('readExportPage', () => {
  it('walks every section in order across pages, each row once, each page within the target', async () => {
    const pages = await drain([numbered('first', 250), numbered('second', 3), numbered('third', 0)], 2_000);
    expect(pages.length).toBeGreaterThan(3);
    for (const page of pages) {
      expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(2_000);
      expect(Object.keys(page.collections)).toEqual(['first', 'second', 'third']);
    }
    expect(pages.flatMap((page) => page.collections.first!.map((item) => item.n))).toEqual(Array.from({ length: 250 }, (_, n) => n));
    expect(pages.flatMap((page) => page.collections.second!.map((item) => item.n))).toEqual([0, 1, 2]);
    expect(pages.at(-1)!.nextCursor).toBeNull();
  });

  it('reads in batches until a short one, so one page can hold more than a batch', async () => {
    const section = numbered('rows', EXPORT_READ_BATCH * 2 + 5, 1);
    const [page] = await drain([section], 1024 * 1024);
    expect(page!.collections.rows).toHaveLength(EXPORT_READ_BATCH * 2 + 5);
    expect(section.reads).toBe(3);
  });

  it('gives a row larger than the target a page of its own rather than stopping', async () => {
    const pages = await drain([numbered('big', 3, 5_000)], 1_000);
    expect(pages.map((page) => page.collections.big!.length)).toEqual([1, 1, 1]);
    expect(pages.map((page) => page.nextCursor)).toEqual(['big:0', 'big:1', null]);
  });

  it('refuses a cursor naming another section or a key of the wrong shape', async () => {
    for (const cursor of ['', 'rows', 'other:', 'rows:abc', 'rows:1:2']) {
      await expect(readExportPage([numbered('rows', 3)], cursor, 1_000)).rejects.toMatchObject({ status: 400, code: 'invalid_cursor' });
    }
    expect((await readExportPage([numbered('rows', 3)], 'rows:', 1_000)).collections.rows).toHaveLength(3);
    expect((await readExportPage([numbered('rows', 3)], 'rows:1', 1_000)).collections.rows!.map((item) => item.n)).toEqual([2]);
  });

  it('names archive files by their stored type', () => {
    expect(fileExtension('image/webp')).toBe('webp');
    expect(fileExtension('text/plain; charset=utf-8')).toBe('txt');
    expect(fileExtension('Audio/MP4')).toBe('m4a');
    expect(fileExtension('application/x-unknown')).toBe('bin');
  });
});
