import * as path from "node:path";
import {
  DEFAULT_HOOK_TIMEOUT,
  durationMs,
  type Hook,
  HOOK_EVENTS,
  type HooksSection,
} from "./schema.ts";

/** Topology `hooks:` → the plan's hooks, with defaults filled in. Pure. */
export function compileHooks(section: HooksSection | undefined, workingDir: string): Hook[] {
  const out: Hook[] = [];
  for (const event of HOOK_EVENTS) {
    const spec = section?.[event];
    const list = spec === undefined ? [] : Array.isArray(spec) ? spec : [spec];
    list.forEach((h, i) => {
      out.push({
        name: h.name ?? (list.length > 1 ? `${event}-${i + 1}` : event),
        event,
        command: h.command,
        timeout_ms: durationMs(h.timeout ?? DEFAULT_HOOK_TIMEOUT),
        environment: h.environment ?? {},
        continue_on_error: h.continue_on_error ?? false,
        ...(h.phase ? { phase: h.phase } : {}),
        working_dir: workingDir,
      });
    });
  }
  return out;
}

/**
 * The hooks a recorded cluster's topology declares, compiled to run where its topology file
 * was (relative commands and paths are that file's), or in `clusterDir` when none is recorded:
 * what every command on a deployed cluster runs.
 */
export function recordedHooks(
  meta: { topology: { hooks?: HooksSection }; topology_file?: string },
  clusterDir: string,
): Hook[] {
  return compileHooks(
    meta.topology.hooks,
    meta.topology_file ? path.dirname(meta.topology_file) : clusterDir,
  );
}
