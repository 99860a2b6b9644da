/** `npm run tools`: builds every pinned Go tool now instead of on first use. */
import { ensureGoTool, type GoToolName, goTools } from './tools.ts';

const names = Object.keys(goTools) as GoToolName[];
const paths = await Promise.all(names.map((name) => ensureGoTool(name)));
for (const [index, name] of names.entries()) console.log(`${name}: ${paths[index]}`);
