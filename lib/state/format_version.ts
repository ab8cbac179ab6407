/**
 * A persisted document (metadata, apply state, checkpoint, plan) whose format_version is newer
 * than this mup reads was written by a newer mup: said as such, so that nobody restores or moves
 * away a sound file as if it were damaged.
 */
import { MupError } from "../errors.ts";

/** The format a document says it has, when that is newer than `reads`; else undefined. */
export function newerFormat(doc: unknown, reads: number): number | undefined {
  const v = (doc as { format_version?: unknown } | null)?.format_version;
  return typeof v === "number" && Number.isInteger(v) && v > reads ? v : undefined;
}

/** What to say of it: "written by a newer mup (format 2; this mup reads format 1)". */
export function newerFormatText(found: number, reads: number): string {
  return `written by a newer mup (format ${found}; this mup reads format ${reads})`;
}

/** The error for `file`: it is kept as it is, and the fix is the mup that wrote it. */
export function newerFormatError(file: string, found: number, reads: number): MupError {
  return new MupError(`${file} was ${newerFormatText(found, reads)}`, {
    hint: "use the newer mup that wrote it (or upgrade this one); nothing was changed, and the " +
      "file is kept as it is: do not restore or move it away",
    details: { file, format_version: found, reads_format_version: reads },
  });
}
