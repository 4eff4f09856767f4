/*
 * The network start modules (../network/network-esp32.ts, ../network/network.ts for lin) inside
 * XS over fakes of the SDK's `wifi`, `preference` and `timer` (fakes/): the robot's own start in
 * place of the SDK's setup/network, never blocking main: the Wi-Fi record read (and read again
 * while absent, said once), up on an address, down and joining again with a backoff when the
 * network drops, stop().
 */
import * as assert from '../../../core/testing/assert';
import { memoryLog } from '../../../core/testing/fakes';
import { NET_DOMAIN, NET_KEYS } from '../../../core/robot/onboarding';
import { startNetwork as startEsp32 } from '../network/network-esp32';
import { startNetwork as startLin } from '../network/network';
import { loop } from './fakes/loop';
import Preference, { preferenceFake } from './fakes/preference';
import { wifiFake } from './fakes/wifi';

function provisionWifi(ssid = 'home', psk = 'correct horse'): void {
	Preference.set(NET_DOMAIN, NET_KEYS.ssid, ssid);
	Preference.set(NET_DOMAIN, NET_KEYS.psk, psk);
}

describe('moddable network start', () => {
	beforeEach(() => {
		loop.reset();
		preferenceFake.reset();
		preferenceFake.use('esp32');
		wifiFake.reset();
	});

	describe('esp32 (Wi-Fi station)', () => {
		it('joins from the onboarding record on the next turn, as a station, never inside the caller', () => {
			provisionWifi();
			const seen: boolean[] = [];
			startEsp32({ log: memoryLog(), onChange: (up) => seen.push(up) });
			assert.equal(wifiFake.connects.length, 0, 'not inside startNetwork');
			loop.turn();
			assert.deepEqual(wifiFake.connects, [{ ssid: 'home', password: 'correct horse', mode: 1 }]);
			assert.deepEqual(seen, []);
		});

		it('up once on an address; down when it is lost, then joins again after a backoff and is up again', () => {
			provisionWifi();
			const seen: boolean[] = [];
			const log = memoryLog();
			const n = startEsp32({ log, onChange: (up) => seen.push(up) });
			loop.turn();
			wifiFake.notify('connect');
			wifiFake.notify('gotIP');
			wifiFake.notify('gotIP');
			assert.deepEqual(seen, [true]);
			assert.equal(n.up, true);
			wifiFake.notify('lostIP');
			assert.deepEqual(seen, [true, false]);
			assert.equal(n.up, false);
			loop.advance(2_000); // the first backoff is at most 1 s doubled once
			assert.equal(wifiFake.connects.length, 2, 'joined again with WiFi.connect');
			assert.equal(wifiFake.instances.length, 1, 'the same WiFi object');
			wifiFake.notify('gotIP');
			assert.deepEqual(seen, [true, false, true]);
			assert.ok(log.events().includes('network.down'));
		});

		it('a network that keeps refusing is retried forever with a backoff that grows to its cap (60 s), not in a loop', () => {
			provisionWifi();
			const seen: boolean[] = [];
			startEsp32({ log: memoryLog(), onChange: (up) => seen.push(up) });
			loop.turn();
			for (let i = 0; i < 12; i++) {
				const before = wifiFake.connects.length;
				wifiFake.notify('disconnect');
				assert.equal(wifiFake.connects.length, before, 'not at once');
				loop.advance(60_000);
				assert.equal(wifiFake.connects.length, before + 1, 'once within the cap');
			}
			assert.deepEqual(seen, [], 'never up, so never reported down');
		});

		it('without a Wi-Fi record it says so once and reads again every 30 s until provisioning writes one', () => {
			const log = memoryLog();
			startEsp32({ log, onChange: () => undefined });
			loop.turn();
			loop.advance(5 * 30_000);
			assert.equal(log.events().filter((e) => e === 'network.no_wifi').length, 1);
			assert.equal(wifiFake.connects.length, 0);
			provisionWifi('office', 'another passphrase');
			loop.advance(30_000);
			assert.deepEqual(wifiFake.connects, [{ ssid: 'office', password: 'another passphrase', mode: 1 }]);
		});

		it('a refused record (a psk too short) is said once with the reason, and nothing is joined', () => {
			provisionWifi('home', 'short');
			const log = memoryLog();
			startEsp32({ log, onChange: () => undefined });
			loop.advance(90_000);
			const said = log.lines.filter((l) => l.event === 'network.no_wifi');
			assert.equal(said.length, 1);
			assert.ok(/psk expected 8-63/.test(String(said[0]!.fields.message)));
			assert.equal(wifiFake.connects.length, 0);
		});

		it('stop() cancels the retry, closes the station and leaves the network', () => {
			provisionWifi();
			const n = startEsp32({ log: memoryLog(), onChange: () => undefined });
			loop.turn();
			wifiFake.notify('disconnect');
			n.stop();
			assert.equal(loop.timers, 0);
			assert.equal(wifiFake.closed, 1);
			assert.equal(wifiFake.connects[wifiFake.connects.length - 1], 'disconnect');
		});
	});

	describe('lin (the host network)', () => {
		it('is up on the next turn, never inside the caller; stop() before that keeps it down', () => {
			const seen: boolean[] = [];
			const n = startLin({ log: memoryLog(), onChange: (up) => seen.push(up) });
			assert.equal(n.up, false);
			loop.turn();
			assert.deepEqual(seen, [true]);
			const m = startLin({ log: memoryLog(), onChange: (up) => seen.push(up) });
			m.stop();
			loop.turn();
			assert.equal(m.up, false);
			assert.deepEqual(seen, [true]);
		});
	});
});
