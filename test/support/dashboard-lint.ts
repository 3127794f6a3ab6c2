import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import { REPO_ROOT } from '../../src/kube/manifests.ts';

/**
 * The rules of Grafana's dashboard-linter (github.com/grafana/dashboard-linter,
 * each named as there), checked in TypeScript: `go install` refuses the linter
 * (its go.mod has a replace directive), and built as a dependency v0.2.0 needs
 * Grafana's AGPL-licensed apps/dashboard module, which the project does not
 * take on (nor does the Go module proxy serve it), so the tests cannot run the
 * linter itself. PromQL is parsed with Prometheus' own grammar
 * (@prometheus-io/lezer-promql, the one its web UI uses); the tests also run
 * each query through promtool, Prometheus' strict parser.
 *
 * Stricter than the original where that costs nothing: the datasource rule
 * covers every panel type that queries, and no rule has an exclusion.
 */
export interface Finding {
  rule: string;
  where: string;
  message: string;
}

export interface Variable {
  name: string;
  label?: string;
  type: string;
  query?: unknown;
  datasource?: { type?: string; uid?: string } | string | null;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  refresh?: number;
}

export interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string } | string | null;
}

export interface Panel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string } | string | null;
  targets?: Target[];
  fieldConfig?: { defaults?: { unit?: string } };
  gridPos?: { x: number; y: number; w: number; h: number };
  panels?: Panel[];
}

export interface Dashboard {
  title?: string;
  uid?: string;
  editable?: boolean;
  templating?: { list?: Variable[] };
  panels?: Panel[];
}

/** Panel types that query a data source; rows and text panels do not. */
const QUERYING = new Set([
  'timeseries',
  'stat',
  'gauge',
  'bargauge',
  'table',
  'graph',
  'singlestat',
  'heatmap',
  'state-timeline',
  'status-history',
  'piechart',
  'barchart',
]);
/** Panel types whose values carry a unit (the linter's panel-units-rule). */
const WITH_UNITS = new Set(['timeseries', 'stat', 'gauge', 'graph', 'singlestat', 'table']);
/** Grafana's unit ids (its valueFormats categories) that a dashboard of counts, durations and sizes needs. */
const UNITS = new Set([
  'none',
  'short',
  'percent',
  'percentunit',
  'bool',
  'bool_yes_no',
  'bool_on_off',
  'bytes',
  'decbytes',
  'Bps',
  'ns',
  'µs',
  'ms',
  's',
  'm',
  'h',
  'd',
  'dtdurations',
  'dtdurationms',
  'dateTimeAsIso',
  'dateTimeFromNow',
  'ops',
  'reqps',
  'rps',
  'wps',
  'iops',
  'cps',
  'opm',
  'rpm',
  'cpm',
]);
/** What the linter puts for $__rate_interval before parsing, so a range can be told apart. */
const RATE_INTERVAL_STANDIN = '8869h';
const LABEL_FUNCTIONS = ['label_names', 'label_values', 'metrics', 'query_result'];

const dsUid = (ds: Panel['datasource']) => (typeof ds === 'string' ? ds : (ds?.uid ?? ''));
const isTemplated = (uid: string, names: string[]) =>
  names.some((n) => uid === `$${n}` || uid === `\${${n}}`);

/** Grafana's variables put in as PromQL would see them, as the linter does before parsing. */
export function expandVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', RATE_INTERVAL_STANDIN)
    .replaceAll('${__rate_interval}', RATE_INTERVAL_STANDIN)
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h');
}

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

function descendants(node: SyntaxNode, name: string): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const cursor = node.cursor();
  do if (cursor.name === name) out.push(cursor.node);
  while (cursor.next());
  return out;
}

/** A parsed PromQL expression, or the reason it does not parse. */
export function parsePromQL(expr: string): { root: SyntaxNode; text: string } | { error: string } {
  const text = expandVariables(expr);
  const tree = parser.parse(text);
  let error: string | undefined;
  tree.iterate({
    enter: (n) => {
      if (n.type.isError && error === undefined)
        error = `does not parse at ${n.from}: '${text.slice(Math.max(0, n.from - 10), n.from + 10)}'`;
    },
  });
  return error ? { error } : { root: tree.topNode, text };
}

