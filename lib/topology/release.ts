/**
 * Whether MongoDB `version` ("5.0.9", "7.0", Percona's "7.0.14-8") is a release before `release`
 * ("5.3"); an unknown version (none given) is not: mup's series are all newer. Pure.
 */
export function releaseBefore(version: string | undefined, release: string): boolean {
  if (!version) return false;
  const a = version.split(/[.-]/).map(Number), b = release.split(".").map(Number);
  for (let i = 0; i < b.length; i++) {
    const d = (a[i] ?? 0) - b[i];
    if (d) return d < 0;
  }
  return false;
}
