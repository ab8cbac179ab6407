import type { OperationType } from "../plan/schema.ts";
import { addMembers } from "./add_members.ts";
import { reconfigMembers } from "./reconfig_members.ts";
import { addShard } from "./add_shard.ts";
import { removeMembers } from "./remove_members.ts";
import { removeShard } from "./remove_shard.ts";
import { createUser } from "./create_user.ts";
import { generateSecret } from "./generate_secret.ts";
import { archiveCluster } from "./archive_cluster.ts";
import { markRolledBack } from "./mark_rolled_back.ts";
import { setParameter } from "./set_parameter.ts";
import { setBalancer } from "./set_balancer.ts";
import { setDefaultWriteConcern } from "./set_default_write_concern.ts";
import { setFcv } from "./set_fcv.ts";
import { stepDown } from "./step_down.ts";
import { updateMetadata } from "./update_metadata.ts";
import { waitForMemberState } from "./wait_for_member_state.ts";
import { waitForPrimary } from "./wait_for_primary.ts";
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
  step_down: stepDown,
  wait_for_primary: waitForPrimary,
  wait_for_member_state: waitForMemberState,
  update_metadata: updateMetadata,
  archive_cluster: archiveCluster,
  mark_rolled_back: markRolledBack,
  generate_secret: generateSecret,
  create_user: createUser,
  set_parameter: setParameter,
  set_balancer: setBalancer,
  set_fcv: setFcv,
  set_default_write_concern: setDefaultWriteConcern,
  add_members: addMembers,
  remove_members: removeMembers,
  remove_shard: removeShard,
  reconfig_members: reconfigMembers,
};
