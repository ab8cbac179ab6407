/** A release resolved for a machine: the version asked, of a variant, for an architecture. */
import { MupError } from "../errors.ts";
import type { Release, Variant } from "../plan/schema.ts";
import {
  archiveSize,
  loadManifest,
  localPlatform,
  resolvePerconaRelease,
  resolveRelease,
} from "./manifest.ts";

/**
 * `7.0` → the newest 7.0.x of the manifest (official or Percona's, from `mirror` or the
 * official center) for the control machine's platform, or for `arch` (`uname -m`, normalised:
 * x86_64, aarch64) on it, with its archive's size. Throws MupError for an architecture MongoDB
 * publishes no Linux builds of, and (via the resolvers) for an unknown version.
 */
export async function resolveReleaseFor(
  version: string,
  variant: Variant,
  mirror?: string,
  arch?: string,
): Promise<Release> {
  const local = await localPlatform();
  if (arch !== undefined && arch !== "x86_64" && arch !== "aarch64") {
    throw new MupError(`MongoDB publishes no Linux ${arch} builds (only x86_64 and aarch64)`);
  }
  const platform = arch ? { ...local, arch: arch as typeof local.arch } : local;
  const source = { mirror };
  const r = variant === "percona"
    ? await resolvePerconaRelease(version, platform, source)
    : resolveRelease(await loadManifest(source), version, platform, source);
  r.size_bytes = await archiveSize(r.url);
  return r;
}
