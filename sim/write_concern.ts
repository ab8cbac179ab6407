/**
 * Write concern on a replica-set primary, as MongoDB's manual describes it: `w: N` waits for N
 * data-bearing members, `w: "majority"` for a majority of the voting members (all of them data
 * bearing), a tag set name for its `settings.getLastErrorModes` rule; `j` is met by every
 * applied write here (each member commits to its journal before it reports its position).
 * Errors come back as `writeConcernError` beside the applied write, as on a real server.
 */
import { isVoter } from "./newly_added.ts";
import type { Document, Timestamp } from "bson";
import type { ReplSet } from "./replset.ts";
import type { Server } from "./server.ts";
import { CommandError } from "./errors.ts";
import { defaultWriteConcern } from "./rw_defaults.ts";
import { isNumeric, typeName } from "./update_checks.ts";

/** The fields WriteConcernIdl reads; wElectionId, wOpTime and getLastError it ignores. */
const WC_FIELDS = new Set([
  "w",
  "j",
  "wtimeout",
  "fsync",
  "wElectionId",
  "wOpTime",
  "getLastError",
  "provenance",
]);

/** ReadWriteConcernProvenanceSource (read_write_concern_provenance_base.idl). */
const PROVENANCES = new Set([
  "clientSupplied",
  "implicitDefault",
  "customDefault",
  "getLastErrorDefaults",
  "internalWriteDefault",
]);

/** A safeBool's truth: true, or a number other than 0. */
export function isTrue(v: unknown): boolean {
  return v === true || (isNumeric(v) && Number(v) !== 0);
}

/** The most members a replica set has (ReplSetConfig::kMaxMembers): the largest numeric `w`. */
const MAX_MEMBERS = 50;

/**
 * Refuses a write concern MongoDB does not parse, with FailedToParse (9) before anything is
 * written, as WriteConcernOptions::parse and deserializeWriteConcernW (write_concern_options.cpp)
 * do: `w` a number from 0 to 50, a string or a tag document; `j` and `fsync` not both. On a
 * `standalone`, then, a `w` above 1 or a mode other than "majority" is BadValue (2).
 */
export function checkWriteConcern(wc: unknown, standalone = false, command = "insert"): void {
  if (wc === undefined || wc === null) return;
  // The command's IDL reads writeConcern as an object (TypeMismatch otherwise).
  if (typeof wc !== "object" || Array.isArray(wc) || (wc as { _bsontype?: string })._bsontype) {
    throw new CommandError(
      `BSON field '${command}.writeConcern' is the wrong type '${typeName(wc)}', expected type ` +
        "'object'",
      14,
      "TypeMismatch",
    );
  }
  const { w, j, fsync } = wc as Document;
  const fail = (msg: string) => {
    throw new CommandError(msg, 9, "FailedToParse");
  };
  // WriteConcernIdl is strict (write_concern_options.idl): a field it does not know is 40415, a
  // `j` or `fsync` that is no safeBool 14, never a write concern run with the field ignored.
  for (const [field, v] of Object.entries(wc)) {
    if (!WC_FIELDS.has(field)) {
      throw new CommandError(
        `BSON field 'WriteConcernOptions.${field}' is an unknown field.`,
        40415,
        "Location40415",
      );
    }
    if ((field === "j" || field === "fsync") && typeof v !== "boolean" && !isNumeric(v)) {
      throw new CommandError(
        `BSON field 'WriteConcernOptions.${field}' is the wrong type '${
          typeName(v)
        }', expected types '[bool, long, int, decimal, double]'`,
        14,
        "TypeMismatch",
      );
    }
    if (field === "provenance" && typeof v !== "string") {
      throw new CommandError(
        `BSON field 'WriteConcernOptions.provenance' is the wrong type '${typeName(v)}', ` +
          "expected type 'string'",
        14,
        "TypeMismatch",
      );
    }
    if (field === "provenance" && !PROVENANCES.has(v as string)) {
      throw new CommandError(
        `Enumeration value '${v}' for field 'WriteConcernOptions.provenance' is not a valid value.`,
        2,
        "BadValue",
      );
    }
  }
  if (isTrue(j) && isTrue(fsync)) fail("fsync and j options cannot be used together");
  if (typeof w === "number" || (typeof w === "object" && w !== null && "toNumber" in w)) {
    const n = Math.trunc(Number(w));
    if (Number.isNaN(n)) fail("w cannot be NaN");
    if (n < 0 || n > MAX_MEMBERS) {
      fail(`w has to be a non-negative number and not greater than ${MAX_MEMBERS}; found: ${n}`);
    }
  } else if (typeof w === "object" && w !== null && !Object.keys(w).length) {
    fail("tagged write concern requires tags");
  } else if (typeof w === "object" && w !== null && !Object.values(w).every(isNumeric)) {
    fail("tags must be a single level document with only number values");
  } else if (w !== undefined && w !== null && typeof w !== "string" && typeof w !== "object") {
    fail(`w has to be a number, string, or object; found: ${typeName(w)}`);
  }
  // A standalone has no other member to wait for (write_concern.cpp, validateWriteConcern):
  // BadValue before anything is written, not an acknowledgement of what no member did.
  if (standalone && typeof w === "string" && w !== "majority") {
    throw new CommandError(
      `cannot use non-majority 'w' mode ${w} when a host is not a member of a replica set`,
      2,
      "BadValue",
    );
  }
  // A fractional w counts as its whole part (deserializeWriteConcernW: w: 1.9 is w: 1).
  if (standalone && Math.trunc(Number(w)) > 1) {
    throw new CommandError("cannot use 'w' > 1 with a standalone", 2, "BadValue");
  }
}

