/**
 * Pre-flight of the TLS certificates a plan's starts present. Each started process reads its
 * certificate from its host, which must hold the secrets store's copy (lib/plan/start_files.ts
 * compares them); here the store's copy must be signed by the store's CA. One that is not (put
 * there by hand, or of an earlier CA) would start the member on a certificate its set and its
 * clients refuse: a restart would stop a member that then cannot rejoin, and mup would wait on
 * it as if it were busy. Refused at planning, naming the repair that signs it again.
 */
import type { CheckResult, ValidationIssue } from "../plan/schema.ts";
import { certRef, SECRET } from "../security/settings.ts";
import { verifyCertificate } from "../security/tls.ts";
import { CA_KEY, secretExists, secretPath } from "../security/secrets.ts";

/**
 * The check `store_certificates_signed` and an error per process of `processes` whose stored
 * certificate the stored CA did not sign for its host (`openssl verify`, its reason quoted), with those
 * processes' IDs (`unsigned`: their hosts' copies are not to be compared with the store's). A
 * certificate or CA missing from the store is left to lostSecretIssues and start_files; without
 * openssl the check says it could not run (a warning) rather than refuse.
 *
 * @param repair the command that signs certificates again (a repair: `mup cluster deploy …`).
 */
export async function checkStoreCertificates(
  cluster: string,
  processes: { id: string; host: string }[],
  repair: string,
): Promise<{ check: CheckResult; issues: ValidationIssue[]; unsigned: Set<string> }> {
  const t0 = performance.now();
  const ca = secretPath(cluster, SECRET.ca);
  let unavailable: string | undefined;
  const issues: ValidationIssue[] = [];
  const unsigned = new Set<string>();
  if (await secretExists(cluster, SECRET.ca)) {
    for (const p of processes) {
      if (!(await secretExists(cluster, certRef(p.id)))) continue;
      const cert = secretPath(cluster, certRef(p.id));
      const v = await verifyCertificate(ca, { path: cert }, p.host);
      if ("unavailable" in v) {
        unavailable = v.unavailable;
        break;
      }
      if (v.ok) continue;
      unsigned.add(p.id);
      // Signing needs the CA's key: without it the repair is refused too, so say that first.
      const keyLost = !(await secretExists(cluster, CA_KEY));
      issues.push({
        code: v.misnamed ? "certificate_wrong_host" : "certificate_not_signed",
        severity: "error",
        host: p.host,
        message: `the TLS certificate of ${p.id} in mup's store (${cert}), the one its host ` +
          (v.misnamed
            ? `must hold, is signed by the cluster's CA but for another host: it does not name ` +
              `${p.host} (openssl: ${v.said})`
            : `must hold, does not verify against the cluster's CA (${ca})${
              v.said ? `: ${v.said}` : ""
            }`) +
          ". Started on it, the member would present a certificate its replica set and its " +
          "clients refuse. " + (keyLost
            ? `Signing it again needs the CA's key, which is missing from mup's store too ` +
              `(${secretPath(cluster, CA_KEY)}): put ca.key back from a backup of $MUP_HOME, ` +
              `then sign it with \`${repair}\` (a repair)`
            : `Sign it again with \`${repair}\` (a repair), then plan again`),
      });
    }
  }
  return {
    check: {
      name: "store_certificates_signed",
      status: unavailable ? "warning" : issues.length ? "failed" : "passed",
      message: unavailable
        ? `the certificates could not be verified (openssl: ${unavailable})`
        : issues.length
        ? `${issues.length} certificate(s) a start presents are not the cluster's CA's for their host`
        : "the certificates every start presents are signed by the cluster's CA for their host",
      duration: Math.round(performance.now() - t0),
    },
    issues,
    unsigned,
  };
}
