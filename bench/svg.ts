/** Two small charts for the bench report, as standalone SVG. */
const W = 640;
const H = 300;
const PAD = 50;

function frame(title: string, xLabel: string, yLabel: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${title}</text>
<line x1="${PAD}" y1="${H - PAD}" x2="${W - 10}" y2="${H - PAD}" stroke="black"/>
<line x1="${PAD}" y1="30" x2="${PAD}" y2="${H - PAD}" stroke="black"/>
<text x="${W / 2}" y="${H - 12}" text-anchor="middle">${xLabel}</text>
<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${yLabel}</text>
${body}
</svg>
`;
}

export function lineChart(
  title: string,
  points: ReadonlyArray<[number, number]>,
  xLabel: string,
  yLabel: string,
): string {
  const maxX = Math.max(1, ...points.map((p) => p[0]));
  const maxY = Math.max(1, ...points.map((p) => p[1]));
  const x = (v: number) => PAD + (v / maxX) * (W - PAD - 10);
  const y = (v: number) => H - PAD - (v / maxY) * (H - PAD - 30);
  const path = points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
  const ticks = [0, 0.5, 1]
    .map(
      (t) => `<text x="${PAD - 4}" y="${y(maxY * t) + 4}" text-anchor="end">${Math.round(maxY * t)}</text>`,
    )
    .join('');
  const xTicks = [0, 0.5, 1]
    .map(
      (t) =>
        `<text x="${x(maxX * t)}" y="${H - PAD + 14}" text-anchor="middle">${(maxX * t).toFixed(1)}</text>`,
    )
    .join('');
  return frame(
    title,
    xLabel,
    yLabel,
    `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${path}"/>${ticks}${xTicks}`,
  );
}

export function barChart(
  title: string,
  bars: ReadonlyArray<[string, number]>,
  xLabel: string,
  yLabel: string,
): string {
  const maxY = Math.max(1, ...bars.map((b) => b[1]));
  const width = (W - PAD - 10) / Math.max(1, bars.length);
  const body = bars
    .map(([label, value], i) => {
      const h = (value / maxY) * (H - PAD - 30);
      const x = PAD + i * width;
      return `<rect x="${x + 2}" y="${H - PAD - h}" width="${width - 4}" height="${h}" fill="#ff7f0e"/>
<text x="${x + width / 2}" y="${H - PAD + 14}" text-anchor="middle" font-size="10">${label}</text>`;
    })
    .join('\n');
  return frame(title, xLabel, yLabel, `${body}<text x="${PAD - 4}" y="34" text-anchor="end">${maxY}</text>`);
}
