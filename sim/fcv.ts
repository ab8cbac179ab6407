/** Feature compatibility version rules: a binary runs on data of its own FCV or the previous one. */
const PREVIOUS: Record<string, string> = {
  "8.2": "8.0",
  "8.0": "7.0",
  "7.0": "6.0",
  "6.0": "5.0",
  "5.0": "4.4",
  "4.4": "4.2",
};

export function majorMinor(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}

export function allowedFcvs(version: string): string[] {
  const mm = majorMinor(version);
  return [mm, PREVIOUS[mm]].filter(Boolean);
}

export const FCV_ID = "featureCompatibilityVersion";
