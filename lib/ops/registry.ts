import type { OperationType } from "../plan/schema.ts";
import { addShard } from "./add_shard.ts";
import { createDirectory } from "./create_directory.ts";
import { downloadBinary } from "./download_binary.ts";
import { generateConfig } from "./generate_config.ts";
import { initReplicaSet } from "./init_replica_set.ts";
import type { Operation } from "./operation.ts";
import { removeDirectory } from "./remove_directory.ts";
import { saveMetadata } from "./save_metadata.ts";
import { startProcess } from "./start_process.ts";
import { stopProcess } from "./stop_process.ts";
import { uploadFile } from "./upload_file.ts";
import { verifyHealth } from "./verify_health.ts";
import { waitForProcess } from "./wait_for_process.ts";

/** Operation type → implementation. Adding a type means one file and one line here. */
export const OPERATIONS: Record<OperationType, Operation> = {
  download_binary: downloadBinary,
  create_directory: createDirectory,
  upload_file: uploadFile,
  generate_config: generateConfig,
  start_process: startProcess,
  wait_for_process: waitForProcess,
  init_replica_set: initReplicaSet,
  add_shard: addShard,
  verify_health: verifyHealth,
  save_metadata: saveMetadata,
  stop_process: stopProcess,
  remove_directory: removeDirectory,
};
