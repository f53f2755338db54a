import type { Options } from '@swc/core';
/** The swc options of every build. */
export declare const compileOptions: Options;
export declare function compileProject(projectRoot: string): Promise<number>;
