/**
 * Generic dependency graphs: build and validate, order, critical path, DOT. Knows nothing of
 * plans or operations. The concurrent walker (walk.ts, on p-queue) is imported on its own by
 * what executes graphs, so that planning and validating do not load it.
 */
export { Dag, type DagIssue, type DagNode } from "./dag.ts";
export { type CriticalPath, criticalPath } from "./critical_path.ts";
export { toDot } from "./dot.ts";
