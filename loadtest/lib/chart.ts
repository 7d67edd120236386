/**
 * The load chart: request rate (reached and planned), errors and overload, and latency percentiles over time,
 * as one self-contained HTML file with inline SVG (no script, no CDN: the machines this runs on may have no
 * internet, and the file is attached to reports).
 */
import { escapeHtml } from '../../src/util/html';
import type { K6Analysis } from './summary';

export interface ChartInput {
  readonly title: string;
  readonly analysis: K6Analysis;
  /** Planned arrival rate per second of the run, same index as the timeline. */
  readonly plannedRate?: readonly number[];
  /** p95 threshold in ms, drawn as a line on the latency panel. */
  readonly p95ThresholdMs?: number;
  /** Lines of text shown above the chart (the human summary). */
  readonly summaryLines?: readonly string[];
}

interface Series {
  readonly label: string;
  readonly color: string;
  readonly values: readonly number[];
  readonly dashed?: boolean;
}

const WIDTH = 960;
const HEIGHT = 280;
const PAD = { left: 64, right: 16, top: 28, bottom: 36 };

/** A "nice" axis maximum and step: 1, 2 or 5 times a power of ten. */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 0.2 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  return { max: Math.ceil(max / step) * step, step };
}

const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${Number((v / 1000).toFixed(1))}k` : `${Number(v.toFixed(2))}`);

function panel(
  title: string,
  unit: string,
  seconds: number,
  series: readonly Series[],
  marks: { y?: number; x?: number; label: string; color: string }[],
): string {
  const w = WIDTH - PAD.left - PAD.right;
  const h = HEIGHT - PAD.top - PAD.bottom;
  const yMax = niceScale(Math.max(...series.flatMap((s) => s.values), ...marks.map((m) => m.y ?? 0), 0));
  const xMax = niceScale(Math.max(1, seconds - 1), 10);
  const x = (t: number) => PAD.left + (t / xMax.max) * w;
  const y = (v: number) => PAD.top + h - (v / yMax.max) * h;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">`,
  ];
  out.push(`<text x="${PAD.left}" y="18" font-size="14" font-weight="bold">${escapeHtml(title)}</text>`);
  for (let v = 0; v <= yMax.max + 1e-9; v += yMax.step) {
    out.push(
      `<line x1="${PAD.left}" x2="${PAD.left + w}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`,
    );
    out.push(
      `<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  for (let t = 0; t <= xMax.max + 1e-9; t += xMax.step) {
    out.push(
      `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${PAD.top + h}" y2="${PAD.top + h + 4}" stroke="#555"/>`,
    );
    out.push(
      `<text x="${x(t).toFixed(1)}" y="${PAD.top + h + 16}" font-size="11" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  out.push(
    `<text x="${PAD.left + w / 2}" y="${HEIGHT - 4}" font-size="11" text-anchor="middle">seconds since start</text>`,
  );
  out.push(
    `<text x="14" y="${PAD.top + h / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${PAD.top + h / 2})">${escapeHtml(unit)}</text>`,
  );
  out.push(`<rect x="${PAD.left}" y="${PAD.top}" width="${w}" height="${h}" fill="none" stroke="#555"/>`);
  for (const m of marks) {
    if (m.y !== undefined) {
      out.push(
        `<line x1="${PAD.left}" x2="${PAD.left + w}" y1="${y(m.y).toFixed(1)}" y2="${y(m.y).toFixed(1)}" stroke="${m.color}" stroke-dasharray="2 3"/>`,
      );
      out.push(
        `<text x="${PAD.left + w - 4}" y="${(y(m.y) - 4).toFixed(1)}" font-size="11" text-anchor="end" fill="${m.color}">${escapeHtml(m.label)}</text>`,
      );
    }
    if (m.x !== undefined) {
      out.push(
        `<line x1="${x(m.x).toFixed(1)}" x2="${x(m.x).toFixed(1)}" y1="${PAD.top}" y2="${PAD.top + h}" stroke="${m.color}" stroke-dasharray="4 3"/>`,
      );
      out.push(
        `<text x="${(x(m.x) + 4).toFixed(1)}" y="${PAD.top + 12}" font-size="11" fill="${m.color}">${escapeHtml(m.label)}</text>`,
      );
    }
  }
  series.forEach((s, i) => {
    if (s.values.length === 0) return;
    const points = s.values.map((v, t) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    out.push(
      `<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="6 4"' : ''}><title>${escapeHtml(s.label)}</title></polyline>`,
    );
    const lx = PAD.left + 8 + i * 150;
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${PAD.top + 12}" y2="${PAD.top + 12}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${lx + 22}" y="${PAD.top + 16}" font-size="11">${escapeHtml(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Renders the chart page. */
export function renderChartHtml(input: ChartInput): string {
  const { analysis } = input;
  const tl = analysis.timeline;
  const seconds = Math.max(tl.length, input.plannedRate?.length ?? 0);
  const breakMark = analysis.breakingPoint
    ? [
        {
          x: analysis.breakingPoint.atSecond,
          label: `p95 broke at ${fmt(analysis.breakingPoint.requestsPerSecond)} req/s`,
          color: '#b00020',
        },
      ]
    : [];
  const rate = panel(
    'Request rate',
    'requests / s',
    seconds,
    [
      { label: 'reached', color: '#1565c0', values: tl.map((b) => b.rps) },
      ...(input.plannedRate
        ? [{ label: 'planned arrivals', color: '#777', values: input.plannedRate, dashed: true }]
        : []),
      { label: 'failed', color: '#b00020', values: tl.map((b) => b.errorsPerSecond) },
      { label: '503 overload', color: '#ef6c00', values: tl.map((b) => b.overloadedPerSecond) },
    ],
    breakMark,
  );
  const latency = panel(
    'Latency',
    'ms',
    seconds,
    [
      { label: 'p50', color: '#2e7d32', values: tl.map((b) => b.p50) },
      { label: 'p95', color: '#1565c0', values: tl.map((b) => b.p95) },
      { label: 'p99', color: '#6a1b9a', values: tl.map((b) => b.p99) },
    ],
    [
      ...(input.p95ThresholdMs !== undefined
        ? [{ y: input.p95ThresholdMs, label: `p95 threshold ${input.p95ThresholdMs} ms`, color: '#b00020' }]
        : []),
      ...breakMark,
    ],
  );
  const summary = (input.summaryLines ?? []).map(escapeHtml).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}pre{background:#f6f6f6;padding:12px;overflow:auto}svg{display:block;margin:12px 0}</style>
</head><body>
<h1>${escapeHtml(input.title)}</h1>
${summary ? `<pre>${summary}</pre>` : ''}
${rate}
${latency}
</body></html>
`;
}
