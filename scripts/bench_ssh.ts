/**
 * SSH benchmarks against two real sshd processes (tests/ssh_helpers.ts), figures printed:
 *   - 200 exists/mkdir operations to one host over one multiplexed master connection, against a
 *     fresh ssh connection per command (target: at least 5× faster multiplexed);
 *   - pre-flight of 50 remote host entries (aliases h00…h49 in an ssh config, pointing at the two
 *     sshd addresses; distinct ports), through `mup cluster deploy --plan-only` (target < 3 s).
 */
import * as path from "node:path";
import { stringify } from "yaml";
import { SshExecutor } from "../lib/executor/ssh.ts";
import type { SshSettings } from "../lib/executor/ssh_settings.ts";
import { mup, testMirror } from "../tests/helpers.ts";
import { startSshFixture } from "../tests/ssh_helpers.ts";

async function opsPerSecond(ex: SshExecutor, dir: string, n: number): Promise<number> {
  await ex.probe(); // the connection (or, without a master, one login) is not what is measured
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const p = path.join(dir, `d${i >> 1}`);
    if (i % 2 === 0) await ex.exists(p);
    else await ex.mkdir(p);
  }
  return n / ((performance.now() - t0) / 1000);
}

/** Plans 50 mongod entries (`--plan-only`) and prints the pre-flight checks' durations. */
async function preflight50(
  dir: string,
  name: string,
  entries: { host: string; ssh_port?: number }[],
  flags: string[],
  label: string,
): Promise<void> {
  const topo = path.join(dir, `${name}.yaml`);
  await Deno.writeTextFile(
    topo,
    stringify({
      global: { deploy_dir: path.join(dir, "deploy") },
      mongod_servers: entries.map((e, i) => ({
        ...e,
        port: 40000 + i,
        replica_set: `rs${Math.floor(i / 5)}`,
      })),
    }),
  );
  const args = ["cluster", "deploy", name, topo, "--version", "7.0"];
  const t0 = performance.now();
  const r = await mup(
    [...args, "--mirror", await testMirror(), "--plan-only", "--json", ...flags],
    { home: path.join(dir, "home") },
  );
  const wall = performance.now() - t0;
  if (r.code !== 0) throw new Error(`planning ${label} failed:\n${r.stdout}\n${r.stderr}`);
  const checks = JSON.parse(r.stdout).plan.validation.checks as {
    name: string;
    duration: number;
    message: string;
  }[];
  const total = checks.reduce((a, c) => a + c.duration, 0);
  console.log(`ssh: pre-flight of ${label}:`);
  for (const c of checks) {
    console.log(`  ${c.name.padEnd(13)} ${String(c.duration).padStart(5)} ms  ${c.message}`);
  }
  console.log(
    `  pre-flight total ${total.toFixed(0)} ms (target < 3000 ms); whole plan command ${
      wall.toFixed(0)
    } ms`,
  );
}

export async function benchSsh(): Promise<void> {
  const f = await startSshFixture();
  const dir = await Deno.makeTempDir({ prefix: "mup-bench-ssh-" });
  try {
    const s = f.servers[0];
    const base = (ctl: string, extra: string[] = []): SshSettings => ({
      user: f.user,
      identityFile: f.key,
      connectTimeoutS: 10,
      options: [`UserKnownHostsFile=${f.knownHosts}`, ...extra],
      strictHostKeys: false,
      configFile: "/dev/null",
      controlDir: path.join(dir, ctl),
      controlPersistS: 60,
    });
    const n = 200;
    const mux = new SshExecutor(s.addr, base("ctl"), s.port);
    const muxRate = await opsPerSecond(mux, path.join(dir, "mux"), n);
    await mux.close();
    // ssh keeps the first value of an option: these turn multiplexing off.
    const fresh = new SshExecutor(
      s.addr,
      base("ctl2", ["ControlMaster=no", "ControlPath=none"]),
      s.port,
    );
    const freshRate = await opsPerSecond(fresh, path.join(dir, "fresh"), n);
    console.log(`ssh: ${n} exists/mkdir operations to one host (sshd on ${s.addr}):`);
    console.log(`  one multiplexed master:  ${muxRate.toFixed(0).padStart(5)} ops/s`);
    console.log(`  fresh ssh per command:   ${freshRate.toFixed(0).padStart(5)} ops/s`);
    console.log(`  multiplexed / fresh = ${(muxRate / freshRate).toFixed(1)}× (target ≥ 5×)`);

    // The figure: 50 entries on the two sshd addresses (two hosts, two connections).
    const entries = Array.from({ length: 50 }, (_, i) => {
      const sshd = f.servers[i % 2];
      return { host: sshd.addr, ssh_port: sshd.port };
    });
    await preflight50(dir, "two", entries, f.flags(), "50 host entries on the 2 sshd addresses");
    // A harder case: 50 host names (ssh config aliases), so 50 master connections.
    const config = path.join(dir, "ssh_config");
    const aliases = entries.map((_, i) => `h${String(i).padStart(2, "0")}`);
    await Deno.writeTextFile(
      config,
      aliases.map((h, i) =>
        `Host ${h}\n  HostName ${entries[i].host}\n  Port ${entries[i].ssh_port}\n`
      ).join(""),
    );
    await preflight50(
      dir,
      "fifty",
      aliases.map((host) => ({ host })),
      f.flags().map((a) => (a === "/dev/null" ? config : a)),
      "50 distinct host names (ssh config aliases of the 2 addresses), 50 connections",
    );
  } finally {
    await f.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await benchSsh();
