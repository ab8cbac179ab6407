import { canonicalHash } from "../util/hash.ts";
import type { Plan } from "./schema.ts";

export function planHash(plan: Omit<Plan, "content_hash"> | Plan): string {
  const { content_hash: _ignored, ...rest } = plan as Plan;
  return "sha256:" + canonicalHash(rest);
}

export function sealPlan(plan: Omit<Plan, "content_hash">): Plan {
  return { ...plan, content_hash: planHash(plan) };
}
