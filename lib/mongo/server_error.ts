/**
 * A server's refusal as a DBA reads it: the message, then the code and its name, as the server
 * sent them (`… (code 103, NewReplicaSetConfigurationIncompatible)`). mongosh prints the name
 * too; without the code a refusal cannot be looked up in MongoDB's error codes list.
 */
export function serverMessage(e: unknown): string {
  const err = e as { message?: unknown; code?: unknown; codeName?: unknown };
  const message = String(err?.message ?? e);
  if (typeof err?.code !== "number") return message;
  const name = typeof err.codeName === "string" && err.codeName ? `, ${err.codeName}` : "";
  return `${message} (code ${err.code}${name})`;
}
