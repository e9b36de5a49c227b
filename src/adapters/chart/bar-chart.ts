// Bar charts as PNG, rendered server-side: a Vega-Lite spec compiled by vega-lite, drawn to SVG by vega
// (headless, no canvas), rasterised by resvg. Loaded lazily: only the weekly summary needs it, so the bot
// and the worker do not carry vega in memory until then.

export interface Bar {
  label: string;
  value: number;
}

export interface BarChart {
  title: string;
  /** What the values are, for the axis (e.g. "hours of access"). */
  valueTitle: string;
  bars: readonly Bar[];
}

/** Chart geometry the tests rely on to find the bars in the image. */
export const CHART = { width: 640, barHeight: 28, color: '#1f6feb' } as const;

export async function renderBarChart(chart: BarChart): Promise<Uint8Array> {
  const [vega, vegaLite, { Resvg }] = await Promise.all([
    import('vega'),
    import('vega-lite'),
    import('@resvg/resvg-js'),
  ]);
  const spec = vegaLite.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: chart.title,
    width: CHART.width,
    height: { step: CHART.barHeight },
    background: 'white',
    data: { values: chart.bars.map((b) => ({ label: b.label, value: b.value })) },
    mark: { type: 'bar', color: CHART.color },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: null, title: null },
      x: { field: 'value', type: 'quantitative', title: chart.valueTitle },
    },
    config: { font: 'DejaVu Sans' },
  } as never).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    fitTo: { mode: 'original' },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  }).render();
  return png.asPng();
}
