/**
 * `npm run tools`: builds every pinned Go tool the platform and its tests use
 * now instead of on first use; on-demand ones (rclone, for `npm run
 * bench:migrate`) only when named: `node scripts/install-tools.ts rclone`.
 */
import { ensureGoTool, type GoToolName, goTools } from './tools.ts';

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in goTools));
if (unknown.length > 0)
  throw new Error(`unknown tool(s): ${unknown.join(', ')}; known: ${Object.keys(goTools).join(', ')}`);
const names = (
  requested.length > 0
    ? requested
    : Object.entries(goTools)
        .filter(([, tool]) => !('onDemand' in tool && tool.onDemand))
        .map(([name]) => name)
) as GoToolName[];
const paths = await Promise.all(names.map((name) => ensureGoTool(name)));
for (const [index, name] of names.entries()) console.log(`${name}: ${paths[index]}`);
