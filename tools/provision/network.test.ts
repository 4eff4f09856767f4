import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoardFormError, linValue, networkPreferences, parseNvsCsv } from './board';
import { writeNetwork, withNetworkCsv } from './network';

const CSV = 'key,type,encoding,value\ncred,namespace,,\nca,data,hex2bin,3000\n';

describe('provision: network records', () => {
	it('adds namespace net to the NVS CSV beside the credentials, as blobs of UTF-8, and replaces it when written again', () => {
		const once = withNetworkCsv(CSV, { endpoint: 'a-ats.iot.eu-west-1.amazonaws.com', ssid: 'home', psk: 'correct horse' });
		const ns = parseNvsCsv(once);
		assert.deepEqual([...ns.keys()], ['cred', 'net']);
		assert.equal(Buffer.from(ns.get('net')!.get('endpoint')!).toString(), 'a-ats.iot.eu-west-1.amazonaws.com');
		assert.equal(Buffer.from(ns.get('net')!.get('psk')!).toString(), 'correct horse');
		const twice = parseNvsCsv(withNetworkCsv(once, { endpoint: 'b:443' }));
		assert.deepEqual([...twice.get('net')!.keys()], ['endpoint']);
		assert.equal(twice.get('cred')!.get('ca')!.length, 2);
	});

	it('writes the lin Preference strings the firmware reads', () => {
		const p = networkPreferences({ endpoint: '127.0.0.1:8883', server: 'localhost', register: 'https://api.example/register' });
		assert.deepEqual(p, { net: { endpoint: '127.0.0.1:8883', server: 'localhost', register: 'https://api.example/register' } });
		assert.equal(linValue(p.net!.endpoint!), '127.0.0.1:8883');
	});

	it('refuses records the firmware would refuse, and changes nothing', async () => {
		for (const bad of [{ endpoint: 'https://x' }, { endpoint: 'h', ssid: 'home', psk: 'short' }, { endpoint: 'h', register: 'http://x/register' }, { server: 'n' }]) assert.throws(() => withNetworkCsv(CSV, bad), BoardFormError);
		const bundle = mkdtempSync(join(tmpdir(), 'bundle-'));
		mkdirSync(join(bundle, 'board'));
		writeFileSync(join(bundle, 'board', 'nvs.csv'), CSV);
		writeFileSync(join(bundle, 'board', 'modpreferences.json'), '{"cred":{}}');
		await assert.rejects(writeNetwork(bundle, { endpoint: 'h:0' }), BoardFormError);
		assert.equal(readFileSync(join(bundle, 'board', 'nvs.csv'), 'utf8'), CSV);
		await writeNetwork(bundle, { endpoint: 'h:1883' });
		assert.deepEqual(JSON.parse(readFileSync(join(bundle, 'board', 'modpreferences.json'), 'utf8')), { cred: {}, net: { endpoint: 'h:1883' } });
	});
});
