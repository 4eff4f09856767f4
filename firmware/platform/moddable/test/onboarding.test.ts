/*
 * The onboarding records on Moddable (../onboarding.ts) inside XS over the fake `preference`
 * in both implementations: what provisioning writes (UTF-8 blobs in ESP32's NVS, strings in lin's
 * file) reads the same; a missing record says so and how to write it; a refused one says why and
 * writes nothing.
 */
import * as assert from '../../../core/testing/assert';
import { NET_DOMAIN, NET_KEYS } from '../../../core/robot/onboarding';
import { utf8Encode } from '../../../core/util/utf8';
import { readEndpoint, readRegistrationUrl, readWifi, writeEndpoint } from '../onboarding';
import Preference, { preferenceFake } from './fakes/preference';

const blob = (s: string): ArrayBuffer => utf8Encode(s).slice().buffer as ArrayBuffer;

describe('moddable onboarding records over Preference', () => {
	for (const mode of ['lin', 'esp32'] as const) {
		describe(mode, () => {
			beforeEach(() => {
				preferenceFake.reset();
				preferenceFake.use(mode);
			});

			it('reads records written as strings (lin) or UTF-8 blobs (ESP32 NVS) alike', () => {
				Preference.set(NET_DOMAIN, NET_KEYS.endpoint, blob('a1b2c3-ats.iot.eu-west-1.amazonaws.com'));
				Preference.set(NET_DOMAIN, NET_KEYS.ssid, 'Café Wi-Fi');
				Preference.set(NET_DOMAIN, NET_KEYS.psk, blob('correct horse'));
				Preference.set(NET_DOMAIN, NET_KEYS.register, 'https://api.example.com/register');
				assert.deepEqual(readEndpoint(), { ok: true, value: { host: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com', port: 8883 } });
				assert.deepEqual(readWifi(), { ok: true, value: { ssid: 'Café Wi-Fi', password: 'correct horse' } });
				assert.deepEqual(readRegistrationUrl(), { ok: true, value: 'https://api.example.com/register' });
			});

			it('a missing record is `missing` with how to write it; an empty one counts as missing', () => {
				const e = readEndpoint();
				assert.ok(!e.ok && e.missing && /npm run provision -- network/.test(e.reason));
				Preference.set(NET_DOMAIN, NET_KEYS.ssid, '');
				const w = readWifi();
				assert.ok(!w.ok && w.missing);
			});

			it('a refused record says why, not missing', () => {
				Preference.set(NET_DOMAIN, NET_KEYS.endpoint, 'host:99999');
				const e = readEndpoint();
				assert.ok(!e.ok && !e.missing && /port expected 1-65535/.test(e.reason));
				Preference.set(NET_DOMAIN, NET_KEYS.register, 'http://plain.example/');
				const r = readRegistrationUrl();
				assert.ok(!r.ok && !r.missing && /https/.test(r.reason));
			});

			it('writeEndpoint checks first: a good record is written with its server name, a bad one writes nothing', () => {
				assert.deepEqual(writeEndpoint('127.0.0.1:28883', 'localhost'), { ok: true, value: { host: '127.0.0.1', port: 28883, serverName: 'localhost' } });
				assert.deepEqual(readEndpoint(), { ok: true, value: { host: '127.0.0.1', port: 28883, serverName: 'localhost' } });
				const bad = writeEndpoint('not a host', undefined);
				assert.ok(!bad.ok);
				assert.deepEqual(readEndpoint(), { ok: true, value: { host: '127.0.0.1', port: 28883, serverName: 'localhost' } }, 'unchanged');
				assert.deepEqual(writeEndpoint('broker.example', undefined), { ok: true, value: { host: 'broker.example', port: 8883 } });
				assert.equal(Preference.get(NET_DOMAIN, NET_KEYS.server), undefined, 'the old server name is dropped');
			});
		});
	}
});
