/**
 * What the tests of resealed plans share (plan_paths_test, plan_configs_test): a real plan
 * changed and sealed again, so that its content hash is valid (it is no signature), and the
 * check that a refusal is clean.
 */
import assert from "node:assert/strict";
import { sealPlanText } from "../lib/plan/hash.ts";
import { allOperations, type Plan, type PlannedOperation } from "../lib/plan/schema.ts";
import { type MupResult, output } from "./helpers.ts";

/** A one-mongod topology on port `p[0]` (planSharded's topology argument). */
export const standalone = (p: number[]) =>
  `mongod_servers:\n  - { host: localhost, port: ${p[0]} }\n`;

/** A real plan, changed and sealed again, so that its content hash is valid. */
export function reseal(plan: Plan, change: (p: Plan) => void): string {
  const copy = structuredClone(plan);
  change(copy);
  const { content_hash: _, ...unsealed } = copy;
  return sealPlanText(unsealed).text;
}

/** The plan's first operation of `type`. */
export const opOf = (p: Plan, type: string): PlannedOperation =>
  allOperations(p).find((o) => o.type === type)!;

/** Refused with exit 1, without a stack trace or "bug in mup", saying each of `patterns`. */
export function assertRefused(r: MupResult, what: string, ...patterns: RegExp[]): void {
  const all = r.stdout + r.stderr;
  assert.equal(r.code, 1, `${what}: ${output(r)}`);
  assert.doesNotMatch(all, /^\s+at .+:\d+:\d+\)?$/m, `${what}: a stack trace`);
  assert.doesNotMatch(all, /bug in mup/i, what);
  for (const p of patterns) assert.match(all, p, `${what}: ${all}`);
}

/** `s` as a literal inside a RegExp. */
export const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
