import type { Logger } from "./log.ts";

/**
 * How a footfall process stops: the first SIGTERM or SIGINT starts a clean stop (stop accepting,
 * drain, acknowledge, flush); a second one while it runs exits at once with 130.
 */
const SIGNALS = ["SIGTERM", "SIGINT"] as const;

function onFirstSignal(first: (signal: NodeJS.Signals) => void, log?: Logger): () => void {
  let seen = false;
  const handler = (signal: NodeJS.Signals) => {
    if (seen) {
      log?.warn({ signal }, "second signal: exiting now");
      process.exit(130);
    }
    seen = true;
    log?.info({ signal }, "stopping");
    first(signal);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return () => { for (const s of SIGNALS) process.off(s, handler); };
}

/** For a server process: on the first signal, `stop()`, then exit 0 (1 if the stop failed). Returns the unregister function. */
export function exitOnSignal(stop: () => Promise<void>, log?: Logger): () => void {
  return onFirstSignal(() => {
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        if (log) log.error({ err }, "unclean stop");
        else console.error("unclean stop:", err);
        process.exit(1);
      },
    );
  }, log);
}

/** For a loop that winds itself down: a controller aborted by the first SIGTERM / SIGINT (or by its owner). */
export function abortOnSignal(log?: Logger): AbortController {
  const ac = new AbortController();
  onFirstSignal(() => ac.abort(), log);
  return ac;
}

/** children to SIGKILL if this process exits without having stopped them (one "exit" listener for all) */
const orphans = new Set<{ kill(signal: NodeJS.Signals): unknown }>();
let orphanHandler = false;

/**
 * Kills `child` with SIGKILL when this process exits (a crash, process.exit, a failed test run)
 * unless the returned function was called first (the child exited or was stopped). Children in
 * their own process group are otherwise left running. One listener however many children.
 */
export function killOnExit(child: { kill(signal: NodeJS.Signals): unknown }): () => void {
  if (!orphanHandler) {
    orphanHandler = true;
    process.once("exit", () => { for (const c of orphans) c.kill("SIGKILL"); });
  }
  orphans.add(child);
  return () => { orphans.delete(child); };
}
