/* The onboarding record format (runs on Node and in XS). */
import * as assert from '../testing/assert';
import { checkRegistrationUrl, checkWifi, formatEndpoint, parseEndpoint } from './onboarding';

describe('onboarding records', () => {
	it('reads an endpoint as host or host:port, with the server name when it differs', () => {
		assert.deepEqual(parseEndpoint('abc-ats.iot.eu-west-1.amazonaws.com'), { ok: true, value: { host: 'abc-ats.iot.eu-west-1.amazonaws.com', port: 8883 } });
		assert.deepEqual(parseEndpoint('127.0.0.1:28883', 'localhost'), { ok: true, value: { host: '127.0.0.1', port: 28883, serverName: 'localhost' } });
		assert.deepEqual(parseEndpoint('h.example:443', 'h.example'), { ok: true, value: { host: 'h.example', port: 443 } });
		for (const bad of ['', 'h:', 'h:0', 'h:70000', 'https://h', 'a b', '-h', 'h:1:2']) assert.ok(!parseEndpoint(bad).ok, bad);
		assert.ok(!parseEndpoint('h', 'bad name').ok);
	});

	it('writes back what it reads', () => {
		for (const e of [
			{ host: 'h.example', port: 8883 },
			{ host: '10.0.0.1', port: 1883 },
		]) {
			const r = parseEndpoint(formatEndpoint(e));
			assert.ok(r.ok && r.value.host === e.host && r.value.port === e.port);
		}
	});

	it('checks Wi-Fi credentials as WPA2 takes them', () => {
		assert.deepEqual(checkWifi('home', 'correct horse'), { ok: true, value: { ssid: 'home', password: 'correct horse' } });
		assert.deepEqual(checkWifi('cafe', undefined), { ok: true, value: { ssid: 'cafe' } });
		assert.ok(!checkWifi('', 'password1').ok);
		assert.ok(!checkWifi('x'.repeat(33), 'password1').ok);
		assert.ok(!checkWifi('home', 'short').ok);
		assert.ok(!checkWifi('home', 'p'.repeat(64)).ok);
	});

	it('takes only an https registration URL', () => {
		assert.ok(checkRegistrationUrl('https://api.example/prod/register').ok);
		assert.ok(!checkRegistrationUrl('http://api.example/register').ok);
		assert.ok(!checkRegistrationUrl('register').ok);
	});
});
