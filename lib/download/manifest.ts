import * as path from "node:path";
import { z } from "zod";
import { MupError } from "../errors.ts";
import { reason } from "../util/read_text.ts";
import type { Release } from "../plan/schema.ts";

export const OFFICIAL_MANIFEST = "https://downloads.mongodb.org/full.json";
export const PERCONA_ORIGIN = "https://downloads.percona.com";

/** The parts of the download center's full.json that mup reads. */
export const Manifest = z.object({
  versions: z.array(
    z.object({
      version: z.string(),
      production_release: z.boolean().optional(),
      release_candidate: z.boolean().optional(),
      downloads: z.array(
        z.object({
          edition: z.string(),
          target: z.string().optional(),
          arch: z.string().optional(),
          archive: z.object({
            url: z.string(),
            sha256: z.string().optional(),
            sha1: z.string().optional(),
          }),
        }).passthrough(),
      ),
    }).passthrough(),
  ),
});
export type Manifest = z.infer<typeof Manifest>;

/** Where downloads come from: the official center, or a mirror with its layout. */
export interface Source {
  /** Base of the mirror (URL or directory), or undefined for the official center. */
  mirror?: string;
}

/**
 * A mirror's hints name where mup took it from without knowing which: `--mirror`, else
 * `$MUP_MIRROR`, else the mirror recorded with the cluster (scale-out, upgrade, repair).
 */
const MIRROR_FROM = "--mirror, else $MUP_MIRROR, else the one recorded with the cluster";

/**
 * Throws a MupError naming the mirror when it is a URL of a scheme mup cannot read
 * (`ftp://`, `s3://`…): only http, https, file URLs and plain paths are mirrors.
 */
export function checkMirror(mirror: string | undefined): void {
  const scheme = mirror && /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(mirror)?.[1];
  if (scheme && !/^(https?|file)$/i.test(scheme)) {
    throw new MupError(`mirror ${mirror}: mup cannot read ${scheme}:// URLs`, {
      hint: `give an http://, https:// or file:// URL, or a directory path (${MIRROR_FROM})`,
    });
  }
}

/** A mirror as a plan records it: a URL as given, a directory made absolute. */
const mirrorOf = (m: string) => /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(m) ? m : path.resolve(m);

/** Maps an official URL onto the mirror: same path under the mirror's base. */
export function mirrorUrl(url: string, source: Source): string {
  if (!source.mirror) return url;
  const u = new URL(url);
  return joinBase(source.mirror, u.pathname);
}

function joinBase(base: string, rel: string): string {
  if (/^(https?|file):\/\//.test(base)) {
    return base.replace(/\/+$/, "") + "/" + rel.replace(/^\/+/, "");
  }
  return path.join(base, rel);
}

