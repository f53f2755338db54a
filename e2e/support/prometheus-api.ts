import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** One PromQL expression of the repository, with where it comes from. */
export interface RepoExpression {
  /** The dashboard or rule file it is in. */
  file: string;
  /** e.g. `overview.json: Requests / s (A)` or `alerts.yml: ErasureOverdue`. */
  where: string;
  expr: string;
}

/** A dashboard template variable of type `query` (`label_values(metric, label)` or `label_values(label)`). */
export interface QueryVariable {
  /** The dashboard it belongs to: a variable's values apply to that dashboard's panels only. */
  file: string;
  name: string;
  metric?: string;
  label: string;
}

interface Panel {
  title?: string;
  id?: number;
  panels?: Panel[];
  targets?: Array<{ expr?: string; refId?: string }>;
}

interface Dashboard {
  panels?: Panel[];
  templating?: { list?: Array<{ name: string; type: string; query?: string | { query?: string } }> };
}

const allPanels = (panels: readonly Panel[]): Panel[] => panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);

const jsonFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort();

/** Every `expr` of every panel (rows' panels included) of every dashboard in `dir`. */
export function dashboardExpressions(dir: string): RepoExpression[] {
  return jsonFiles(dir).flatMap((file) => {
    const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Dashboard;
    return allPanels(dashboard.panels ?? []).flatMap((panel) =>
      (panel.targets ?? []).filter((target) => target.expr?.trim()).map((target) => ({ file, where: `${file}: ${panel.title ?? `panel ${panel.id}`} (${target.refId ?? '?'})`, expr: target.expr! })),
    );
  });
}

/** The query variables of every dashboard in `dir` (Grafana resolves them before any panel query). */
export function dashboardVariables(dir: string): QueryVariable[] {
  return jsonFiles(dir).flatMap((file) => {
    const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Dashboard;
    return (dashboard.templating?.list ?? []).flatMap((variable) => {
      if (variable.type !== 'query') return [];
      const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
      const match = /^\s*label_values\(\s*(?:([^,]+?)\s*,\s*)?([a-zA-Z_]\w*)\s*\)\s*$/.exec(query);
      if (!match) throw new Error(`${file}: $${variable.name} is not label_values(…): ${query}`);
      return [{ file, name: variable.name, label: match[2]!, ...(match[1] ? { metric: match[1] } : {}) }];
    });
  });
}

/** Every `expr` of every alerting and recording rule in the rule files of `dir`. */
export function ruleExpressions(dir: string): RepoExpression[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yml') || file.endsWith('.yaml'))
    .sort()
    .flatMap((file) => {
      const { groups } = parse(readFileSync(join(dir, file), 'utf8')) as { groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }> };
      return groups.flatMap((group) => group.rules.map((rule) => ({ file, where: `${file}: ${group.name}/${rule.alert ?? rule.record ?? '?'}`, expr: String(rule.expr) })));
    });
}

const escapeRegex = (value: string): string => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The expression as Grafana sends it: built-in variables replaced by concrete durations,
 * a template variable by all its values (`a|b|c`, as "All" does) inside a regex matcher and
 * by its first value elsewhere. Throws on a variable it does not know.
 */
export function withGrafanaVariables(expr: string, variables: Readonly<Record<string, readonly string[]>>, builtins: Readonly<Record<string, string>>): string {
  return expr.replace(/(=~\s*")?(?:\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+))/g, (whole, regexMatcher: string | undefined, a?: string, b?: string, c?: string) => {
    const name = a ?? b ?? c ?? '';
    const builtin = builtins[name];
    const values = variables[name];
    const value = builtin ?? (values === undefined ? undefined : regexMatcher ? values.map(escapeRegex).join('|') : values[0]);
    if (value === undefined) throw new Error(`unknown Grafana variable $${name} in: ${expr}`);
    return `${regexMatcher ?? ''}${value}`;
  });
}

export interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: 'vector' | 'matrix' | 'scalar' | 'string'; result: unknown };
}

/** The parts of Prometheus' HTTP API (/api/v1) the observability test uses. */
export class PrometheusApi {
  constructor(private readonly baseUrl: string) {}

  /** An instant query; an expression that does not parse answers status `error` (HTTP 400), not a throw. */
  async query(expr: string): Promise<QueryAnswer> {
    const response = await fetch(`${this.baseUrl}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ query: expr }) });
    return (await response.json()) as QueryAnswer;
  }

  /** Whether the answer holds any sample (a scalar always does). */
  static hasData(answer: QueryAnswer): boolean {
    if (answer.status !== 'success' || !answer.data) return false;
    return answer.data.resultType === 'scalar' || answer.data.resultType === 'string' || (Array.isArray(answer.data.result) && answer.data.result.length > 0);
  }

  async labelNames(): Promise<string[]> {
    return this.get<string[]>('/api/v1/labels');
  }

  /** The values of a label, optionally only on the series of a selector. */
  async labelValues(label: string, match?: string): Promise<string[]> {
    return this.get<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values${match ? `?${new URLSearchParams({ 'match[]': match }).toString()}` : ''}`);
  }

  /** The scrape targets, each with its health and the time of its last scrape (RFC 3339). */
  async targets(): Promise<Array<{ labels: Record<string, string>; health: string; lastError: string; lastScrape: string }>> {
    return (await this.get<{ activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string; lastScrape: string }> }>('/api/v1/targets')).activeTargets;
  }

  /** The loaded rule groups, each rule with its health after its last evaluation. */
  async rules(): Promise<Array<{ name: string; file: string; rules: Array<{ name: string; health: string; lastError?: string; lastEvaluation: string }> }>> {
    return (await this.get<{ groups: Array<{ name: string; file: string; rules: Array<{ name: string; health: string; lastError?: string; lastEvaluation: string }> }> }>('/api/v1/rules')).groups;
  }

  private async get<T>(path: string): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? response.status}`);
    return body.data;
  }
}
