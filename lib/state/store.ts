import { z } from "zod";
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { listDir } from "../plan/store.ts";
import { exists, privateDir, syncDir, writeFileAtomic } from "./atomic.ts";
import { Journal } from "./journal.ts";
import { newerFormat, newerFormatError } from "./format_version.ts";
import { checkIdentifier, insideStore } from "../util/ident.ts";
import {
  ApplyState,
  type Checkpoint,
  type CheckpointRef,
  type ExecutionError,
  JournalEntry,
  type LogEntry,
  type OperationState,
  type PhaseState,
  STATE_FORMAT_VERSION,
} from "./schema.ts";

/** A state file that cannot be read or is damaged. */
export interface UnreadableState {
  state_id: string;
  file: string;
  reason: string;
}

/** StateStore.newest(). */
export interface NewestApply {
  id?: string;
  /** Named by current-apply.json, or (that missing or damaged) found by the states' records. */
  from: "pointer" | "records";
  /** State files that cannot be read (only looked for when `from` is records). */
  unreadable: UnreadableState[];
  /** What is wrong with a current-apply.json that is there but cannot be trusted. */
  pointerProblem?: string;
}

/**
 * Apply states of one cluster, in the specification's layout:
 * `state/apply-<id>.json` (snapshot), `apply-<id>.journal` (changes since), checkpoints in
 * `apply-<id>-checkpoints/`, and `current-apply.json` → the newest apply.
 */
export class StateStore {
  readonly dir: string;

  constructor(readonly clusterDir: string) {
    this.dir = path.join(clusterDir, "state");
  }

  /** The files of a state ID: the ID is checked and each path proven inside the state dir. */
  private file(id: string, suffix: string): string {
    checkIdentifier("state ID", id);
    return insideStore(this.dir, path.join(this.dir, `${id}${suffix}`));
  }
  snapshotPath(id: string): string {
    return this.file(id, ".json");
  }
  journalPath(id: string): string {
    return this.file(id, ".journal");
  }
  checkpointDir(id: string): string {
    return this.file(id, "-checkpoints");
  }

  async writeSnapshot(state: ApplyState): Promise<void> {
    await writeFileAtomic(
      this.snapshotPath(state.state_id),
      JSON.stringify(ApplyState.parse(state), null, 1),
    );
  }

  async setCurrent(id: string): Promise<void> {
    checkIdentifier("state ID", id);
    const link = insideStore(this.dir, path.join(this.dir, "current-apply.json"));
    const tmp = `${link}.tmp-${Deno.pid}`;
    await Deno.remove(tmp).catch(() => {});
    await Deno.symlink(`${id}.json`, tmp);
    await Deno.rename(tmp, link);
    await syncDir(this.dir);
  }

  /** `state/current-apply.json`: the link to the newest apply's snapshot. */
  get pointerPath(): string {
    return path.join(this.dir, "current-apply.json");
  }

