// NetlinkSocket.requestBatch (added for the IPVS engine) against the real kernel's nlctrl:
// several requests in one datagram, ACK on the last only, each request still gets its own outcome.
import { describe, expect, it } from 'vitest';
import { C } from '../../../src/net/native.js';
import { GENL_ID_CTRL, getFamilyPayload, NLM_F_DUMP } from '../../../src/net/netlink/codec.js';
import { NetlinkError, NetlinkSocket } from '../../../src/net/netlink/socket.js';

const item = (name: string) => ({ flags: 0, payload: getFamilyPayload(name), context: `resolve ${name}` });

describe('NetlinkSocket.requestBatch', () => {
  it('gives every request its own result: replies, errors, silent successes', async () => {
    const s = new NetlinkSocket(C('NETLINK_GENERIC'));
    try {
      const ps = s.requestBatch(GENL_ID_CTRL, [item('nlctrl'), item('lvsd-nope-1'), item('nlctrl'), item('lvsd-nope-2'), item('nlctrl')]);
      const r = await Promise.allSettled(ps);
      expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
      // a doit request without NLM_F_ACK still gets its data reply
      for (const i of [0, 2, 4]) expect((r[i] as PromiseFulfilledResult<{ type: number }[]>).value.map((m) => m.type)).toEqual([GENL_ID_CTRL]);
      for (const i of [1, 3]) {
        const e = (r[i] as PromiseRejectedResult).reason as NetlinkError;
        expect(e).toBeInstanceOf(NetlinkError);
        expect(e.code).toBe('ENOENT');
        expect(e.message).toContain(`resolve lvsd-nope-${(i + 1) / 2}`);
      }
    } finally {
      s.close();
    }
  });

  it('the last request failing settles the others too', async () => {
    const s = new NetlinkSocket(C('NETLINK_GENERIC'));
    try {
      const r = await Promise.allSettled(s.requestBatch(GENL_ID_CTRL, [item('nlctrl'), item('nlctrl'), item('lvsd-nope')]));
      expect(r.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      // the socket still works afterwards, with plain requests and new batches
      expect((await s.request(GENL_ID_CTRL, 0, getFamilyPayload('nlctrl'))).length).toBe(1);
      expect((await Promise.all(s.requestBatch(GENL_ID_CTRL, [item('nlctrl')]))).length).toBe(1);
      expect(s.requestBatch(GENL_ID_CTRL, [])).toEqual([]);
    } finally {
      s.close();
    }
  });

  it('refuses dumps, and rejects everything still pending on close', async () => {
    const s = new NetlinkSocket(C('NETLINK_GENERIC'));
    expect(() => s.requestBatch(GENL_ID_CTRL, [{ ...item('nlctrl'), flags: NLM_F_DUMP }])).toThrow(/dumps cannot be batched/);
    const ps = s.requestBatch(GENL_ID_CTRL, [item('nlctrl'), item('nlctrl')]);
    s.close();
    const r = await Promise.allSettled(ps);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect(String((r[0] as PromiseRejectedResult).reason)).toMatch(/socket closed/);
  });
});
