// VrrpSocket.poll(): queued datagrams are read and delivered synchronously, before the event
// loop's reader gets them (the daemon polls before a master-down timer expires, so an advert
// that arrived in time during an event-loop stall still counts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isRoot, useLab, type LabProcess } from '../../helpers/netns.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/vrrp-poll.mjs');

describe.skipIf(!isRoot)('VrrpSocket.poll (root, namespaces)', () => {
  const lab = useLab({ nodes: ['a', 'b'] });
  let tx: LabProcess;
  let rx: LabProcess;

  beforeAll(async () => {
    await ensureBuilt(['dist/src/net/vrrp-socket.js']);
    tx = lab().spawnNode('a', FIXTURE, ['send', lab().node('a').ipv4!]);
    rx = lab().spawnNode('b', FIXTURE, ['receive', lab().node('b').ipv4!]);
    await Promise.all([tx, rx].map((p) => p.waitForJson((o) => o.ready === true)));
  });
  afterAll(async () => {
    await Promise.all([tx, rx].map((p) => p?.kill()));
  });

  it('reads a queued advert synchronously and delivers it to the listener within the call', async () => {
    for (let i = 0; i < 3; i++) {
      const m = rx.mark();
      // the receiver starts busy-polling first, then the advert is sent: it can only be seen through poll()
      rx.write('poll');
      await new Promise((r) => setTimeout(r, 20));
      const ms = tx.mark();
      tx.write('send');
      expect(await tx.waitForJson<{ sent: number }>((o) => 'sent' in o, { since: ms })).toEqual({ sent: 1 });
      const r = await rx.waitForJson<{ polled: number; seenDuringPoll: number }>((o) => 'polled' in o, { since: m });
      expect(r.polled).toBeGreaterThanOrEqual(1);
      expect(r.seenDuringPoll).toBe(r.polled);
    }
  });

  it('returns 0 at once when nothing is queued', async () => {
    const m = rx.mark();
    const t0 = Date.now();
    rx.write('poll');
    const r = await rx.waitForJson<{ polled: number }>((o) => 'polled' in o, { since: m });
    expect(r.polled).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400); // it waited the full 500 ms for nothing
  });
});
