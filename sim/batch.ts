/**
 * The size of a cursor's batch, as find_common.cpp (haveSpaceForNext) bounds it: the count asked
 * for, and never more than 16 MiB of documents (at least one, however large), so that a reply
 * always fits in a message.
 * https://www.mongodb.com/docs/v7.0/tutorial/iterate-a-cursor/#cursor-batches
 */
import { BSON, type Document } from "bson";

/** BSONObjMaxUserSize: the most a batch's documents weigh together. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/** How many of `docs`, from index `from`, the next batch takes: at most `max`, within 16 MiB. */
export function batchCount(docs: Document[], from: number, max: number): number {
  let bytes = 0;
  let n = 0;
  while (n < max && from + n < docs.length) {
    const size = BSON.calculateObjectSize(docs[from + n]);
    if (n > 0 && bytes + size > MAX_BATCH_BYTES) break;
    bytes += size;
    n++;
  }
  return n;
}
