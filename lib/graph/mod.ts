/**
 * Generic dependency graphs: build and validate, order, critical path, DOT, and a concurrent
 * walker. Knows nothing of plans or operations.
 */
export { Dag, type DagIssue, type DagNode } from "./dag.ts";
export { type CriticalPath, criticalPath } from "./critical_path.ts";
export { toDot } from "./dot.ts";
export { walk, type WalkEvent, type WalkOptions, type WalkResult } from "./walk.ts";
