/**
 * The command that makes a plan of an operation, for hints: `cluster stop x`, `state rollback
 * x`, `cluster tls x enable` (operation "tls-enable": no `cluster tls-enable` command exists),
 * `cluster upgrade x --version <the plan's version>`.
 * The cluster's deploy takes a topology and is named by its callers.
 */
export function commandOf(operation: string, cluster: string, version?: string): string {
  if (operation === "rollback") return `state rollback ${cluster}`;
  // An upgrade plan's version is the release it installs.
  if (operation === "upgrade" && version) return `cluster upgrade ${cluster} --version ${version}`;
  const tls = /^tls-(enable|disable)$/.exec(operation);
  if (tls) return `cluster tls ${cluster} ${tls[1]}`;
  return `cluster ${operation} ${cluster}`;
}