/** The metric names an expression selects (its vector selectors' identifiers). */
export function metricNames(expr: string): string[] {
  const parsed = parsePromQL(expr);
  if ('error' in parsed) throw new Error(`${expr}: ${parsed.error}`);
  const names = descendants(parsed.root, 'VectorSelector').flatMap((v) =>
    children(v)
      .filter((c) => c.name === 'Identifier')
      .map((c) => parsed.text.slice(c.from, c.to)),
  );
  return [...new Set(names)];
}

/** The label matchers of one vector selector, as name → [operator, value]. */
function matchers(selector: SyntaxNode, text: string): Map<string, [string, string]> {
  const out = new Map<string, [string, string]>();
  for (const m of descendants(selector, 'UnquotedLabelMatcher')) {
    const [name, op, value] = children(m);
    if (!name || !op || !value) continue;
    out.set(text.slice(name.from, name.to), [
      text.slice(op.from, op.to),
      JSON.parse(text.slice(value.from, value.to).replace(/^'|'$/g, '"')) as string,
    ]);
  }
  return out;
}

/** The function a node is an argument of, if it is one directly. */
function enclosingFunction(node: SyntaxNode, text: string): string | undefined {
  const body = node.parent;
  const call = body?.name === 'FunctionCallBody' ? body.parent : undefined;
  const ident = call?.name === 'FunctionCall' ? call.firstChild : undefined;
  return ident?.name === 'FunctionIdentifier' ? text.slice(ident.from, ident.to) : undefined;
}

function lintTarget(d: Dashboard, where: string, t: Target, findings: Finding[]): void {
  const add = (rule: string, message: string) => findings.push({ rule, where, message });
  const names = (d.templating?.list ?? [])
    .filter((v) => v.type === 'datasource')
    .map((v) => v.name);
  if (t.datasource !== undefined && !isTemplated(dsUid(t.datasource), names))
    add('panel-datasource-rule', `target uses data source '${dsUid(t.datasource)}'`);
  if (!t.expr) {
    add('target-promql-rule', 'target has no PromQL expression');
    return;
  }
  const parsed = parsePromQL(t.expr);
  if ('error' in parsed) {
    add('target-promql-rule', `'${t.expr}' ${parsed.error}`);
    return;
  }
  const { root, text } = parsed;
  for (const selector of descendants(root, 'VectorSelector')) {
    const ms = matchers(selector, text);
    for (const label of ['job', 'instance']) {
      const m = ms.get(label);
      if (!m || m[0] !== '=~' || m[1] !== `$${label}`)
        add(
          `target-${label}-rule`,
          `'${text.slice(selector.from, selector.to)}' lacks ${label}=~"$${label}"`,
        );
    }
    const name = children(selector).find((c) => c.name === 'Identifier');
    const metric = name ? text.slice(name.from, name.to) : '';
    if (metric.endsWith('_total')) {
      const range = selector.parent?.name === 'MatrixSelector' ? selector.parent : undefined;
      const fn = range && enclosingFunction(range, text);
      if (!fn || !['rate', 'irate', 'increase'].includes(fn))
        add(
          'target-counter-agg-rule',
          `counter '${metric}' is not aggregated with rate, irate or increase`,
        );
    }
  }
  for (const range of descendants(root, 'MatrixSelector')) {
    const fn = enclosingFunction(range, text);
    const duration = children(range).find((c) => c.name !== 'VectorSelector');
    const value = duration ? text.slice(duration.from, duration.to) : '';
    if ((fn === 'rate' || fn === 'irate') && value !== RATE_INTERVAL_STANDIN)
      add('target-rate-interval-rule', `${fn}(…[${value}]) should use $__rate_interval`);
  }
}

function lintPanel(d: Dashboard, p: Panel, findings: Finding[]): void {
  const where = `panel ${p.id ?? '?'} '${p.title ?? ''}'`;
  const add = (rule: string, message: string) => findings.push({ rule, where, message });
  if (p.type === 'row') {
    for (const inner of p.panels ?? []) lintPanel(d, inner, findings);
    return;
  }
  if (!p.title?.trim() || !p.description?.trim())
    add('panel-title-description-rule', 'needs a title and a description');
  if (WITH_UNITS.has(p.type)) {
    const unit = p.fieldConfig?.defaults?.unit;
    if (!unit || !UNITS.has(unit)) add('panel-units-rule', `has no valid unit ('${unit ?? ''}')`);
  }
  if (!QUERYING.has(p.type)) return;
  const names = (d.templating?.list ?? [])
    .filter((v) => v.type === 'datasource')
    .map((v) => v.name);
  if (!isTemplated(dsUid(p.datasource), names))
    add('panel-datasource-rule', `does not use a templated data source ('${dsUid(p.datasource)}')`);
  if (!p.targets?.length) add('panel-no-targets-rule', 'has no targets');
  for (const t of p.targets ?? []) lintTarget(d, `${where} target ${t.refId ?? '?'}`, t, findings);
}

