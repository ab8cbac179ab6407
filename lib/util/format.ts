/** 1500 → "1.5s", 95000 → "1m 35s", 7200000 → "2h". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 59.95) return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
  // Rounded to the second before it is split, so 299.7 s is "5m", never "4m 60s".
  const whole = Math.round(s);
  const m = Math.floor(whole / 60);
  const rs = whole - m * 60;
  if (m < 60) return rs ? `${m}m ${rs}s` : `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
}

/** Compact list of ports: [27017,27018,27019,27030] → "27017-27019, 27030". */
export function portRanges(ports: number[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return out.join(", ");
}

/**
 * Rows in columns of at least the given widths (the last column is not padded), header first.
 * A column with a longer cell grows to it plus two spaces, so cells never run together.
 */
export function table(widths: number[], rows: string[][]): string {
  const w = widths.map((min, i) =>
    Math.max(min, ...rows.map((r) => i < r.length - 1 ? (r[i]?.length ?? 0) + 2 : 0))
  );
  return rows.map((r) => r.map((cell, i) => i < r.length - 1 ? cell.padEnd(w[i]) : cell).join(""))
    .join("\n");
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** The first `n` of `list`, comma-separated, then "and N more" for the rest: "a, b, c and 2 more". */
export function firstFew(list: string[], n = 3): string {
  return list.slice(0, n).join(", ") + (list.length > n ? ` and ${list.length - n} more` : "");
}

/** An archive's size as mup prints it everywhere: "12KB" under a megabyte, else "74MB". */
export function formatArchiveSize(bytes: number): string {
  return bytes < 1e6 ? `${Math.max(1, Math.round(bytes / 1e3))}KB` : `${Math.round(bytes / 1e6)}MB`;
}

/**
 * Text from outside mup (a hook's output) made safe to show on a terminal: control characters
 * but the tab (escape sequences that would clear the screen, set the window title, move the
 * cursor) are shown as `\xNN` (`\u{NN}` for C1 ones), never passed to the terminal.
 */
export function visible(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) => {
    const hex = c.charCodeAt(0).toString(16).padStart(2, "0");
    return c.charCodeAt(0) < 0x80 ? `\\x${hex}` : `\\u{${hex}}`;
  });
}
