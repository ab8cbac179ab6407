/**
 * The command that makes a plan of an operation, for hints: `cluster stop x`, `state rollback
 * x`, `cluster tls x enable` (operation "tls-enable": no `cluster tls-enable` command exists).
 * The cluster's deploy takes a topology and is named by its callers.
 */
export function commandOf(operation: string, cluster: string): string {
  if (operation === "rollback") return `state rollback ${cluster}`;
  const tls = /^tls-(enable|disable)$/.exec(operation);
  if (tls) return `cluster tls ${cluster} ${tls[1]}`;
  return `cluster ${operation} ${cluster}`;
}