function lintVariables(d: Dashboard, findings: Finding[]): void {
  const add = (rule: string, message: string) =>
    findings.push({ rule, where: 'dashboard', message });
  const vars = d.templating?.list ?? [];
  const datasources = vars.filter((v) => v.type === 'datasource');
  if (datasources.length === 0)
    add('template-datasource-rule', 'has no templated data source variable');
  for (const v of datasources) {
    if (v.query !== 'prometheus')
      add('template-datasource-rule', `variable '${v.name}' is not of type prometheus`);
    const okNames =
      datasources.length === 1
        ? ['datasource', 'prometheus_datasource']
        : ['prometheus_datasource'];
    if (!okNames.includes(v.name))
      add(
        'template-datasource-rule',
        `variable '${v.name}' should be named ${okNames.join(' or ')}`,
      );
    const okLabels =
      datasources.length === 1
        ? ['Data source', 'Prometheus data source']
        : ['Prometheus data source'];
    if (!okLabels.includes(v.label ?? ''))
      add('template-datasource-rule', `variable '${v.name}' should be labelled ${okLabels[0]}`);
  }
  const dsNames = datasources.map((v) => v.name);
  for (const name of ['job', 'instance']) {
    const rule = `template-${name}-rule`;
    const v = vars.find((x) => x.name === name);
    if (!v) {
      add(rule, `is missing the ${name} variable`);
      continue;
    }
    if (!isTemplated(dsUid(v.datasource), dsNames))
      add(rule, `${name} variable should use the data source variable`);
    if (v.type !== 'query') add(rule, `${name} variable should be a Prometheus query`);
    if (v.label !== name[0]!.toUpperCase() + name.slice(1))
      add(rule, `${name} variable should be labelled ${name[0]!.toUpperCase() + name.slice(1)}`);
    if (!v.multi) add(rule, `${name} variable should be a multi select`);
    if (v.allValue !== '.+') add(rule, `${name} variable's allValue should be '.+'`);
  }
  for (const v of vars.filter((x) => x.type === 'query')) {
    const query =
      typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    const m = /^([a-z_]+)\((.*)\)$/.exec(query?.trim() ?? '');
    if (!m || !LABEL_FUNCTIONS.includes(m[1]!))
      add('template-label-promql-rule', `variable '${v.name}' has no label_values(…) query`);
    else {
      // label_values(metric, label): the selector is everything up to the last comma.
      const selector = m[1] === 'label_values' ? m[2]!.replace(/,\s*\w+\s*$/, '') : m[2]!;
      const parsed = parsePromQL(selector);
      if ('error' in parsed)
        add('template-label-promql-rule', `variable '${v.name}': '${selector}' ${parsed.error}`);
    }
    if (v.refresh !== 2)
      add(
        'template-on-time-change-reload-rule',
        `variable '${v.name}' should refresh on time range change (2)`,
      );
  }
}

/** Every finding of the rules above; none means the dashboard passes. */
export function lintDashboard(d: Dashboard): Finding[] {
  const findings: Finding[] = [];
  if (d.editable !== false)
    findings.push({ rule: 'uneditable-dashboard', where: 'dashboard', message: 'is editable' });
  lintVariables(d, findings);
  for (const p of d.panels ?? []) lintPanel(d, p, findings);
  return findings;
}

/** Every panel, rows' children included. */
export function allPanels(d: Dashboard): Panel[] {
  return (d.panels ?? []).flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

export const DASHBOARD_PATH = join(REPO_ROOT, 'config', 'grafana', 'timebox-dashboard.json');

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

/** Every panel's queries, with the panel's title. */
export function dashboardQueries(d = loadDashboard()): { panel: string; expr: string }[] {
  return allPanels(d).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title ?? '', expr: t.expr ?? '' })),
  );
}
