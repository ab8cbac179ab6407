import { z } from "zod";
import { HooksSection } from "../hooks/schema.ts";
import { hostProblem } from "./host_name.ts";
import { isLocalMachine } from "./hosts.ts";
import { Duration, durationMs } from "./bounds.ts";

/** mongod/mongos options merged into the generated configuration file. */
const RuntimeConfig = z.record(z.string(), z.unknown());

/** A TCP port; 0 in a topology means "pick a free one" (local hosts only). */
export const Port = z.number().int().min(0).max(65535);

/**
 * A host name, IPv4 address or IPv6 literal: it is passed to ssh and becomes part of process
 * names and file names (host_name.ts says what is wrong with one, and the fix).
 */
export const Host = z.string().superRefine((h, ctx) => {
  const wrong = hostProblem(h);
  if (wrong) ctx.addIssue({ code: "custom", message: wrong.problem, params: { hint: wrong.fix } });
});

const Dirs = {
  deploy_dir: z.string().optional(),
  data_dir: z.string().optional(),
  log_dir: z.string().optional(),
  config_dir: z.string().optional(),
};

/**
 * `global.security`: access control for the whole cluster (never per node). Absent in a recorded
 * topology means the cluster was deployed before mup secured clusters (no auth, no TLS); a new
 * deploy fills it in with the defaults below (see lib/security/settings.ts).
 */
export const SecuritySection = z.object({
  /** Keyfile internal authentication and access control (users). Default true. */
  auth: z.boolean().default(true),
  /** requireTLS on every process, with a cluster CA mup makes. Default false. */
  tls: z.boolean().default(false),
  /** A keyfile of your own on the control machine, used instead of a generated one. */
  keyfile: z.string().min(1).optional(),
  /** The first user's name (role root on admin). Default "admin". */
  admin_user: z.string().regex(
    /^[A-Za-z0-9_.@-]{1,64}$/,
    "must be 1–64 letters, digits, '_', '.', '@' or '-'",
  )
    .default("admin"),
}).strict();
export type SecuritySection = z.infer<typeof SecuritySection>;

/**
 * `global.default_write_concern`: the cluster-wide default write concern deploy and reconfigure
 * set with setDefaultRWConcern (MongoDB 4.4+), instead of the implicit default (`{w:
 * "majority"}`, or `{w: 1}` with arbiters). `w`: "majority" or a number of data-bearing members
 * (1 or more: MongoDB refuses an unacknowledged default); `j`: acknowledged once journaled;
 * `wtimeout`: how long a write waits for it ("5s"; none, or 0: as long as it takes).
 */
export const DefaultWriteConcern = z.object({
  w: z.union([z.literal("majority"), z.number().int().min(1).max(50)]),
  j: z.boolean().optional(),
  // 0 is MongoDB's "no time limit", as getDefaultRWConcern reports it (tester73): none given.
  wtimeout: z.preprocess(
    (v) => (v === 0 || v === "0s" || v === "0ms" ? undefined : v),
    Duration.optional(),
  ),
}).strict().transform((c) => {
  // A 0 read as none leaves no `wtimeout: undefined` key behind.
  const { wtimeout, ...rest } = c;
  return (wtimeout === undefined ? rest : c) as typeof c;
});
export type DefaultWriteConcern = z.infer<typeof DefaultWriteConcern>;

export const GlobalSection = z.object({
  user: z.string().optional(),
  ssh_port: z.number().int().min(1).max(65535).optional(),
  ssh_identity_file: z.string().optional(),
  ...Dirs,
  runtime_config: RuntimeConfig.optional(),
  security: SecuritySection.optional(),
  default_write_concern: DefaultWriteConcern.optional(),
}).strict();

/** SSH port of one host entry, over global.ssh_port. */
const SshPort = z.number().int().min(1).max(65535).optional();

export const MongodServer = z.object({
  host: Host,
  port: Port.default(27017),
  ssh_port: SshPort,
  replica_set: z.string().regex(/^[A-Za-z0-9_-]+$/, "must be letters, digits, '_' and '-' only")
    .optional(),
  priority: z.number().min(0).max(1000).optional(),
  votes: z.number().int().min(0).max(1).optional(),
  hidden: z.boolean().optional(),
  arbiter_only: z.boolean().optional(),
  ...Dirs,
  runtime_config: RuntimeConfig.optional(),
}).strict();
export type MongodServer = z.infer<typeof MongodServer>;

export const MongosServer = z.object({
  host: Host,
  port: Port.default(27017),
  ssh_port: SshPort,
  deploy_dir: z.string().optional(),
  log_dir: z.string().optional(),
  config_dir: z.string().optional(),
  runtime_config: RuntimeConfig.optional(),
}).strict();
export type MongosServer = z.infer<typeof MongosServer>;

/** The topology file: the TiUP-style format users of the earlier mup already write. */
export const Topology = z.object({
  global: GlobalSection.default({}),
  mongod_servers: z.array(MongodServer).default([]),
  config_servers: z.array(MongodServer).default([]),
  mongos_servers: z.array(MongosServer).default([]),
  hooks: HooksSection.optional(),
}).strict();
export type Topology = z.infer<typeof Topology>;

export const TopologyKind = z.enum(["standalone", "replica_set", "sharded"]);
export type TopologyKind = z.infer<typeof TopologyKind>;

export function topologyKind(t: Topology): TopologyKind {
  if (t.mongos_servers.length > 0 || t.config_servers.length > 0) return "sharded";
  if (t.mongod_servers.some((s) => s.replica_set)) return "replica_set";
  return "standalone";
}

/**
 * True when a topology host is the control machine: any loopback name or address or the
 * machine's own host name (see hosts.ts `hostKey`).
 */
export function isLocalHost(host: string): boolean {
  return isLocalMachine(host);
}

/**
 * The setDefaultRWConcern `defaultWriteConcern` document for `c`: `{w, j?, wtimeout? (ms)}`.
 */
export function writeConcernDocument(
  c: DefaultWriteConcern,
): { w: string | number; j?: boolean; wtimeout?: number } {
  return {
    w: c.w,
    ...(c.j !== undefined ? { j: c.j } : {}),
    ...(c.wtimeout !== undefined ? { wtimeout: durationMs(c.wtimeout) } : {}),
  };
}
