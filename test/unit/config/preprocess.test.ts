import { describe, expect, it } from 'vitest';
import { load, clean, messages } from './helpers.js';

describe('comments, quoting and braces', () => {
  it('strips # and ! comments anywhere, but not inside quotes', () => {
    const c = clean(`global_defs { # block
  router_id r1 ! trailing
  notification_email_from "a#b!c@example.com"
}`);
    expect(c.global.routerId).toBe('r1');
    expect(c.global.notificationEmailFrom).toBe('a#b!c@example.com');
  });

  it('accepts a block brace on the next line and several statements on one line', () => {
    const c = clean(`vrrp_instance VI_1
{
  interface eth0
  virtual_router_id 7
  authentication { auth_type PASS
    auth_pass secret }
  virtual_ipaddress { 10.0.0.1/24 }
}`);
    expect(c.instances[0]!.auth).toEqual({ type: 'PASS', password: 'secret' });
    expect(c.instances[0]!.virtualIps.map((v) => v.address)).toEqual(['10.0.0.1']);
  });

  it('keeps exact columns', () => {
    const r = load(`vrrp_instance VI_1 {
  interface eth0
  virtual_router_id   999
}`);
    expect(messages(r)).toContain('main.conf:3:23 error: virtual_router_id 999 is outside 1..255');
  });

  it('unescapes quotes and backslashes inside strings', () => {
    const c = clean(`global_defs {
  enable_script_security
}
vrrp_script s {
  script "/bin/sh -c \\"exit 0\\" \\\\x"
}`);
    expect(c.vrrpScripts['s']!.script).toBe('/bin/sh -c "exit 0" \\x');
  });
});

describe('include', () => {
  it('resolves relative to the including file, with globs in sorted order', () => {
    const c = clean('global_defs {\n enable_script_security\n}\ninclude conf.d/*.conf\n', {
      '/etc/lvsd/conf.d/20-b.conf': 'vrrp_script b {\n script /bin/b\n}\n',
      '/etc/lvsd/conf.d/10-a.conf': 'vrrp_script a {\n script /bin/a\n}\ninclude ../more/x.conf\n',
      '/etc/lvsd/more/x.conf': 'vrrp_script x {\n script /bin/x\n}\n',
      '/etc/lvsd/conf.d/.hidden.conf': 'garbage {',
    });
    expect(Object.keys(c.vrrpScripts)).toEqual(['a', 'x', 'b']);
    expect(c.files).toEqual(['/etc/lvsd/main.conf', '/etc/lvsd/conf.d/10-a.conf', '/etc/lvsd/more/x.conf', '/etc/lvsd/conf.d/20-b.conf']);
  });

  it('expands braces', () => {
    const c = clean('global_defs {\n enable_script_security\n}\ninclude {one,two}.conf\n', {
      '/etc/lvsd/one.conf': 'vrrp_script one {\n script /bin/1\n}\n',
      '/etc/lvsd/two.conf': 'vrrp_script two {\n script /bin/2\n}\n',
    });
    expect(Object.keys(c.vrrpScripts)).toEqual(['one', 'two']);
  });

  it('refuses cycles with the location of the closing include', () => {
    const r = load('include a.conf\n', { '/etc/lvsd/a.conf': '\ninclude main.conf\n' });
    expect(messages(r)).toEqual([expect.stringMatching(/^a\.conf:2:1 error: include cycle: .*main\.conf -> a\.conf -> main\.conf/)]);
    expect(r.exitCode).toBe(4);
  });

  it('a glob that matches nothing is a warning; a missing named file is an error', () => {
    expect(messages(load('include none/*.conf\n'))).toEqual(['main.conf:1:1 warning: include pattern "none/*.conf" matches no file']);
    expect(messages(load('include missing.conf\n'))[0]).toMatch(/error: cannot read included file/);
  });

  it('diagnostics inside included files name that file', () => {
    const r = load('include x.conf\n', { '/etc/lvsd/x.conf': 'global_defs {\n  vrrp_version 4\n}\n' });
    expect(messages(r)).toEqual(['x.conf:2:16 error: vrrp_version 4 is outside 2..3']);
  });
});

