// `npm start`: sets up what is missing, builds what changed (Nx, cached), then runs the
// whole system as compiled JavaScript on the repo's Node 24 (no TypeScript loader).
import { buildSystem, onRepoNode, setup } from './setup.mjs';

await setup();
buildSystem();
process.exitCode = await onRepoNode(['dist/tools/system/src/run-system.js', ...process.argv.slice(2)]);
