import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The traceability table is the proof that each policy promise is kept: a row naming a
// file that was renamed or deleted points a reader (or an auditor) at nothing. So every
// repository path the documents cite must exist.

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Documents whose backticked repository paths are checked. */
const DOCUMENTS = ['docs/policy-traceability.md', 'docs/architecture.md'] as const;

/** Top-level entries that are generated or installed, never cited as the repository's own. */
const NOT_SOURCE = new Set(['.git', '.nx', 'node_modules', 'dist', 'coverage', '.run']);
const FILE_EXTENSION = /\.(?:ts|mts|mjs|cjs|js|json|ya?ml|md|txt|sql|sh)$/;
/** What a path may be made of: names, `/`, `{a,b}` alternatives, `<name>` and `*` placeholders. */
const PATH_CHARACTERS = /^[\w.\-/{},<>*]+$/;

interface Citation {
  /** 1-based line of the document where the citation's block starts. */
  line: number;
  /** As written between the backticks. */
  cited: string;
  /** Repository-relative path it resolved to, when it exists. */
  resolved?: string;
}

interface DocumentCheck {
  checked: Citation[];
  missing: Citation[];
  /** `../shared/…`: the origin documents beside the clone, named but not part of the repository. */
  outside: string[];
}

/**
 * A block is one table row, one list item (with its indented continuation lines) or one
 * paragraph. A bare name (`outbox-relay.ts`) or partial path (`usecases/purge/`) is
 * resolved against the folders of paths cited earlier in the same block, as a reader would.
 */
