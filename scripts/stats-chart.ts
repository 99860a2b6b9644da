/**
 * `npm run stats:chart -- [out.svg] [minutes]`: reads `GET /stats/minute`
 * (the seeds' endpoint, as a dashboard would) for the last `minutes` (60)
 * with `FB_JWT` against the API on `API_URL` (default the local stack) and
 * draws requests per minute (bars: green ok, red errors) and p95 latency
 * (line) into an SVG, README's chart of the figures.
 */
import { writeFile } from 'node:fs/promises';
import { loadConfig } from '../core/config.ts';

interface MinuteFigures {
  minute: string;
  requests: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  p95LatencyMs: number | null;
}

const width = 760;
const height = 300;
const margin = { top: 36, right: 64, bottom: 40, left: 56 };
const plotWidth = width - margin.left - margin.right;
const plotHeight = height - margin.top - margin.bottom;

async function fetchMinutes(apiUrl: string, token: string, minutes: number): Promise<MinuteFigures[]> {
  const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000);
  const from = new Date(to.getTime() - minutes * 60_000);
  const url = `${apiUrl}/stats/minute?from=${from.toISOString()}&to=${to.toISOString()}`;
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok)
    throw new Error(`GET /stats/minute answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { minutes: MinuteFigures[] }).minutes;
}

/** A round axis maximum (1, 2 or 5 times a power of ten) at or above `value`. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].find((step) => step * power >= value) ?? 10) * power;
}

const hhmm = (iso: string) => iso.slice(11, 16);

function renderChart(minutes: MinuteFigures[]): string {
  const maxRequests = niceMax(Math.max(...minutes.map((m) => m.requests)));
  const maxLatency = niceMax(Math.max(...minutes.map((m) => m.p95LatencyMs ?? 0)));
  const slot = plotWidth / minutes.length;
  const y = (value: number, max: number) => margin.top + plotHeight - (value / max) * plotHeight;
  const bars = minutes.flatMap((m, index) => {
    const x = (margin.left + index * slot + slot * 0.15).toFixed(1);
    const barWidth = (slot * 0.7).toFixed(1);
    const ok = m.requests - m.errors;
    return [
      `<rect x="${x}" y="${y(ok, maxRequests).toFixed(1)}" width="${barWidth}" height="${((ok / maxRequests) * plotHeight).toFixed(1)}" fill="#4caf50"/>`,
      `<rect x="${x}" y="${y(m.requests, maxRequests).toFixed(1)}" width="${barWidth}" height="${((m.errors / maxRequests) * plotHeight).toFixed(1)}" fill="#e53935"/>`,
    ];
  });
  const points = minutes
    .map((m, index) =>
      m.p95LatencyMs === null
        ? undefined
        : `${(margin.left + (index + 0.5) * slot).toFixed(1)},${y(m.p95LatencyMs, maxLatency).toFixed(1)}`,
    )
    .filter(Boolean);
  const ticks = [0, 0.5, 1].map((share) => {
    const ty = y(share, 1).toFixed(1);
    return [
      `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`,
      `<text x="${margin.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle">${share * maxRequests}</text>`,
      `<text x="${margin.left + plotWidth + 6}" y="${ty}" dominant-baseline="middle" fill="#1e88e5">${share * maxLatency} ms</text>`,
    ].join('');
  });
  const labelEvery = Math.max(1, Math.ceil(minutes.length / 8));
  const labels = minutes
    .map((m, index) =>
      index % labelEvery === 0
        ? `<text x="${(margin.left + (index + 0.5) * slot).toFixed(1)}" y="${height - margin.bottom + 16}" text-anchor="middle">${hhmm(m.minute)}</text>`
        : '',
    )
    .join('');
  const totals = minutes.reduce(
    (sum, m) => ({ requests: sum.requests + m.requests, errors: sum.errors + m.errors }),
    {
      requests: 0,
      errors: 0,
    },
  );
  const title = `GET /stats/minute: requests per minute (${totals.requests}, ${totals.errors} errors) and p95 latency, UTC`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">
<title>${title}</title>
<rect width="100%" height="100%" fill="#fff"/>
<text x="${margin.left}" y="20" font-size="13" font-weight="bold">${title}</text>
${ticks.join('\n')}
${bars.join('\n')}
<polyline points="${points.join(' ')}" fill="none" stroke="#1e88e5" stroke-width="2"/>
${labels}
<text x="${margin.left}" y="${height - 6}" fill="#4caf50">■ ok</text><text x="${margin.left + 40}" y="${height - 6}" fill="#e53935">■ errors</text><text x="${margin.left + 100}" y="${height - 6}" fill="#1e88e5">— p95 latency (right axis)</text>
</svg>
`;
}

async function main(): Promise<void> {
  const [out = 'docs/stats-minute.svg', minutesArg = '60'] = process.argv.slice(2);
  const token = process.env.FB_JWT;
  if (!token)
    throw new Error('FB_JWT is not set: eval "$(npm run -s demo)" first, or export a session token');
  const apiUrl = process.env.API_URL ?? `http://127.0.0.1:${loadConfig().api.port}`;
  const minutes = await fetchMinutes(apiUrl, token, Number(minutesArg));
  await writeFile(out, renderChart(minutes));
  process.stderr.write(`wrote ${out}: ${minutes.length} minutes\n`);
}

await main();
