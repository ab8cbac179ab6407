import { sealPlan } from "../lib/plan/hash.ts";
import type { Plan, PlannedOperation } from "../lib/plan/schema.ts";

/**
 * A plan of create_directory operations only (no servers), for exercising the applier with the
 * mock executor: `phases` phases of `width` independent chains of `depth` operations.
 */
export function syntheticPlan(
  phases: number,
  width: number,
  depth: number,
  hooks: Plan["hooks"] = [],
): Plan {
  const names = ["prepare", "deploy", "initialize", "finalize"];
  const ph = Array.from({ length: phases }, (_, i) => {
    const name = names[i] ?? `phase${i + 1}`;
    const ops: PlannedOperation[] = [];
    for (let w = 0; w < width; w++) {
      for (let d = 0; d < depth; d++) {
        const id = `${name}-${w}-${d}`;
        ops.push({
          id,
          type: "create_directory",
          description: `Create /synthetic/${id}`,
          target: {
            type: "host",
            name: "mock",
            host: "mock",
            params: { paths: JSON.stringify([`/synthetic/${id}`]) },
          },
          pre_conditions: [],
          changes: [{
            resource_type: "directory",
            resource_id: `mock:/synthetic/${id}`,
            action: "create",
          }],
          depends_on: d > 0 ? [`${name}-${w}-${d - 1}`] : [],
          parallel: true,
          estimated_ms: 1,
        });
      }
    }
    return { name, description: name, order: i + 1, operations: ops };
  });
  return sealPlan({
    format_version: 1,
    plan_id: "plan-synthetic",
    operation: "deploy",
    cluster_name: "synthetic",
    created_at: new Date(0).toISOString(),
    mup_version: "test",
    version: "7.0.5",
    variant: "mongo",
    release: {
      version: "7.0.5",
      variant: "mongo",
      platform: "linux-x86_64",
      url: "file:///nope",
      sha256: "0",
      size_bytes: 0,
      archive_name: "x.tgz",
    },
    topology_file: "/nope.yaml",
    topology: {
      global: {},
      mongod_servers: [{ host: "localhost", port: 1 }],
      config_servers: [],
      mongos_servers: [],
    },
    kind: "standalone",
    deploy_dir: "/synthetic",
    validation: { valid: true, errors: [], warnings: [], checks: [] },
    phases: ph,
    hooks,
    resources: {
      hosts: 1,
      total_processes: 1,
      processes_by_role: {},
      ports_used: [1],
      disk_space_gb: 0,
      download_size_mb: 0,
      processes_per_host: {},
    },
    base_state: { lineage: "", serial: 0 },
    dry_run: false,
    environment: {},
  });
}
