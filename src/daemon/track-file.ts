// track_file: the number in a file, scaled by weight, moves VRRP priorities (keepalived uses
// inotify). We watch the directory (files are often replaced by rename) and also re-read every
// second, so a missed event costs at most a second. init_file creates (or overwrites) the file.
import fs from 'node:fs';
import path from 'node:path';
import type { TrackFile } from '../config/model.js';
import { parseTrackFileValue } from '../vrrp/index.js';

export class TrackFileWatcher {
  private watcher: fs.FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private last: number | undefined;

  constructor(
    private readonly tf: TrackFile,
    private readonly onValue: (value: number) => void,
    private readonly warn: (msg: string) => void,
    private readonly pollMs = 1000,
  ) {}

  start(): void {
    const { file, initFile } = this.tf;
    if (initFile && (initFile.overwrite || !fs.existsSync(file))) {
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, `${initFile.value}\n`);
      } catch (e) {
        this.warn(`cannot initialise ${file}: ${(e as Error).message}`);
      }
    }
    this.read();
    try {
      this.watcher = fs.watch(path.dirname(file), (_ev, name) => {
        if (name === null || name === path.basename(file)) this.read();
      });
      this.watcher.on('error', () => undefined);
    } catch (e) {
      this.warn(`cannot watch ${path.dirname(file)} (${(e as Error).message}); polling`);
    }
    this.poll = setInterval(() => this.read(), this.pollMs);
    this.poll.unref();
  }

  /** keepalived: a missing or unreadable file counts as 0 */
  private read(): void {
    let v = 0;
    try {
      v = parseTrackFileValue(fs.readFileSync(this.tf.file, 'utf8'));
    } catch {
      v = 0;
    }
    if (v !== this.last) {
      this.last = v;
      this.onValue(v);
    }
  }

  stop(): void {
    this.watcher?.close();
    if (this.poll) clearInterval(this.poll);
  }
}
