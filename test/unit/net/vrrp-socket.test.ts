import { describe, expect, it } from 'vitest';
import { VrrpSocket } from '../../../src/net/vrrp-socket.js';
import { PacketSocket } from '../../../src/net/packet-socket.js';
import { InterfaceNotFoundError, ifIndex } from '../../../src/net/interfaces.js';

describe('socket construction errors (no root needed)', () => {
  it('a missing interface is a clear InterfaceNotFoundError before any socket is made', () => {
    expect(() => new VrrpSocket({ ifname: 'nope-if0', family: 'inet' })).toThrow(InterfaceNotFoundError);
    expect(() => new PacketSocket({ ifname: 'nope-if0' })).toThrow(/interface "nope-if0" does not exist/);
    expect(() => ifIndex('nope-if0')).toThrow(InterfaceNotFoundError);
    expect(ifIndex('lo')).toBeGreaterThan(0);
  });

  it('a bad family is refused', () => {
    expect(() => new VrrpSocket({ ifname: 'lo', family: 'ipx' as 'inet' })).toThrow(/family/);
  });
});
