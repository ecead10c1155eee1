/** How a bar is drawn: wslane targets stand out, raw ws is the reference. */
export type BarKind = 'wslane' | 'baseline' | 'peer';

export interface ChartBar {
  readonly label: string;
  readonly value: number;
  readonly min: number;
  readonly max: number;
  readonly kind: BarKind;
}

/** One group of bars sharing a scale: one scenario variant. */
export interface ChartPanel {
  readonly title: string;
  readonly unit: string;
  readonly bars: readonly ChartBar[];
}

const WIDTH = 760;
const LABEL_WIDTH = 150;
const VALUE_WIDTH = 90;
const BAR_HEIGHT = 16;
const BAR_GAP = 6;
const PANEL_TITLE = 28;
const PANEL_GAP = 18;
const COLORS: Record<BarKind, string> = { wslane: '#2563eb', baseline: '#374151', peer: '#9ca3af' };

/**
 * A horizontal bar chart as a standalone SVG: one panel per scenario variant, a bar per target
 * (its median) with a whisker from min to max. No dependency, no script, no external font.
 */
export function renderBarChart(title: string, panels: readonly ChartPanel[]): string {
  const parts: string[] = [];
  let y = 36;
  parts.push(text(16, 22, title, 'font-size="16" font-weight="600"'));
  for (const panel of panels) {
    parts.push(
      text(16, y + 16, `${panel.title} (${panel.unit})`, 'font-size="13" font-weight="600"'),
    );
    y += PANEL_TITLE;
    const scaleMax = Math.max(
      ...panel.bars.map((bar) => (Number.isFinite(bar.max) ? bar.max : bar.value)),
      1e-9,
    );
    const plotWidth = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 32;
    for (const bar of panel.bars) {
      const length = Number.isFinite(bar.value) ? (bar.value / scaleMax) * plotWidth : 0;
      const x0 = LABEL_WIDTH + 16;
      const middle = y + BAR_HEIGHT / 2;
      parts.push(text(LABEL_WIDTH + 8, middle + 4, bar.label, 'font-size="12" text-anchor="end"'));
      parts.push(
        `<rect x="${x0}" y="${y}" width="${round(length)}" height="${BAR_HEIGHT}" fill="${COLORS[bar.kind]}" rx="2"/>`,
      );
      if (Number.isFinite(bar.min) && Number.isFinite(bar.max) && bar.max > bar.min) {
        const from = x0 + (bar.min / scaleMax) * plotWidth;
        const to = x0 + (bar.max / scaleMax) * plotWidth;
        parts.push(
          `<path d="M${round(from)} ${round(middle)}H${round(to)}M${round(from)} ${round(middle - 4)}V${round(middle + 4)}M${round(to)} ${round(middle - 4)}V${round(middle + 4)}" stroke="#111827" stroke-width="1"/>`,
        );
      }
      const valueX =
        x0 + Math.max(length, Number.isFinite(bar.max) ? (bar.max / scaleMax) * plotWidth : 0) + 6;
      parts.push(text(valueX, middle + 4, formatValue(bar.value), 'font-size="12"'));
      y += BAR_HEIGHT + BAR_GAP;
    }
    y += PANEL_GAP;
  }
  const legend = (Object.keys(COLORS) as BarKind[]).map((kind, index) => {
    const x = 16 + index * 140;
    const name = kind === 'wslane' ? 'wslane' : kind === 'baseline' ? 'raw ws' : 'other peers';
    return `<rect x="${x}" y="${y}" width="12" height="12" fill="${COLORS[kind]}"/>${text(x + 18, y + 10, name, 'font-size="12"')}`;
  });
  parts.push(
    ...legend,
    text(16, y + 32, 'bars: median of the runs; whiskers: min–max', 'font-size="11"', '#4b5563'),
  );
  const height = y + 44;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function text(x: number, y: number, content: string, attributes: string, fill = '#111827'): string {
  return `<text x="${round(x)}" y="${round(y)}" ${attributes} fill="${fill}">${escapeXml(content)}</text>`;
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function escapeXml(value: string): string {
  return value.replace(/[<>&"]/g, (char) => `&#${char.charCodeAt(0)};`);
}