  /**
   * What `current-apply.json` names: the apply ID, or the reason it cannot be trusted (not the
   * link mup writes, naming something other than a state file, or a state file that is gone).
   * Neither when it is missing.
   */
  async readPointer(): Promise<{ id?: string; problem?: string }> {
    const link = this.pointerPath;
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(link);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return {};
      return { problem: `${link} cannot be read: ${(e as Error).message}` };
    }
    if (!info.isSymlink) {
      return { problem: `${link} is damaged: it is not the link to an apply state mup writes` };
    }
    const target = await Deno.readLink(link);
    const m = /^(apply-[A-Za-z0-9_-]+)\.json$/.exec(target);
    if (!m) return { problem: `${link} is damaged: it names "${target}", not an apply state` };
    if (!(await this.exists(m[1]))) {
      return {
        problem: `${link} names apply ${m[1]}, whose file ${this.snapshotPath(m[1])} is gone`,
      };
    }
    return { id: m[1] };
  }

  /**
   * The cluster's newest apply: the one `current-apply.json` names, else (the link lost or
   * damaged) the newest by the states' own records (started_at). Then `unreadable` lists the
   * state files that cannot be read, any of which may be newer; `problem` says what is wrong
   * with a link that is there.
   */
  async newest(): Promise<NewestApply> {
    const pointer = await this.readPointer();
    if (pointer.id) {
      return {
        id: await this.rollbackUnended(pointer.id) ?? pointer.id,
        from: "pointer",
        unreadable: [],
      };
    }
    const { states, unreadable } = await this.scan();
    return {
      id: states.at(-1)?.state_id,
      from: "records",
      unreadable,
      ...(pointer.problem ? { pointerProblem: pointer.problem } : {}),
    };
  }

  /**
   * When apply `id` was rolled back by an apply that has not recorded its end (cut off after its
   * last operation, which points the cluster back at `id`), that apply's ID: it is the newest
   * until it ends, and a resume ends it.
   */
  private async rollbackUnended(id: string): Promise<string | undefined> {
    const st = await this.load(id).catch(() => undefined);
    const by = st?.status === "rolled_back" ? st.rolled_back_by : undefined;
    if (!by || by === id || !(await this.exists(by))) return undefined;
    const rollback = await this.load(by).catch(() => undefined);
    return rollback && rollback.status !== "completed" && rollback.status !== "rolled_back"
      ? by
      : undefined;
  }

  /** The newest apply's ID (newest()), undefined when the cluster has none. */
  async currentId(): Promise<string | undefined> {
    return (await this.newest()).id;
  }

  /** Snapshot plus every journal entry after it. */
  async load(id: string): Promise<ApplyState> {
    let raw: unknown;
    try {
      raw = JSON.parse(await Deno.readTextFile(this.snapshotPath(id)));
    } catch (e) {
      const file = this.snapshotPath(id);
      const list = `\`mup state list ${path.basename(this.clusterDir)}\` shows the states`;
      throw new MupError(`apply state ${id} (${file}) cannot be read: ${(e as Error).message}`, {
        hint: e instanceof Deno.errors.NotFound
          ? list
          : `restore ${file} from a backup, or move it away to go on without that apply's record ` +
            `(${list})`,
      });
    }
    const newer = newerFormat(raw, STATE_FORMAT_VERSION);
    if (newer !== undefined) {
      throw newerFormatError(this.snapshotPath(id), newer, STATE_FORMAT_VERSION);
    }
    const parsed = ApplyState.safeParse(raw);
    if (!parsed.success) {
      throw new MupError(
        `apply state ${this.snapshotPath(id)} is damaged: ${
          parsed.error.issues.slice(0, 3).map((i) => `${z.core.toDotPath(i.path)}: ${i.message}`)
            .join("; ")
        }`,
        {
          hint: `restore ${this.snapshotPath(id)} from a backup, or move it away to go on ` +
            "without that apply's record (`mup state list <cluster>` shows the states)",
        },
      );
    }
    const state = parsed.data;
    for (const line of await Journal.read(this.journalPath(id))) {
      const e = JournalEntry.safeParse(line);
      if (!e.success || e.data.seq <= state.journal_seq) continue;
      applyJournal(state, e.data);
    }
    return state;
  }

  /** The readable states, oldest first (by started_at). */
  async list(): Promise<ApplyState[]> {
    return (await this.scan()).states;
  }

  /** Every `apply-*.json`: the readable states oldest first, and those that cannot be read. */
  async scan(): Promise<{ states: ApplyState[]; unreadable: UnreadableState[] }> {
    const states: ApplyState[] = [];
    const unreadable: UnreadableState[] = [];
    for (const f of await listDir(this.dir)) {
      if (!/^apply-[^.]+\.json$/.test(f)) continue;
      const id = f.slice(0, -5);
      try {
        states.push(await this.load(id));
      } catch (e) {
        unreadable.push({
          state_id: id,
          file: path.join(this.dir, f),
          reason: e instanceof MupError ? e.message : String(e),
        });
      }
    }
    return { states: states.sort((a, b) => a.started_at.localeCompare(b.started_at)), unreadable };
  }

  exists(id: string): Promise<boolean> {
    return exists(this.snapshotPath(id));
  }
}

