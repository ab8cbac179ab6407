/**
 * A TLS switch (`cluster tls <name> enable|disable`) records the new mode in the metadata only
 * once every member runs it. Cut off part way, the members' configurations hold a mix of tlsMode
 * values while the metadata still records the old mode: a start, restart or repair then starts
 * members on whatever their configuration holds (which the metadata does not describe), and a
 * second switch reads the old mode. Those commands are refused until the switch is finished.
 */
import { MupError } from "../errors.ts";
import { unfinishedApply } from "../state/undeployed.ts";

/**
 * Throws a MupError when the cluster's current apply is a TLS switch that failed, was paused
 * or was cut off, naming it and `mup plan resume <name>`. An apply whose mup still runs is left
 * to the cluster lock. `command` is what the user ran (e.g. "cluster restart").
 */
export async function refuseOverUnfinishedTlsSwitch(
  clusterDir: string,
  cluster: string,
  command: string,
): Promise<void> {
  const u = await unfinishedApply(clusterDir);
  const m = u && /^tls-(enable|disable)$/.exec(u.state.operation);
  if (!u || !m || u.outcome === "running") return;
  const action = m[1];
  throw new MupError(
    `cluster ${cluster}'s TLS ${action} (apply ${u.state.state_id}) ${u.outcome} part way: ` +
      `its members' configurations are between TLS modes, and the metadata still records TLS ` +
      `${action === "enable" ? "off" : "on"} until the switch finishes. \`mup ${command}\` ` +
      "would act on a cluster the metadata does not describe",
    {
      hint: `finish the switch first: \`mup plan resume ${cluster}\` (it goes on from where ` +
        `it stopped); then run \`mup ${command}\` again`,
      details: { state_id: u.state.state_id, apply_status: u.outcome },
    },
  );
}