/**
 * The writeConcernError document MongoDB sends for `code`; `wc` carries the `provenance` its `w`
 * came from (clientSupplied, customDefault or implicitDefault).
 */
function wcError(code: number, codeName: string, errmsg: string, wc: Document): Document {
  return {
    code,
    codeName,
    errmsg,
    errInfo: {
      writeConcern: {
        w: wc.w ?? "majority",
        wtimeout: Number(wc.wtimeout ?? 0),
        ...(wc.j !== undefined ? { j: wc.j } : {}),
        provenance: wc.provenance ?? "clientSupplied",
      },
      ...(code === 64 ? { wtimeout: true } : {}),
    },
  };
}

/** The members (self included) that have applied `ts`. */
function membersWith(rs: ReplSet, ts: Timestamp | undefined): Document[] {
  const me = rs.self();
  return rs.members().filter((m) =>
    !m.arbiterOnly &&
    (m._id === me?._id || rs.memberHas(m._id, ts))
  );
}

/** A majority of voting members, capped by the voting data-bearing members (PSA sets). */
export function writeMajorityCount(rs: ReplSet): number {
  const voters = rs.voters();
  return Math.min(
    Math.floor(voters.length / 2) + 1,
    voters.filter((m) => !m.arbiterOnly).length,
  );
}

/**
 * The write concern a command runs with: `wc` as given, or without `w` the cluster-wide default
 * or the set's implicit default (rw_defaults.ts), with its provenance. Read when the command
 * begins (its operation's write concern is set before it runs), so a setDefaultRWConcern is not
 * held to the value it writes.
 */
export function resolveWriteConcern(
  server: Server,
  config: Document | undefined,
  wc: Document | undefined,
): Document {
  const given = wc ?? {};
  if (given.w !== undefined) return given;
  const fallback = defaultWriteConcern(server, config);
  return { ...fallback.wc, ...given, w: fallback.wc.w, provenance: fallback.provenance };
}

/**
 * Waits until the write at `ts` satisfies `concern` (resolveWriteConcern's). Resolves to
 * undefined when satisfied, or to the writeConcernError document.
 */
export async function awaitWriteConcern(
  rs: ReplSet,
  concern: Document,
  ts: Timestamp | undefined,
): Promise<Document | undefined> {
  const w = concern.w;
  const dataMembers = rs.members().filter((m) => !m.arbiterOnly);
  let satisfied: () => boolean;
  if (typeof w === "number" || (typeof w === "object" && w !== null && "toNumber" in w)) {
    const n = Number(w);
    if (n <= 1) return undefined;
    if (n > dataMembers.length) {
      return wcError(100, "UnsatisfiableWriteConcern", "Not enough data-bearing nodes", concern);
    }
    satisfied = () => membersWith(rs, ts).length >= n;
  } else if (w === "majority") {
    satisfied = () => membersWith(rs, ts).filter(isVoter).length >= writeMajorityCount(rs);
  } else {
    // An object is a tag set of its own ({ dc: 2 }: members of two dc values), as a
    // getLastErrorModes entry is (WriteConcernW's WTags, MongoDB 5.0+).
    const mode = typeof w === "object" && w !== null
      ? w as Document
      : rs.config?.settings?.getLastErrorModes?.[String(w)] as Document | undefined;
    if (!mode) {
      return wcError(
        79,
        "UnknownReplWriteConcern",
        `No write concern mode named '${w}' found in replica set configuration`,
        concern,
      );
    }
    const possible = Object.entries(mode).every(([tag, count]) =>
      new Set(dataMembers.map((m) => m.tags?.[tag]).filter((v) => v !== undefined)).size >=
        Number(count)
    );
    if (!possible) {
      return wcError(
        100,
        "UnsatisfiableWriteConcern",
        "Not enough nodes match write concern mode",
        concern,
      );
    }
    satisfied = () => {
      const have = membersWith(rs, ts);
      return Object.entries(mode).every(([tag, count]) =>
        new Set(have.map((m) => m.tags?.[tag]).filter((v) => v !== undefined)).size >=
          Number(count)
      );
    };
  }
  const wtimeout = Number(concern.wtimeout ?? 0);
  const ok = await rs.waitFor(
    () => satisfied() || rs.state !== 1 || rs.server.shuttingDown,
    wtimeout > 0 ? wtimeout : 2 ** 31 - 1,
  );
  if (ok && satisfied()) return undefined;
  if (rs.server.shuttingDown) {
    return wcError(91, "ShutdownInProgress", "Replication is being shut down", concern);
  }
  if (rs.state !== 1) {
    return wcError(
      189,
      "PrimarySteppedDown",
      "Primary stepped down while waiting for replication",
      concern,
    );
  }
  return wcError(64, "WriteConcernFailed", "waiting for replication timed out", concern);
}
