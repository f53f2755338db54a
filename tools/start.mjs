// `npm start`: sets up what is missing, then runs the whole system on the repo's Node 24.
import { onRepoNode, setup } from './setup.mjs';

await setup();
process.exitCode = await onRepoNode(['--import', '@swc-node/register/esm-register', 'tools/run-system.ts', ...process.argv.slice(2)]);
