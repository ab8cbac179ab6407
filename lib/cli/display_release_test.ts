import assert from "node:assert/strict";
import { mixedVersions, versionLine } from "./display_release.ts";
import type { ClusterMeta } from "../state/meta.ts";
import type { ProcessStatus } from "../probe/live.ts";

const meta = { version: "6.0.19", variant: "mongo" } as ClusterMeta;
const rows = (...versions: string[]) => versions.map((version) => ({ version }) as ProcessStatus);

Deno.test("versionLine: the recorded release, what runs when some differ, and when none runs it", () => {
  assert.equal(versionLine(meta, undefined, rows("6.0.19", "6.0.19")), "Version: 6.0.19 (mongo)");
  assert.equal(
    versionLine(meta, undefined, rows("6.0.19", "7.0.14")),
    "Version: 6.0.19 (mongo) (mixed: 1 of 2 processes run 7.0.14)",
  );
  assert.equal(
    versionLine(meta, undefined, rows("7.0.14", "7.0.14")),
    "Version: 6.0.19 (mongo) (recorded; all 2 processes that answer run 7.0.14)",
  );
});

Deno.test("versionLine: the --set-fcv that raises the feature compatibility is named only while every process that answers runs the recorded release (tester85)", () => {
  const recorded = { ...meta, name: "rs1", version: "7.0.5" } as ClusterMeta;
  assert.equal(
    versionLine(recorded, "6.0", rows("7.0.5", "7.0.5")),
    "Version: 7.0.5 (mongo), feature compatibility 6.0 (`mup cluster upgrade rs1 --version 7.0.5 " +
      "--set-fcv` raises it)",
  );
  assert.equal(
    versionLine(recorded, "6.0", rows("7.0.5", "7.0.14")),
    "Version: 7.0.5 (mongo) (mixed: 1 of 2 processes run 7.0.14), feature compatibility 6.0",
  );
});

Deno.test("versionLine: with some processes down, the mixed count is of those that answer, and says so (tester45)", () => {
  const down = { version: undefined } as unknown as ProcessStatus;
  assert.equal(
    versionLine(meta, undefined, [...rows("6.0.19", "7.0.14", "7.0.14"), down]),
    "Version: 6.0.19 (mongo) (mixed: 2 of the 3 processes that answer run 7.0.14; 1 does not " +
      "answer)",
  );
});

Deno.test("mixedVersions: fields for --json, each other version with its processes, counted among those that answer (tester49)", () => {
  const row = (id: string, version?: string) => ({ id, version }) as ProcessStatus;
  assert.equal(mixedVersions(meta, [row("a", "6.0.19"), row("b", "6.0.19")]), undefined);
  assert.deepEqual(
    mixedVersions(meta, [
      row("c", "7.0.14"),
      row("a", "6.0.19"),
      row("b", "7.0.14"),
      row("d"),
      row("e", "8.0.4"),
    ]),
    {
      answering: 4,
      not_answering: 1,
      others: [{ version: "7.0.14", processes: ["b", "c"] }, {
        version: "8.0.4",
        processes: ["e"],
      }],
    },
  );
});