describe('macros', () => {
  it('substitutes $NAME and ${NAME}, recursively at use time', () => {
    const c = clean(`$IF=eth0
$VIP=\${NET}.100
$NET=10.1.1
vrrp_instance VI_1 {
  interface $IF
  virtual_router_id 9
  virtual_ipaddress {
    \${VIP}/24
  }
}`);
    expect(c.instances[0]!.interface).toBe('eth0');
    expect(c.instances[0]!.virtualIps[0]!.address).toBe('10.1.1.100');
  });

  it('expands a multi-line definition into several lines', () => {
    const c = clean(`$RS=real_server $IP 80 { \\
   weight 3 \\
}
virtual_server 10.0.0.1 80 {
$IP=10.0.1.1
  $RS
$IP=10.0.1.2
  $RS
}`);
    expect(c.virtualServers[0]!.realServers.map((r) => [r.address, r.weight])).toEqual([
      ['10.0.1.1', 3],
      ['10.0.1.2', 3],
    ]);
  });

  it('reports macro text at the column of its use', () => {
    const r = load('$BAD=300\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id $BAD\n}\n');
    expect(messages(r)).toContain('main.conf:4:21 error: virtual_router_id 300 is outside 1..255');
  });

  it('warns about an undefined macro outside quotes, leaves $ in quoted scripts alone', () => {
    const r = load('vrrp_script s {\n  script "/bin/echo $1"\n}\nglobal_defs {\n  router_id $NOPE\n  enable_script_security\n}\n');
    expect(messages(r)).toEqual(['main.conf:5:13 warning: $NOPE is not defined; left as is']);
    expect(r.config!.vrrpScripts['s']!.script).toBe('/bin/echo $1');
  });

  it('predefines ${_PWD}', () => {
    const c = clean('global_defs {\n enable_script_security\n}\nvrrp_script s {\n  script "${_PWD}/chk.sh"\n}\n');
    expect(c.vrrpScripts['s']!.script).toBe('/etc/lvsd/chk.sh');
  });

  it('bounds runaway expansion (billion laughs) with a fatal error, not memory exhaustion', () => {
    let text = '$A0=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n';
    for (let i = 1; i < 15; i++) text += `$A${i}=$A${i - 1} $A${i - 1} $A${i - 1} $A${i - 1}\n`;
    text += 'global_defs {\n  router_id $A14\n}\n';
    const r = load(text);
    expect(r.exitCode).toBe(3);
    expect(r.config).toBeNull();
    expect(messages(r).join('\n')).toMatch(/exceeds \d+ bytes|too long/);
  });
});

describe('conditional lines', () => {
  const text = `vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 5
@lvs1  priority 150
@lvs2  priority 100
@^lvs1 state BACKUP
@lvs1  state MASTER
}`;
  it('keeps @id lines that match --config-id and drops the others', () => {
    expect(clean(text, {}, { configId: 'lvs1' }).instances[0]).toMatchObject({ priority: 150, initialState: 'MASTER' });
    expect(clean(text, {}, { configId: 'lvs2' }).instances[0]).toMatchObject({ priority: 100, initialState: 'BACKUP' });
    expect(clean(text, {}, { configId: 'other' }).instances[0]).toMatchObject({ priority: 100, initialState: 'BACKUP' });
  });
  it('applies to macro definitions and includes too', () => {
    const c = clean('@lvs1 $P=200\n@lvs2 $P=50\n@lvs2 include nope.conf\nvrrp_instance V {\n interface eth0\n virtual_router_id 1\n priority $P\n}\n');
    expect(c.instances[0]!.priority).toBe(200);
  });
});

describe('limits', () => {
  it('refuses blocks nested too deeply with a fatal error', () => {
    const text = 'a {\n'.repeat(100) + '}\n'.repeat(100);
    const r = load(text);
    expect(r.exitCode).toBe(3);
  });
  it('refuses too deep include chains', () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`/etc/lvsd/f${i}.conf`] = `include f${i + 1}.conf\n`;
    const r = load('include f0.conf\n', files);
    expect(r.exitCode).toBe(3);
    expect(messages(r).join()).toMatch(/include depth exceeds 32/);
  });
  it('refuses oversized files', () => {
    const r = load('x'.repeat(2000), {}, { limits: { maxFileBytes: 1000 } });
    expect(r.exitCode).toBe(3);
  });
  it('ignores an over-long line with an error', () => {
    const r = load(`global_defs {\n router_id ${'y'.repeat(70_000)}\n}\n`);
    expect(messages(r)).toEqual([expect.stringMatching(/main\.conf:2:1 error: line longer than 65536 bytes ignored/)]);
  });
  it('a missing main file cannot run (exit 3)', () => {
    const r = load('', {}, {});
    expect(r.exitCode).toBe(0);
    const missing = (awaitLoad('/nope/x.conf'));
    expect(missing.exitCode).toBe(3);
  });
});

import { loadConfig } from '../../../src/config/index.js';
function awaitLoad(f: string) {
  return loadConfig(f, { files: {} });
}
