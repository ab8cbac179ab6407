/**
 * The simulator's query errors, and mingo's errors turned into MongoDB's codes and messages for
 * the same mistakes (sim/query.ts runs the engine; callers throw these as command errors).
 */
export class QueryError extends Error {
  constructor(message: string, readonly code = 2, readonly codeName = "BadValue") {
    super(message);
  }
}

/** Converts mingo's errors to MongoDB's codes for the same mistakes. */
export function translate(e: unknown, kind: "query" | "update" | "pipeline"): never {
  if (e instanceof QueryError) throw e;
  const msg = (e as Error).message ?? String(e);
  let m: RegExpExecArray | null;
  if ((m = /unknown top level operator: (\S+)/.exec(msg))) {
    throw new QueryError(`unknown top level operator: ${m[1]}`, 2, "BadValue");
  }
  if ((m = /unknown query operator (\S+)/.exec(msg))) {
    throw new QueryError(`unknown operator: ${m[1]}`, 2, "BadValue");
  }
  if ((m = /Unknown update operator: '(\S+)'/.exec(msg))) {
    throw new QueryError(
      `Unknown modifier: ${
        m[1]
      }. Expected a valid update modifier or pipeline-style update specified as an array`,
      9,
      "FailedToParse",
    );
  }
  if ((m = /unregistered pipeline operator (\$\w+)/.exec(msg))) {
    throw new QueryError(`Unrecognized pipeline stage name: '${m[1]}'`, 40324, "Location40324");
  }
  if ((m = /(?:accumulator|operator|expression) '?(\$\w+)'? is not registered/.exec(msg))) {
    throw new QueryError(`Unrecognized expression '${m[1]}'`, 168, "InvalidPipelineOperator");
  }
  // $convert and its $toInt/$toLong/$toDate shorthands without onError fail with
  // ConversionFailure (241), not a parse error (tester99).
  if ((m = /^cannot convert '(.*)' to (int|long|date)$/s.exec(msg))) {
    throw new QueryError(
      m[2] === "date"
        ? `Error parsing date string '${m[1]}'`
        : `Failed to parse number '${
          m[1]
        }' in $convert with no onError value: Did not consume whole string.`,
      241,
      "ConversionFailure",
    );
  }
  // The engine's $jsonSchema needs a validator it is not given: the simulator has none.
  if (/jsonSchemaValidator/.test(msg)) {
    throw new QueryError("$jsonSchema is not supported by this server", 115, "CommandNotSupported");
  }
  if (kind === "update") throw new QueryError(msg, 9, "FailedToParse");
  throw new QueryError(msg, 2, "BadValue");
}
