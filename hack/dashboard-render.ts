/**
 * Draws the Grafana dashboard's panels as an HTML page, laid out on Grafana's
 * 24-column grid (gridPos), from query results: stat panels as their last value,
 * time series as SVG line charts. A stand-in for Grafana that shows what the
 * dashboard's queries return; hack/dashboard-picture.ts feeds it real results.
 */

export interface Series {
  labels: Record<string, string>;
  /** [unix seconds, value] */
  values: [number, number][];
}

export interface RenderedPanel {
  type: string;
  title: string;
  unit: string;
  gridPos: { x: number; y: number; w: number; h: number };
  thresholds: { color: string; value: number | null }[];
  min?: number;
  /** One entry per target: its legend format and the series it returned. */
  targets: { legendFormat: string; series: Series[] }[];
}

export interface Page {
  title: string;
  variables: { label: string; value: string }[];
  from: number;
  to: number;
  /** The query step, in seconds: a longer gap between samples breaks a line. */
  stepS: number;
  note: string;
  panels: RenderedPanel[];
}

const WIDTH = 1600;
const CELL_HEIGHT = 30;
const MARGIN = 8;
const COLORS = [
  '#73BF69',
  '#F2CC0C',
  '#8AB8FF',
  '#FF780A',
  '#F2495C',
  '#5794F2',
  '#B877D9',
  '#FADE2A',
  '#37872D',
  '#C4162A',
];
const THRESHOLD_COLORS: Record<string, string> = {
  green: '#73BF69',
  red: '#F2495C',
  orange: '#FF9830',
};

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function round(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return String(Number(v.toFixed(digits)));
}

/** A value in the panel's Grafana unit, as Grafana would roughly print it. */
export function formatValue(v: number, unit: string): string {
  if (!Number.isFinite(v)) return String(v);
  switch (unit) {
    case 's': {
      const a = Math.abs(v);
      if (a === 0) return '0 s';
      if (a < 1) return `${round(v * 1000)} ms`;
      if (a < 60) return `${round(v)} s`;
      if (a < 3600) return `${round(v / 60)} min`;
      return `${round(v / 3600)} hour`;
    }
    case 'bytes': {
      const units = ['B', 'KiB', 'MiB', 'GiB'];
      let i = 0;
      let x = v;
      while (Math.abs(x) >= 1024 && i < units.length - 1) {
        x /= 1024;
        i++;
      }
      return `${round(x)} ${units[i]}`;
    }
    case 'ops':
      return `${round(v)} ops/s`;
    case 'percentunit':
      return `${round(v * 100)}%`;
    case 'bool':
      return v ? 'true' : 'false';
    default:
      return round(v);
  }
}

function legend(format: string, labels: Record<string, string>): string {
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, k: string) => labels[k] ?? '');
}

function thresholdColor(p: RenderedPanel, v: number): string {
  let color = 'green';
  for (const t of p.thresholds) if (t.value === null || v >= t.value) color = t.color;
  return THRESHOLD_COLORS[color] ?? color;
}

function box(p: RenderedPanel, inner: string): string {
  const colW = WIDTH / 24;
  const left = p.gridPos.x * colW + MARGIN / 2;
  const top = p.gridPos.y * CELL_HEIGHT + MARGIN / 2;
  const width = p.gridPos.w * colW - MARGIN;
  const height = p.gridPos.h * CELL_HEIGHT - MARGIN;
  const cls = p.type === 'row' ? 'row' : 'panel';
  return `<div class="${cls}" style="left:${left}px;top:${top}px;width:${width}px;height:${height}px"><div class="title">${esc(p.title)}</div>${inner}</div>`;
}

function stat(p: RenderedPanel): string {
  const s = p.targets[0]?.series[0];
  const last = s?.values.at(-1)?.[1];
  if (last === undefined) return box(p, '<div class="nodata">No data</div>');
  const color = thresholdColor(p, last);
  return box(p, `<div class="stat" style="color:${color}">${esc(formatValue(last, p.unit))}</div>`);
}

