/**
 * Reads a Dockerfile as its build stages, enough to check deploy/images/*.Dockerfile as
 * files: instructions per stage, with line continuations joined and comments dropped.
 */

/** One build stage of a Dockerfile: its name and its instructions. */
export interface DockerStage {
  name: string;
  /** The FROM argument (image or earlier stage). */
  from: string;
  instructions: { keyword: string; args: string }[];
}

export function dockerStages(text: string): DockerStage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      stages.push({ name: /\sAS\s+(\S+)$/i.exec(args)?.[1] ?? String(stages.length), from: args.split(/\s+/).find((word) => !word.startsWith('--')) ?? '', instructions: [] });
    } else stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return stages;
}

export const runs = (stage: DockerStage): string[] => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);

export const instruction = (stage: DockerStage, keyword: string): string[] => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

export const copies = (stage: DockerStage): { from?: string; sources: string[]; target: string }[] =>
  stage.instructions
    .filter((i) => i.keyword === 'COPY')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((word) => !word.startsWith('--'));
      return { ...(from ? { from } : {}), sources: paths.slice(0, -1), target: paths.at(-1) ?? '' };
    });

/** `ENV A=1 B="x y"` → { A: '1', B: 'x y' } (the key=value form only). */
export function envOf(stage: DockerStage): Record<string, string> {
  return Object.fromEntries(
    instruction(stage, 'ENV').flatMap((args) => [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)].map(([, key = '', value = '']) => [key, value.startsWith('"') ? (JSON.parse(value) as string) : value])),
  );
}
