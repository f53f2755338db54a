// `npm test`: sets up what is missing, then runs the whole suite (static checks included)
// on the repo's Node 24. The last line printed is `N passed, N failed[, N skipped]`.
import { onRepoNode, setup } from './setup.mjs';

await setup();
process.exitCode = await onRepoNode(['node_modules/vitest/vitest.mjs', 'run', ...process.argv.slice(2)]);
