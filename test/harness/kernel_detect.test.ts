/** Choosing the kernel profile of the running kernel (ptbench validate): version, config, PTI. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configValue, detectKernel, kernelVersion, type HostReader } from '../../src/harness/validate/kernel_detect.js';

test('the newest profile not newer than uname -r; an older kernel gets the oldest profile, said so', () => {
  assert.deepEqual(kernelVersion('6.18.44-fc-v1300'), [6, 18]);
  assert.equal(kernelVersion('linux'), null);
  assert.equal(detectKernel('6.18.44-fc-v1300').config.profile, '6.18');
  assert.equal(detectKernel('6.19.0').config.profile, '6.18');
  assert.equal(detectKernel('6.17.3').config.profile, '6.12');
  assert.equal(detectKernel('6.12.60').config.profile, '6.12');
  assert.match(detectKernel('5.10.0').why, /^profile 6\.12: uname -r 5\.10\.0 is older than every profile: the oldest/);
  // 6.12 has no PT_RECLAIM whatever the config says.
  assert.equal(detectKernel('6.12.60').config.ptReclaim, false);
});

test('kernel config values: set, module, unset', () => {
  const cfg = 'CONFIG_PT_RECLAIM=y\n# CONFIG_KSM is not set\nCONFIG_FOO=m\nCONFIG_PGTABLE_LEVELS=5\n';
  assert.equal(configValue(cfg, 'CONFIG_PT_RECLAIM'), 'y');
  assert.equal(configValue(cfg, 'CONFIG_KSM'), 'n');
  assert.equal(configValue(cfg, 'CONFIG_FOO'), 'm');
  assert.equal(configValue(cfg, 'CONFIG_PGTABLE_LEVELS'), '5');
});

test('PTI is read from the meltdown vulnerability file, whatever this machine has', () => {
  const host = (meltdown: string | null, config: string | null = null): HostReader => (path) => {
    if (path === '/sys/devices/system/cpu/vulnerabilities/meltdown') return meltdown === null ? null : Buffer.from(`${meltdown}\n`);
    if (path.startsWith('/boot/config-')) return config === null ? null : Buffer.from(config);
    return null;
  };
  const on = detectKernel('6.18.44', host('Mitigation: PTI'));
  assert.equal(on.pti, true);
  // KERNEL_RULES.pgd_order_pti: pgd_allocation_order() is 1 only while PTI is active (6.15+).
  assert.equal(on.config.pgdBytes, 8192);
  assert.match(on.why, /PTI active \(meltdown: Mitigation: PTI\)/);
  const off = detectKernel('6.18.44', host('Not affected'));
  assert.deepEqual([off.pti, off.config.pgdBytes], [false, 4096]);
  const unknown = detectKernel('6.18.44', host(null));
  assert.equal(unknown.pti, null);
  assert.match(unknown.why, /PTI state not readable: assumed inactive/);
  // CONFIG_PT_RECLAIM from /boot/config-<release> when /proc/config.gz is absent.
  assert.equal(detectKernel('6.18.44', host('Not affected', '# CONFIG_PT_RECLAIM is not set\n')).config.ptReclaim, false);
  assert.equal(detectKernel('6.18.44', host('Not affected', 'CONFIG_PT_RECLAIM=y\n')).config.ptReclaim, true);
});
