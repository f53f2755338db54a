import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './launch.js';
import type { ServiceManifestEntry } from './manifest.js';
import type { ServiceDescriptor } from './service-descriptor.js';

const compiled = import.meta.url.includes('/dist/');

/**
 * A service's config schema and migrations (`<root>/src/service.ts`), loaded on demand:
 * the compiled file when this code runs compiled, the TypeScript source under the test
 * runner. Kept out of the manifest so the supervisor never loads a service's code.
 */
export async function loadDescriptor(entry: ServiceManifestEntry): Promise<ServiceDescriptor> {
  const file = compiled ? `${REPO_ROOT}dist/${entry.root}/src/service.js` : `${REPO_ROOT}${entry.root}/src/service.ts`;
  const module = (await import(pathToFileURL(file).href)) as { descriptor?: ServiceDescriptor };
  if (!module.descriptor) throw new Error(`${entry.root}/src/service.ts exports no descriptor`);
  return module.descriptor;
}
