import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from './log/logger.ts';
import { startOperator } from './operator.ts';
import { startRunEnvironment } from './sandbox/environment.ts';

const SANDBOX_DIR = '.timebox/sandbox';

const USAGE = `Usage: timebox-operator [--sandbox]

Runs the Timebox operator against the cluster of the current kubeconfig
($KUBECONFIG or ~/.kube/config). Without one, or with --sandbox, it starts a local
control plane and writes its kubeconfig to ${SANDBOX_DIR}/kubeconfig.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sandbox: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const log = createLogger({ level: process.env.TIMEBOX_LOG_LEVEL === 'debug' ? 'debug' : 'info' });
  const cluster = await startRunEnvironment(resolve(SANDBOX_DIR), {
    log: (msg) => log.info(msg),
    forceSandbox: values.sandbox,
  });
  if (cluster.kind === 'sandbox' && cluster.kubeconfigPath) {
    const path = relative(process.cwd(), cluster.kubeconfigPath) || cluster.kubeconfigPath;
    console.log(
      values.sandbox
        ? 'Started a local sandbox control plane (--sandbox).'
        : 'No kubeconfig found: started a local sandbox control plane.',
    );
    console.log(`Sandbox kubeconfig: ${path}`);
    console.log(`  export KUBECONFIG=${cluster.kubeconfigPath}`);
  } else {
    log.info('using the current kubeconfig', { kubeconfig: cluster.kubeconfigPath });
  }

  let operator;
  try {
    operator = await startOperator(cluster.admin(), log);
  } catch (err) {
    await cluster.stop();
    throw err;
  }

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    await operator.stop();
    await cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // Keep the event loop alive until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  if (err instanceof TypeError && /parseArgs|Unknown option/i.test(String(err)))
    console.error(USAGE);
  process.exit(1);
});
