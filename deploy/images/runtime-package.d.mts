/** Module specifiers of compiled ESM (static, dynamic and CommonJS loads). */
export declare function importSpecifiers(code: string): string[];
/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
export declare function packageName(specifier: string): string;
/** The packages that compiled `entries` load, following their relative imports (sorted). */
export declare function compiledRuntimePackages(entries: readonly string[]): string[];
export interface RootPackageJson {
  name?: string;
  version?: string;
  type?: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
}
/** The image's package.json: the root's dependencies for `packages` only. */
export declare function runtimePackageJson(
  root: RootPackageJson,
  packages: readonly string[],
): { name?: string; version?: string; private: true; type?: string; engines?: Record<string, string>; dependencies: Record<string, string> };
