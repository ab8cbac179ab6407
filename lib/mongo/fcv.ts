/** Reading a server's featureCompatibilityVersion, as every command that needs it does. */
import type { MongoAccess } from "./client.ts";

/** A member's featureCompatibilityVersion: `targetVersion` while a change of it is under way. */
export interface Fcv {
  version: string;
  targetVersion?: string;
}

/**
 * The featureCompatibilityVersion `host:port` reports (getParameter; MongoDB manual:
 * setFeatureCompatibilityVersion, "Get FeatureCompatibilityVersion"); undefined when it does not
 * answer, or answers without one (a mongos, an arbiter). `timeoutMs` as MongoAccess takes it.
 */
export async function readFcv(
  access: Pick<MongoAccess, "adminCommand">,
  host: string,
  port: number,
  timeoutMs?: number,
): Promise<Fcv | undefined> {
  const doc = await access.adminCommand(host, port, {
    getParameter: 1,
    featureCompatibilityVersion: 1,
  }, timeoutMs).catch(() => undefined);
  const f = doc?.featureCompatibilityVersion;
  if (typeof f?.version !== "string") return undefined;
  return typeof f.targetVersion === "string"
    ? { version: f.version, targetVersion: f.targetVersion }
    : { version: f.version };
}

/** "6.0", or "6.0 (changing to 7.0)" while a change is under way. */
export const fcvText = (f: Fcv): string =>
  f.targetVersion ? `${f.version} (changing to ${f.targetVersion})` : f.version;
