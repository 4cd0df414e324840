/**
 * Crash-safe file writes for the stores: a file is either absent, or whole,
 * never half-written.
 *
 * @module
 */
import { writeAll } from "../util/write_all.ts";
import { basename, dirname, join } from "node:path";

/** Options for {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** The new file's permission bits (ignored on Windows); default 0o600. */
  mode?: number;
}

/**
 * Writes `data` (bytes, or pieces of bytes written in turn, so a large
 * file need not be whole in memory) to `path` atomically: to a temporary
 * file in the same
 * directory (created with `mode`), flushed to disk, then renamed over `path`,
 * and the directory is flushed so the rename itself is durable. A crash at any
 * point leaves either the old file or the new one, plus perhaps a stray
 * temporary file whose name starts with `.<name>.tmp-`.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic_write.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/genesis.json`, new TextEncoder().encode("{}"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | Iterable<Uint8Array>,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o600;
  const dir = dirname(path);
  const suffix = crypto.randomUUID().slice(0, 8);
  const tmp = join(dir, `.${basename(path)}.tmp-${suffix}`);
  const file = await Deno.open(tmp, { write: true, createNew: true, mode });
  try {
    try {
      if (data instanceof Uint8Array) await writeAll(file, data);
      else for (const piece of data) await writeAll(file, piece);
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dir);
}

/**
 * Flushes a directory's entries (new, renamed or removed files) to disk.
 * Best effort: platforms that cannot open a directory (Windows) are skipped.
 *
 * @example
 * ```ts
 * import { syncDir } from "./atomic_write.ts";
 * await syncDir(Deno.cwd());
 * ```
 */
export async function syncDir(dir: string): Promise<void> {
  let d: Deno.FsFile;
  try {
    d = await Deno.open(dir, { read: true });
  } catch {
    return;
  }
  try {
    await d.sync();
  } catch {
    // Some file systems refuse fsync on a directory; nothing more to do.
  } finally {
    d.close();
  }
}

/**
 * Appends `data` to `path` (created with `mode`, 0o600 by default) and
 * flushes it before it resolves; a failed write is cut back off, so
 * nothing half-written stays. `data` may be worked out from the file's
 * size before the append (0: a new or empty file). A file that was empty
 * has its directory flushed too, so the new entry survives a crash.
 *
 * @example
 * ```ts
 * import { appendFileDurably } from "./atomic_write.ts";
 * import { encodeUtf8 } from "../util/utf8.ts";
 * const dir = await Deno.makeTempDir();
 * await appendFileDurably(`${dir}/log`, (size) =>
 *   encodeUtf8(size === 0 ? "header\nline\n" : "line\n"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function appendFileDurably(
  path: string,
  data: Uint8Array | ((size: number) => Uint8Array),
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  let size: number;
  {
    using file = await Deno.open(path, {
      append: true,
      create: true,
      mode: options.mode ?? 0o600,
    });
    size = (await file.stat()).size;
    const bytes = data instanceof Uint8Array ? data : data(size);
    try {
      await writeAll(file, bytes);
      await file.syncData();
    } catch (e) {
      await file.truncate(size).catch(() => {});
      throw e;
    }
  }
  if (size === 0) await syncDir(dirname(path));
}
