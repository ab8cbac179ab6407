/** Where `--plan-file` may write its copy of a plan (lib/plan/store.ts). */
import * as path from "node:path";
import { MupError } from "../errors.ts";
import { shellQuote } from "../executor/shell_quote.ts";
import { liesInside } from "../util/ident.ts";

/**
 * Throws a MupError, before anything is written, when `--plan-file`'s `file` (`root`: the
 * store's storage root):
 * - lies inside one of the folders of MUP_HOME whose files mup writes and checks itself
 *   (storage, cache, ssh): a copy of a plan there would replace one of them (meta.yaml;
 *   admin.json, the cluster's password, which no plan can make again) (tester46);
 * - is in a directory that does not exist (mup makes none for it, as `terraform plan -out`
 *   makes none: a mistyped path would otherwise make directories anywhere), or is one;
 * - is a file without write permission (someone kept it from being replaced) (tester113 #3).
 */
export async function refuseCopyTarget(root: string, file: string): Promise<void> {
  const home = path.dirname(root);
  const mine = ["storage", "cache", "ssh"].map((d) => path.join(home, d))
    .find((d) => liesInside(d, file));
  const refuse = (why: string, hint: string) => {
    throw new MupError(`--plan-file ${file} ${why}: nothing was written`, {
      hint: `${hint}, and plan again`,
    });
  };
  if (mine) {
    refuse(
      `lies inside ${mine}, whose files mup writes and checks itself`,
      "give --plan-file a path outside it (e.g. ./plan.json)",
    );
  }
  const to = path.resolve(file);
  const dir = await Deno.stat(path.dirname(to)).catch(() => undefined);
  if (!dir?.isDirectory) {
    refuse(
      `is in ${path.dirname(to)}, which ${dir ? "is not a directory" : "does not exist"}`,
      `create the directory first (\`mkdir -p ${shellQuote(path.dirname(to))}\`) or give ` +
        "--plan-file a path in one that exists",
    );
  }
  const there = await Deno.stat(to).catch(() => undefined);
  if (there?.isDirectory) {
    refuse(
      "is a directory",
      `give --plan-file a file's path (e.g. ${path.join(file, "plan.json")})`,
    );
  }
  if (there && ((there.mode ?? 0o600) & 0o222) === 0) {
    refuse(
      "is read-only: mup does not replace it",
      "remove it or make it writable if it is to be replaced, or give --plan-file another path",
    );
  }
}
