import * as path from "node:path";
import type { MongodServer, MongosServer, Topology } from "./schema.ts";

export type Role = "mongod" | "config" | "mongos";

export interface NodeDirs {
  deploy: string;
  data: string;
  log: string;
  config: string;
}

/**
 * Directory layout of one process, TiUP style: node overrides win; relative paths are under the
 * global deploy_dir; by default each process gets `<role>-<port>` subdirectories.
 */
export function nodeDirs(
  t: Topology,
  node: MongodServer | MongosServer,
  role: Role,
  defaultDeployDir: string,
): NodeDirs {
  const g = t.global;
  const root = g.deploy_dir ?? defaultDeployDir;
  const under = (p: string) => (path.isAbsolute(p) ? p : path.join(root, p));
  const name = `${role}-${node.port}`;
  const pick = (own: string | undefined, global: string | undefined, dflt: string) =>
    own ? under(own) : path.join(under(global ?? dflt), name);
  return {
    deploy: node.deploy_dir ? under(node.deploy_dir) : path.join(root, name),
    data: pick("data_dir" in node ? node.data_dir : undefined, g.data_dir, "data"),
    log: pick(node.log_dir, g.log_dir, "logs"),
    config: pick(node.config_dir, g.config_dir, "conf"),
  };
}
