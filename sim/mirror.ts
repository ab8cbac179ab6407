/**
 * Builds a local mirror of the MongoDB download center: `full.json` plus tarballs named and laid
 * out like the official ones, whose bin/mongod and bin/mongos start the simulator. mup's
 * downloader then works unchanged against the mirror (a directory, file:// or http:// URL).
 */
import * as path from "node:path";
import { createHash } from "node:crypto";

export const DEFAULT_VERSIONS = ["6.0.19", "7.0.5", "7.0.14", "8.0.4"];
export const PERCONA_VERSIONS = ["7.0.5-3"];

export interface MirrorOptions {
  versions?: string[];
  /** How the wrapper scripts start the simulator: argv before `mongod|mongos`. */
  launcher?: string[];
  /**
   * The architectures to list builds for (x86_64, aarch64); this machine's by default. Every
   * build starts this machine's simulator: another architecture's is for plans of remote hosts
   * that report it.
   */
  arches?: string[];
}

function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** argv that starts the simulator from this checkout, or from a compiled mup. */
export function defaultLauncher(): string[] {
  const exe = Deno.execPath();
  if (path.basename(exe) === "deno") {
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
    return [
      exe,
      "run",
      "-A",
      "--quiet",
      "--no-prompt",
      `--config=${path.join(root, "deno.json")}`,
      path.join(root, "sim", "main.ts"),
    ];
  }
  return [exe, "__simulator"];
}

async function run(cmd: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
}

async function sha256File(file: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(file)).digest("hex");
}

async function makeTarball(
  top: string,
  version: string,
  variant: string,
  launcher: string[],
  out: string,
) {
  const work = await Deno.makeTempDir({ prefix: "mup-mirror-" });
  try {
    const bin = path.join(work, top, "bin");
    await Deno.mkdir(bin, { recursive: true });
    for (const role of ["mongod", "mongos"]) {
      const script = `#!/bin/sh\n# ${variant} ${version} (mup simulator)\nexec ${
        launcher.map(shQuote).join(" ")
      } ${role} --sim-version ${version} --sim-variant ${variant} "$@"\n`;
      await Deno.writeTextFile(path.join(bin, role), script, { mode: 0o755 });
    }
    await Deno.writeTextFile(
      path.join(work, top, "README"),
      `Simulated ${variant} ${version} built by mup.\n`,
    );
    await Deno.mkdir(path.dirname(out), { recursive: true });
    await run("tar", ["-czf", out, "-C", work, top]);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

export async function platformTargets(): Promise<{ arch: string; targets: string[] }> {
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
  const targets = new Set(["ubuntu2204", "rhel8"]);
  try {
    const osr = await Deno.readTextFile("/etc/os-release");
    const id = /^ID="?([^"\n]+)/m.exec(osr)?.[1] ?? "";
    const ver = /^VERSION_ID="?([^"\n]+)/m.exec(osr)?.[1] ?? "";
    if (id === "debian") targets.add(`debian${ver.split(".")[0]}`);
    if (id === "ubuntu") targets.add(`ubuntu${ver.replace(".", "")}`);
  } catch {
    // Keep the defaults.
  }
  return { arch, targets: [...targets] };
}

export async function buildMirror(dir: string, options: MirrorOptions = {}): Promise<string> {
  const versions = options.versions ?? DEFAULT_VERSIONS;
  const launcher = options.launcher ?? defaultLauncher();
  const { arch: here, targets } = await platformTargets();
  const arches = options.arches ?? [here];
  const manifest = { versions: [] as unknown[] };
  for (const version of versions) {
    const downloads = [];
    for (const [arch, target] of arches.flatMap((a) => targets.map((t) => [a, t]))) {
      const name = `mongodb-linux-${arch}-${target}-${version}`;
      const file = path.join(dir, "linux", `${name}.tgz`);
      await makeTarball(name, version, "mongo", launcher, file);
      const sha256 = await sha256File(file);
      await Deno.writeTextFile(`${file}.sha256`, `${sha256}  ${name}.tgz\n`);
      downloads.push({
        edition: "targeted",
        target,
        arch,
        archive: {
          url: `https://fastdl.mongodb.org/linux/${name}.tgz`,
          sha256,
          sha1: "",
          debug_symbols: "",
        },
      });
    }
    manifest.versions.push({
      version,
      githash: createHash("sha1").update(version).digest("hex"),
      date: "2024-01-01",
      production_release: true,
      lts_release: false,
      continuous_release: false,
      release_candidate: false,
      current: version === versions[versions.length - 1],
      downloads,
    });
  }
  for (const spec of PERCONA_VERSIONS) {
    const [mm] = /^\d+\.\d+/.exec(spec)!;
    const name = `percona-server-mongodb-${spec}-x86_64.glibc2.17`;
    const file = path.join(
      dir,
      "downloads",
      `percona-server-mongodb-${mm}`,
      `percona-server-mongodb-${spec}`,
      "binary",
      "tarball",
      `${name}.tar.gz`,
    );
    await makeTarball(name, spec.split("-")[0], "percona", launcher, file);
    await Deno.writeTextFile(`${file}.sha256sum`, `${await sha256File(file)}  ${name}.tar.gz\n`);
  }
  // Newest first, as the download center lists them.
  manifest.versions.reverse();
  await Deno.writeTextFile(path.join(dir, "full.json"), JSON.stringify(manifest, null, 2));
  return dir;
}

if (import.meta.main) {
  const dir = Deno.args[0];
  if (!dir) {
    console.error("usage: mirror.ts <dir> [version,...]");
    Deno.exit(1);
  }
  await buildMirror(path.resolve(dir), { versions: Deno.args[1]?.split(",") });
  console.log(`mirror written to ${path.resolve(dir)}`);
}
