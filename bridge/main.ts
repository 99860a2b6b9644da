/**
 * Data-plane process: `npm run bridge`. One process serves both listeners;
 * with `BRIDGE_PROCESSES` > 1 this one forks that many and serves nothing
 * itself (bridge/processes.ts).
 */
import { runProcess } from '../core/process.ts';
import { isBridgeProcessOfMany, startBridgeProcesses } from './processes.ts';

await runProcess('bridge', ['database', 'masterKeys'], async (config, log) => {
  const { processes } = config.bridge;
  if (processes > 1 && !isBridgeProcessOfMany()) return startBridgeProcesses(processes, log);
  // Loaded here so that a primary does not hold the ORM, the SDKs and the gateways it never uses.
  const { serveBridge } = await import('./serve.ts');
  return serveBridge(config, log);
});