function applyJournal(state: ApplyState, e: JournalEntry): void {
  // The state was last updated by its newest record, whatever its kind (ISO times compare as
  // strings): an apply killed between snapshots says when its last operation moved.
  const seen = (t?: string) => {
    if (t && t > state.updated_at) state.updated_at = t;
  };
  switch (e.kind) {
    case "op":
      state.operation_states[e.state.id] = e.state;
      seen(e.state.completed_at ?? e.state.started_at);
      break;
    case "phase":
      state.phase_states[e.state.name] = e.state;
      seen(e.state.completed_at ?? e.state.started_at);
      break;
    case "status":
      state.status = e.status;
      state.current_phase = e.current_phase;
      state.updated_at = e.at;
      if (e.completed_at) state.completed_at = e.completed_at;
      break;
    case "error":
      state.errors.push(e.error);
      break;
    case "log":
      state.execution_log.push(e.entry);
      break;
    case "checkpoint":
      state.checkpoints.push(e.checkpoint);
      break;
  }
  state.journal_seq = e.seq;
}

/**
 * The live state of one apply: every change goes to memory and to the journal (fsync'd, group
 * committed) before the caller continues; snapshots at checkpoints keep loading fast.
 */
export class StateWriter {
  private journal: Journal;
  private seq: number;

  constructor(readonly store: StateStore, readonly state: ApplyState) {
    this.journal = new Journal(store.journalPath(state.state_id));
    this.seq = state.journal_seq;
  }

  async open(): Promise<void> {
    await privateDir(this.store.dir);
    await this.store.writeSnapshot(this.state);
    await this.journal.open();
    await this.store.setCurrent(this.state.state_id);
  }

  // deno-lint-ignore no-explicit-any
  private record(entry: Record<string, any> & { kind: JournalEntry["kind"] }): Promise<void> {
    const full = { ...entry, seq: ++this.seq } as JournalEntry;
    applyJournal(this.state, full);
    return this.journal.append(full);
  }

  /**
   * Records an operation's state. Finished states are awaited until fsync'd; others ride along
   * in the next group commit (losing one in a crash is harmless: resume probes the world).
   */
  op(s: OperationState): Promise<void> {
    // A copy: callers go on changing their object (retries, executions) after recording it.
    const p = this.record({ kind: "op", state: { ...s } });
    if (s.status === "running" || s.status === "pending") {
      p.catch(() => {});
      return Promise.resolve();
    }
    return p;
  }
  phase(s: PhaseState): Promise<void> {
    return this.record({ kind: "phase", state: { ...s } });
  }
  status(status: ApplyState["status"], currentPhase = this.state.current_phase): Promise<void> {
    const at = new Date().toISOString();
    const done = status === "completed" || status === "failed" || status === "paused";
    return this.record({
      kind: "status",
      status,
      current_phase: currentPhase,
      at,
      ...(done ? { completed_at: at } : {}),
    });
  }
  error(e: ExecutionError): Promise<void> {
    return this.record({ kind: "error", error: e });
  }
  log(level: LogEntry["level"], phase: string, message: string, operation?: string): Promise<void> {
    return this.record({
      kind: "log",
      entry: {
        timestamp: new Date().toISOString(),
        level,
        phase,
        message,
        ...(operation ? { operation } : {}),
      },
    });
  }

  /** Writes checkpoint-NNN.json with a full snapshot, then records it and refreshes the snapshot. */
  async checkpoint(phase: string, description: string, id: string): Promise<CheckpointRef> {
    const n = this.state.checkpoints.length + 1;
    checkIdentifier("checkpoint ID", id);
    const dir = this.store.checkpointDir(this.state.state_id);
    const file = insideStore(dir, path.join(dir, `checkpoint-${String(n).padStart(3, "0")}.json`));
    const timestamp = new Date().toISOString();
    const cp: Checkpoint = {
      format_version: STATE_FORMAT_VERSION,
      id,
      description,
      timestamp,
      phase,
      state: JSON.stringify(this.state),
    };
    await writeFileAtomic(file, JSON.stringify(cp));
    const ref: CheckpointRef = { id, description, timestamp, phase, path: file };
    await this.record({ kind: "checkpoint", checkpoint: ref });
    await this.snapshot();
    return ref;
  }

  async snapshot(): Promise<void> {
    await this.store.writeSnapshot(this.state);
  }

  async close(): Promise<void> {
    await this.snapshot();
    this.journal.close();
  }
}
