import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import homiwork from './tools/lint-rules/index.mjs';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.nx/**', 'coverage/**', '**/*.d.ts'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { '@nx': nx, homiwork },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
      'homiwork/no-synchronize': 'error',
      // A service never imports another service; libraries never import services; the
      // testing library is for tests only (its code would otherwise ship in production).
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] },
            // The system tools (supervisor, migrate, dev infrastructure) run services, never import them.
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] },
          ],
        },
      ],
    },
  },
  {
    files: ['services/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/test/**'],
    rules: { 'homiwork/clock-only': 'error' },
  },
  {
    files: ['**/*.ts'],
    ignores: ['services/gateway/src/edge/client-address.ts', '**/*.spec.ts', '**/test/**', 'e2e/**'],
    rules: { 'homiwork/no-raw-client-address': 'error' },
  },
  {
    // Use cases speak to the database through repositories and the Transactor port
    // (@homiwork/persistence), never through the ORM, so their logic reads the same in
    // every service and does not change when the ORM does.
    files: ['services/*/src/usecases/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'typeorm', message: 'Use cases depend on repositories and Transactor (@homiwork/persistence), not on TypeORM.' }],
          patterns: [{ group: ['typeorm/*'], message: 'Use cases depend on repositories and Transactor (@homiwork/persistence), not on TypeORM.' }],
        },
      ],
    },
  },
  {
    // One egress (policy §7.2, R4.2): outbound AI traffic leaves generation only through
    // ContractorEgress, which scrubs the prompt and drops trace context. So no file of the
    // service may open a network client of its own, except the egress's http adapter and
    // the reader of input uploads from media's internal API (src/media/). NATS, PostgreSQL
    // and S3 go through their libraries and are not affected. Tests may run local servers.
    files: ['services/generation/src/**/*.ts'],
    ignores: ['services/generation/src/contractor/http-contractor.ts', 'services/generation/src/media/**', '**/*.spec.ts', '**/test/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ['http', 'https', 'http2', 'net', 'tls', 'dgram', 'undici', '@homiwork/api-client']
            .flatMap((name) => (/^[a-z0-9]+$/.test(name) && name !== 'undici' ? [name, `node:${name}`] : [name]))
            .map((name) => ({ name, allowTypeImports: true, message: 'Only the contractor egress (contractor/http-contractor.ts) and src/media/ open network connections in generation (policy §7.2).' })),
          patterns: [{ group: ['undici/*'], allowTypeImports: true, message: 'Only the contractor egress opens network connections in generation (policy §7.2).' }],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource'].map((name) => ({ name, message: 'Only the contractor egress (contractor/http-contractor.ts) and src/media/ open network connections in generation (policy §7.2).' })),
      ],
      'no-restricted-properties': ['error', { object: 'globalThis', property: 'fetch', message: 'Only the contractor egress and src/media/ open network connections in generation (policy §7.2).' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ImportExpression[source.value=/^(node:)?(http|https|http2|net|tls|dgram)$|^undici/]', message: 'Only the contractor egress and src/media/ open network connections in generation (policy §7.2).' },
      ],
    },
  },
  {
    // Tests may use loose typing where they poke at wire formats on purpose.
    files: ['**/*.spec.ts', '**/test/**/*.ts', 'e2e/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-member-access': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  // Nx loads generators with require(): the one CommonJS corner of the workspace.
  { files: ['**/*.cjs'], ...tseslint.configs.disableTypeChecked, languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly' } }, rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' } },
);
