/**
 * The first operation of every lifecycle plan records the cluster's status as unknown while it
 * changes (lifecycle_ops.ts metadataOp). A TLS switch's (`cluster tls <name> enable|disable`,
 * plan operation `tls-enable` or `tls-disable`) also records the switch as under way
 * (ClusterMeta.tls_switch): the switch begins there. Failed or cut off before it completed, the
 * switch changed nothing, and a start or a new plan is allowed over it.
 */

/** The ID of the marker operation. */
export const MARK_OP = "mark-status-unknown";

/** The action of a TLS switch's plan operation ("enable" or "disable"); undefined for others. */
export function tlsSwitchAction(operation: string): "enable" | "disable" | undefined {
  const m = /^tls-(enable|disable)$/.exec(operation);
  return m ? m[1] as "enable" | "disable" : undefined;
}

/**
 * Whether a plan of `operation` is a TLS switch that had begun when its operation `opId` ran
 * or failed: `opId` is neither the marker nor the `before_apply` hook (`hook:before_apply`),
 * which run before it. False for any other plan, and when `opId` is unknown.
 */
export function tlsSwitchBegunAt(operation: string, opId: string | undefined): boolean {
  return tlsSwitchAction(operation) !== undefined && opId !== undefined &&
    opId !== MARK_OP && opId !== "hook:before_apply";
}
