/**
 * TLS as `net.tls.mode: requireTLS` asks for it: the listener speaks only TLS with the
 * certificate and key of `net.tls.certificateKeyFile` (one PEM file holding both, as mongod reads
 * it), and members connect to each other over TLS trusting `net.tls.CAFile`. allowTLS and
 * preferTLS (plain and TLS on one port) are not acted on.
 */
import type { ServerOptions } from "./options.ts";

export interface TlsSettings {
  cert: string;
  key: string;
  /** PEM of the CA that signs the other members' certificates. */
  ca?: string;
}

/** The TLS settings of a process started with requireTLS; undefined without TLS. */
export function tlsSettings(opts: ServerOptions): TlsSettings | undefined {
  const net = opts.parsed.net as { tls?: Record<string, unknown> } | undefined;
  const tls = net?.tls ?? (opts.parsed.net as { ssl?: Record<string, unknown> } | undefined)?.ssl;
  const mode = tls?.mode;
  if (mode !== "requireTLS" && mode !== "requireSSL") return undefined;
  const file = (tls?.certificateKeyFile ?? tls?.PEMKeyFile) as string | undefined;
  if (!file) {
    throw new Error("need tlsCertificateKeyFile or certificateSelector when TLS is enabled");
  }
  const pem = Deno.readTextFileSync(file);
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  const key = pem.match(
    /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/,
  );
  if (!certs || !key) {
    throw new Error(`cannot read certificate and private key from PEM file ${file}`);
  }
  const caFile = tls?.CAFile as string | undefined;
  return {
    cert: certs.join("\n") + "\n",
    key: key[0] + "\n",
    ca: caFile ? Deno.readTextFileSync(caFile) : undefined,
  };
}