function timeseries(p: RenderedPanel, from: number, to: number, stepS: number): string {
  const colW = WIDTH / 24;
  const w = p.gridPos.w * colW - MARGIN - 16;
  const lines = p.targets.flatMap((t) =>
    t.series.map((s) => ({ name: legend(t.legendFormat, s.labels), values: s.values })),
  );
  const legendRows = Math.min(4, Math.ceil(lines.length / 2));
  const h = p.gridPos.h * CELL_HEIGHT - MARGIN - 34 - legendRows * 16;
  if (lines.length === 0) return box(p, '<div class="nodata">No data</div>');
  const all = lines.flatMap((l) => l.values.map(([, v]) => v)).filter(Number.isFinite);
  let lo = Math.min(...all, p.min ?? Infinity);
  let hi = Math.max(...all);
  if (p.min !== undefined) lo = Math.min(lo, p.min);
  if (hi === lo) hi = lo + 1;
  const padL = 64;
  const padT = 6;
  const padR = 6;
  const padB = 16;
  const plotW = w - padL - padR;
  const plotH = h - padB - padT;
  const x = (t: number) => padL + ((t - from) / (to - from)) * plotW;
  const y = (v: number) => padT + plotH - ((v - lo) / (hi - lo)) * plotH;
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = lo + f * (hi - lo);
    return `<line x1="${padL}" x2="${w - padR}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${padL - 4}" y="${y(v) + 4}" class="axis" text-anchor="end">${esc(formatValue(v, p.unit))}</text>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const t = from + f * (to - from);
    const label = new Date(t * 1000).toISOString().slice(11, 16);
    const anchor = f === 0 ? 'start' : f === 1 ? 'end' : 'middle';
    return `<text x="${x(t)}" y="${h - 2}" class="axis" text-anchor="${anchor}">${label}</text>`;
  });
  const paths = lines.map((l, i) => {
    const color = COLORS[i % COLORS.length]!;
    // A missing sample or a NaN (a quantile of no observations) breaks the line,
    // as in Grafana; a value alone between gaps is drawn as a point.
    const runs: [number, number][][] = [];
    let prev: number | undefined;
    for (const [t, v] of l.values) {
      if (!Number.isFinite(v)) {
        prev = undefined;
        continue;
      }
      if (prev === undefined || t - prev > stepS * 1.5) runs.push([]);
      runs.at(-1)!.push([t, v]);
      prev = t;
    }
    return runs
      .map((run) =>
        run.length === 1
          ? `<circle cx="${x(run[0]![0]).toFixed(1)}" cy="${y(run[0]![1]).toFixed(1)}" r="2" fill="${color}"/>`
          : `<path d="${run.map(([t, v], k) => `${k ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('')}" stroke="${color}" fill="none" stroke-width="1.5"/>`,
      )
      .join('');
  });
  const items = lines
    .slice(0, legendRows * 2)
    .map(
      (l, i) =>
        `<span class="item"><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(l.name || '{}')}</span>`,
    );
  const more =
    lines.length > legendRows * 2
      ? `<span class="item">+${lines.length - legendRows * 2} more</span>`
      : '';
  return box(
    p,
    `<svg width="${w}" height="${h}">${grid.join('')}${ticks.join('')}${paths.join('')}</svg><div class="legend">${items.join('')}${more}</div>`,
  );
}

export function renderPage(page: Page): string {
  const bottom = Math.max(...page.panels.map((p) => p.gridPos.y + p.gridPos.h));
  const range = `${new Date(page.from * 1000).toISOString().slice(0, 16).replace('T', ' ')} to ${new Date(page.to * 1000).toISOString().slice(11, 16)} UTC`;
  const body = page.panels
    .map((p) =>
      p.type === 'row'
        ? box(p, '')
        : p.type === 'stat'
          ? stat(p)
          : timeseries(p, page.from, page.to, page.stepS),
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#111217;color:#ccccdc;font:12px 'Liberation Sans',Arial,sans-serif;width:${WIDTH}px}
header{display:flex;gap:16px;align-items:center;padding:10px 12px}
header h1{font-size:18px;margin:0 12px 0 0;color:#fff;font-weight:500}
.var{background:#181b1f;border:1px solid #2c3235;padding:4px 8px;border-radius:2px}
.var b{color:#6e9fff;font-weight:normal;margin-right:6px}
.range{margin-left:auto}
.grid-area{position:relative;height:${bottom * CELL_HEIGHT}px}
.panel{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:2px;box-sizing:border-box;padding:4px 8px;overflow:hidden}
.row{position:absolute;font-size:14px;color:#fff;font-weight:500;padding-top:6px}
.panel .title{font-size:13px;color:#ccccdc;font-weight:500;margin-bottom:4px;white-space:nowrap}
.stat{font-size:34px;font-weight:500;text-align:center;margin-top:14px}
.nodata{color:#8e8e8e;text-align:center;margin-top:30px}
svg .grid{stroke:#2c3235}svg .axis{fill:#8e8e8e;font-size:10px}
.legend{display:flex;flex-wrap:wrap;gap:2px 12px;font-size:11px}
.legend .item{display:flex;align-items:center;gap:4px;white-space:nowrap}
.legend i{display:inline-block;width:12px;height:3px}
footer{padding:8px 12px;color:#8e8e8e;font-size:11px}
</style></head><body>
<header><h1>${esc(page.title)}</h1>${page.variables.map((v) => `<span class="var"><b>${esc(v.label)}</b>${esc(v.value)}</span>`).join('')}<span class="var range">${esc(range)}</span></header>
<div class="grid-area">${body}</div>
<footer>${esc(page.note)}</footer>
</body></html>`;
}
