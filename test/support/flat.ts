/**
 * A fileset tree as a flat map of path -> bytes (a directory's path ends in '/' and maps to ''),
 * for tests that compare whole trees or pick files out of them.
 */
import type { TreeNode } from '../../src/tree.ts';

export function flat(t: TreeNode | null, pre = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, c] of Object.entries(t?.children ?? {})) {
    if (c.type === 'dir') {
      out[`${pre}/${k}/`] = '';
      Object.assign(out, flat(c, `${pre}/${k}`));
    } else out[`${pre}/${k}`] = c.content ?? '';
  }
  return out;
}