function blocks(markdown: string): Array<{ line: number; text: string }> {
  const result: Array<{ line: number; text: string }> = [];
  let current: { line: number; text: string } | undefined;
  let fenced = false;
  const close = (): void => {
    if (current) result.push(current);
    current = undefined;
  };
  markdown.split(/\r?\n/).forEach((line, index) => {
    if (line.trimStart().startsWith('```')) {
      fenced = !fenced;
      close();
      return;
    }
    if (fenced) return;
    const startsBlock = line.trim() === '' || /^\s*(?:\||#|[-*] |\d+\. )/.test(line) || !current;
    if (startsBlock) close();
    if (line.trim() === '') return;
    if (current) current.text += `\n${line}`;
    else current = { line: index + 1, text: line };
  });
  close();
  return result;
}

/** `a/{b,c}/d.ts` → `a/b/d.ts`, `a/c/d.ts`. */
function expandBraces(pattern: string): string[] {
  const braces = /\{([^{}]*)\}/.exec(pattern);
  if (!braces) return [pattern];
  const before = pattern.slice(0, braces.index);
  const after = pattern.slice(braces.index + braces[0].length);
  return braces[1]!.split(',').flatMap((choice) => expandBraces(`${before}${choice.trim()}${after}`));
}

/** Whether a repository-relative path exists; `<name>` and `*` segments match any entry. */
function pathExists(path: string, root: string): boolean {
  const wantsDirectory = path.endsWith('/');
  const segments = path.split('/').filter(Boolean);
  let candidates = [root];
  for (const segment of segments) {
    if (!/[<*]/.test(segment)) {
      candidates = candidates.map((folder) => join(folder, segment)).filter((full) => existsSync(full));
    } else {
      const pattern = new RegExp(`^${segment.replace(/[.+?^$()[\]\\|]/g, '\\$&').replace(/<[^<>]*>/g, '[^/]+').replace(/\*/g, '[^/]*')}$`);
      candidates = candidates.flatMap((folder) =>
        isDirectory(folder) ? readdirSync(folder).filter((name) => pattern.test(name)).map((name) => join(folder, name)) : [],
      );
    }
    if (candidates.length === 0) return false;
  }
  return !wantsDirectory || candidates.some(isDirectory);
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** The folder a path names (itself when it ends in `/`), and its parents up to its project. */
function foldersOf(path: string): string[] {
  const folder = path.endsWith('/') ? path.replace(/\/+$/, '') : dirname(path);
  const segments = folder === '.' ? [] : folder.split('/');
  // A project is `libs/<name>` or `services/<name>`; elsewhere (tools/, deploy/…) the top folder.
  const projectDepth = ['libs', 'services'].includes(segments[0] ?? '') ? 2 : 1;
  const folders: string[] = [];
  for (let depth = segments.length; depth >= Math.min(projectDepth, segments.length); depth -= 1) {
    const prefix = segments.slice(0, depth);
    if (prefix.some((segment) => /[<>*{}]/.test(segment))) continue;
    folders.push(prefix.join('/'));
  }
  return folders.filter(Boolean);
}

/** Every backticked repository path of a Markdown document, and whether it exists under `root`. */
function checkDocumentPaths(markdown: string, root: string = REPO_ROOT): DocumentCheck {
  const topLevel = new Set(readdirSync(root).filter((name) => !NOT_SOURCE.has(name)));
  const check: DocumentCheck = { checked: [], missing: [], outside: [] };
  for (const block of blocks(markdown)) {
    const folders: string[] = [];
    for (const span of block.text.matchAll(/`([^`]+)`/g)) {
      for (const token of span[1]!.split(/\s+/).filter(Boolean)) {
        if (token.startsWith('../')) {
          check.outside.push(token);
          continue;
        }
        // Routes (`/v1/me`), packages (`@homiwork/x`), kinds of file (`*.spec.ts`) and build
        // output (`dist/…`, absent from a fresh clone) are not citations.
        if (!PATH_CHARACTERS.test(token) || /^[/@.*]/.test(token) || NOT_SOURCE.has(token.split('/')[0]!)) continue;
        const rooted = token.includes('/') && topLevel.has(token.split('/')[0]!);
        // A partial path has a folder and a file, or two folders: a lone `test/` names a kind of folder.
        const relative = !rooted && (FILE_EXTENSION.test(token) || /^[^/]+\/[^/]+.*\/$/.test(token));
        if (!rooted && !relative) continue;
        const bases = rooted ? [''] : [...new Set([...folders, ''])];
        const base = bases.find((folder) => expandBraces(token).every((path) => pathExists(join(folder, path), root)));
        const citation: Citation = { line: block.line, cited: token };
        if (base === undefined) {
          check.missing.push(citation);
        } else {
          citation.resolved = join(base, token);
          const first = join(base, expandBraces(token)[0]!) + (token.endsWith('/') ? '/' : '');
          folders.unshift(...foldersOf(first).filter((folder) => !folders.includes(folder)));
        }
        check.checked.push(citation);
      }
    }
  }
  return check;
}

function describeMissing(file: string, missing: Citation[]): string {
  return missing.map((citation) => `${file}:${citation.line} cites \`${citation.cited}\`, which does not exist`).join('\n');
}

describe('paths cited by the documentation', () => {
  for (const file of DOCUMENTS) {
    it(`every repository path in ${file} exists`, () => {
      const result = checkDocumentPaths(readFileSync(join(REPO_ROOT, file), 'utf8'));
      // An extractor that finds nothing would pass every document; these cite dozens of files.
      expect(result.checked.length, `${file}: too few paths found, is the extractor broken?`).toBeGreaterThan(10);
      expect(describeMissing(file, result.missing)).toBe('');
      // Outside the repository only the shared origin documents may be named, never relied on.
      for (const path of result.outside) expect(path, `${file} names a path outside the repository`).toMatch(/^\.\.\/shared\/[\w.-]+$/);
    });
  }
});

describe('checkDocumentPaths', () => {
  const missingOf = (markdown: string): string[] => checkDocumentPaths(markdown).missing.map((citation) => citation.cited);
  const checkedOf = (markdown: string): string[] => checkDocumentPaths(markdown).checked.map((citation) => citation.cited);

  it('fails a made-up path in a table row and passes a real one', () => {
    const row = '| §1 | R1 | `tools/static-checks.spec.ts`, `tools/no-such-check.spec.ts` | `tools/lint-rules/rules.spec.ts` |';
    expect(missingOf(row)).toEqual(['tools/no-such-check.spec.ts']);
    expect(checkedOf(row)).toEqual(['tools/static-checks.spec.ts', 'tools/no-such-check.spec.ts', 'tools/lint-rules/rules.spec.ts']);
    expect(checkDocumentPaths(row).missing[0]!.line).toBe(1);
  });

  it('resolves a bare file name against folders cited earlier in the same row only', () => {
    expect(missingOf('| `tools/lint-rules/index.mjs`, `rules.spec.ts`, `setup.mjs` |')).toEqual([]);
    expect(missingOf('| `tools/lint-rules/index.mjs`, `no-such-rule.ts` |')).toEqual(['no-such-rule.ts']);
    expect(missingOf('| `tools/lint-rules/index.mjs` |\n| `rules.spec.ts` |')).toEqual(['rules.spec.ts']);
    // A partial path with its own folders, resolved against a parent of an earlier citation.
    expect(missingOf('| `tools/lint-rules/index.mjs`, `lint-rules/rules.spec.ts` |')).toEqual([]);
  });

  it('checks each {a,b} alternative and each <placeholder> or * pattern', () => {
    expect(missingOf('`tools/{test,start}.mjs`')).toEqual([]);
    expect(missingOf('`tools/{test,no-such}.mjs`')).toEqual(['tools/{test,no-such}.mjs']);
    expect(missingOf('`libs/<name>/src/index.ts`, `tools/lint-rules/*.mjs`')).toEqual([]);
    expect(missingOf('`libs/<name>/src/no-such-file.ts`, `tools/lint-rules/*.sql`')).toEqual(['libs/<name>/src/no-such-file.ts', 'tools/lint-rules/*.sql']);
    expect(missingOf('`tools/static-checks.spec.ts/`')).toEqual(['tools/static-checks.spec.ts/']);
  });

  it('passes generic names: a kind of file, a kind of folder, build output', () => {
    expect(checkedOf('Unit tests (`*.spec.ts`) and a library\'s `test/` folder; a compiled `dist/`, `dist/tools/x.js`.')).toEqual([]);
  });

  it('ignores code, routes, packages and S3 keys, and sets aside the shared origin documents', () => {
    const prose = [
      'reads `request.ip`, serves `GET /v1/uploads/:id/file`, imports `@homiwork/contracts`,',
      'accepts `application/octet-stream`, stores `media/<userId>/uploads/<id>`, runs `sharp.concurrency(1)`.',
      'Origin: `../shared/API.md`.',
      '```',
      'services/not-a-citation.ts inside a code fence',
      '```',
    ].join('\n');
    expect(checkDocumentPaths(prose)).toEqual({ checked: [], missing: [], outside: ['../shared/API.md'] });
  });
});
