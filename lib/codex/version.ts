/**
 * Comparing Codex (and node) versions, part by part: what differs between
 * the supported Codex releases is decided by version (thread locks from
 * 0.169.0 on, the oldest supported release in doctor).
 *
 * @example
 * ```ts
 * import { compareVersions } from "./version.ts";
 * compareVersions("0.100.0", "0.135.0") < 0; // true
 * ```
 *
 * @module
 */

/**
 * Compare two versions ("0.169.0", "v22.1.0") part by part:
 * negative when `a` is older, positive when newer, 0 when equal.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, "").split(".").map((x) => parseInt(x, 10) || 0);
  const pb = b.replace(/^v/, "").split(".").map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  }
  return 0;
}