/** Reads a URL (http, https, file) or a local path. */
export async function fetchBytes(where: string): Promise<Uint8Array> {
  if (/^https?:\/\//.test(where)) {
    const r = await fetch(where);
    if (!r.ok) throw new MupError(`download of ${where} failed: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  }
  const file = where.startsWith("file://") ? new URL(where).pathname : where;
  return await Deno.readFile(file);
}

export async function loadManifest(source: Source): Promise<Manifest> {
  checkMirror(source.mirror);
  const where = source.mirror ? joinBase(source.mirror, "full.json") : OFFICIAL_MANIFEST;
  let text: string;
  try {
    text = new TextDecoder().decode(await fetchBytes(where));
  } catch (e) {
    // fetch's own message ("fetch failed") hides why: its cause says (connection refused…).
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    const why = cause ? `${(e as Error).message}: ${cause}` : reason(e as Error);
    throw new MupError(`cannot read the version manifest ${where}: ${why}`, {
      hint: source.mirror
        ? `check the mirror ${source.mirror} (${MIRROR_FROM}): a mirror holds the download center's full.json ` +
          "and the archives it names (`deno run -A sim/mirror.ts <dir>` builds one with the " +
          "simulator)"
        : "without network access, pass --mirror <dir|url> (a local mirror of the download center)",
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new MupError(`version manifest ${where} is not JSON: ${(e as Error).message}`, {
      ...(source.mirror ? { hint: `check the mirror ${source.mirror} (${MIRROR_FROM})` } : {}),
    });
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    throw new MupError(`version manifest ${where} is not in the download center's format`, {
      ...(source.mirror ? { hint: `check the mirror ${source.mirror} (${MIRROR_FROM})` } : {}),
    });
  }
  return parsed.data;
}

export interface Platform {
  os: string;
  arch: "x86_64" | "aarch64";
  /** Download-center target, e.g. ubuntu2204, debian12, rhel8. */
  target: string;
}

/** Numeric order of versions (`7.0.14` after `7.0.5`; a Percona build number last). */
export function cmpVersion(a: string, b: string): number {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** The release series of a version: "7.0" of "7.0.14" (and of Percona's "7.0.14-8"). */
export const majorMinor = (version: string): string => version.split(".").slice(0, 2).join(".");

/** `7.0` → the newest production 7.0.x in the manifest; `7.0.5` as given. */
export function resolveRelease(
  m: Manifest,
  spec: string,
  platform: Platform,
  source: Source,
): Release {
  if (!/^\d+\.\d+(\.\d+)?$/.test(spec)) {
    throw new MupError(`invalid version "${spec}"`, { hint: "use a release like 7.0 or 7.0.5" });
  }
  const matching = m.versions
    .filter((
      v,
    ) => (spec.split(".").length === 3 ? v.version === spec : v.version.startsWith(spec + ".")))
    .filter((v) =>
      spec.split(".").length === 3 || (v.production_release !== false && !v.release_candidate)
    )
    .sort((a, b) => cmpVersion(b.version, a.version));
  if (matching.length === 0) {
    // A patch release its series does not have: that series' releases, newest first.
    const series = m.versions.map((v) => v.version)
      .filter((v) => majorMinor(v) === majorMinor(spec) && /^\d+\.\d+\.\d+$/.test(v))
      .sort((a, b) => cmpVersion(b, a));
    const known = [...new Set(m.versions.map((v) => majorMinor(v.version)))].join(", ");
    throw new MupError(`MongoDB ${spec} is not in the version manifest`, {
      hint: series.length
        ? `releases of ${majorMinor(spec)}: ${series.slice(0, 5).join(", ")}${
          series.length > 5 ? ` and ${series.length - 5} older` : ""
        } (\`--version ${majorMinor(spec)}\` is the newest)`
        : `available series: ${known}`,
    });
  }
  const v = matching[0];
  const dl = v.downloads.find((d) => d.arch === platform.arch && d.target === platform.target) ??
    v.downloads.find((d) => d.arch === platform.arch && d.edition === "base");
  if (!dl || !dl.archive.sha256) {
    throw new MupError(
      `MongoDB ${v.version} has no download for ${platform.target}/${platform.arch}`,
      {
        hint: `targets offered: ${[...new Set(v.downloads.map((d) => d.target))].join(", ")}`,
      },
    );
  }
  const url = mirrorUrl(dl.archive.url, source);
  return {
    version: v.version,
    variant: "mongo",
    platform: `linux-${platform.arch}`,
    url,
    sha256: dl.archive.sha256,
    size_bytes: 0,
    archive_name: path.basename(new URL(dl.archive.url).pathname),
    ...(source.mirror ? { mirror: mirrorOf(source.mirror) } : {}),
  };
}

/** Percona publishes no manifest: the tarball URL follows a fixed pattern and has a .sha256sum. */
export async function resolvePerconaRelease(
  given: string,
  platform: Platform,
  source: Source,
): Promise<Release> {
  const spec = /^\d+\.\d+(\.\d+)?$/.test(given) ? await newestPercona(given, source) : given;
  const m = /^(\d+)\.(\d+)\.(\d+)-(\d+)$/.exec(spec);
  if (!m) {
    throw new MupError(
      `Percona versions are written in full, like 7.0.5-3, or as a series, like 7.0 (got "${given}")`,
      { hint: "--variant mongo (the default) installs MongoDB's own builds" },
    );
  }
  if (platform.arch !== "x86_64") {
    throw new MupError("Percona Server for MongoDB tarballs exist for x86_64 only");
  }
  const name = `percona-server-mongodb-${spec}-x86_64.glibc2.17.tar.gz`;
  const official = `${PERCONA_ORIGIN}/downloads/percona-server-mongodb-${m[1]}.${
    m[2]
  }/percona-server-mongodb-${spec}/binary/tarball/${name}`;
  const url = mirrorUrl(official, source);
  const sumText = new TextDecoder().decode(await fetchBytes(url + ".sha256sum"));
  return {
    version: spec,
    variant: "percona",
    platform: "linux-x86_64",
    url,
    sha256: sumText.trim().split(/\s+/)[0],
    size_bytes: 0,
    archive_name: name,
    ...(source.mirror ? { mirror: mirrorOf(source.mirror) } : {}),
  };
}

/**
 * Names in a directory listing: a local (or file://) mirror's entries, or the links of an HTTP
 * index page (Percona's download site lists each folder). Empty when it cannot be read.
 */
async function listing(where: string): Promise<string[]> {
  try {
    if (/^https?:\/\//.test(where)) {
      const html = new TextDecoder().decode(await fetchBytes(where));
      return [...html.matchAll(/href="([^"?#]+?)\/?"/g)].map((x) => path.basename(x[1]));
    }
    const dir = where.startsWith("file://") ? new URL(where).pathname : where;
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * `7.0` (or `7.0.5`) → the newest Percona release of that series (or patch) its download site
 * lists, like `7.0` means the newest 7.0.x for MongoDB's builds. Throws naming the releases and
 * series there are.
 */
async function newestPercona(spec: string, source: Source): Promise<string> {
  const series = spec.split(".").slice(0, 2).join(".");
  const folder = mirrorUrl(`${PERCONA_ORIGIN}/downloads/percona-server-mongodb-${series}/`, source);
  const releases = (await listing(folder))
    .map((n) => /^percona-server-mongodb-(\d+\.\d+\.\d+-\d+)$/.exec(n)?.[1])
    .filter((v): v is string => !!v && (v.startsWith(`${spec}.`) || v.startsWith(`${spec}-`)))
    .sort((a, b) => cmpVersion(b, a));
  if (releases.length) return releases[0];
  const all = (await listing(mirrorUrl(`${PERCONA_ORIGIN}/downloads/`, source)))
    .map((n) => /^percona-server-mongodb-(\d+\.\d+)$/.exec(n)?.[1])
    .filter((v): v is string => !!v)
    .sort(cmpVersion);
  const others = (await listing(folder))
    .map((n) => /^percona-server-mongodb-(\d+\.\d+\.\d+-\d+)$/.exec(n)?.[1])
    .filter((v): v is string => !!v);
  throw new MupError(`Percona Server for MongoDB has no ${spec} release at ${folder}`, {
    hint: [
      others.length ? `releases of ${series}: ${others.sort(cmpVersion).join(", ")}` : "",
      all.length ? `series there: ${all.join(", ")}` : "",
      "give a full version (like 7.0.5-3), or --variant mongo for MongoDB's own builds",
    ].filter(Boolean).join("; "),
  });
}

/** The local platform in download-center terms. */
export async function localPlatform(): Promise<Platform> {
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
  let target = "ubuntu2204";
  try {
    const osr = await Deno.readTextFile("/etc/os-release");
    const id = /^ID="?([^"\n]+)/m.exec(osr)?.[1] ?? "";
    const ver = /^VERSION_ID="?([^"\n]+)/m.exec(osr)?.[1] ?? "";
    if (id === "ubuntu") target = `ubuntu${ver.replace(".", "")}`;
    else if (id === "debian") target = `debian${ver.split(".")[0]}`;
    else if (["rhel", "centos", "rocky", "almalinux"].includes(id)) {
      target = `rhel${ver.split(".")[0]}`;
    } else if (id === "amzn") target = "amazon2023";
  } catch {
    // Not Linux, or an unusual one: fall back to the most common target.
  }
  return { os: Deno.build.os, arch, target };
}

/** Size of the archive, for estimates: HEAD for URLs, stat for files. */
export async function archiveSize(url: string): Promise<number> {
  try {
    if (/^https?:\/\//.test(url)) {
      const r = await fetch(url, { method: "HEAD" });
      return Number(r.headers.get("content-length") ?? 0);
    }
    return (await Deno.stat(url.startsWith("file://") ? new URL(url).pathname : url)).size;
  } catch {
    return 0;
  }
}
