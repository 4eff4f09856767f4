import assert from 'node:assert/strict';
import { matches } from './index';
import { evaluate, parseSql, SqlError } from './sql';

describe('rules: SQL subset and topic filters', () => {
	const m = { topic: 'robots/robot-1/maps/upload-request', clientId: 'robot-1', principal: 'ab12', timestamp: 1700000000123, raw: new TextEncoder().encode('{not json') };

	it('parses and evaluates the map upload rule', () => {
		const q = parseSql("SELECT *, topic() AS topic, topic(2) AS thing, clientid() AS clientId, principal() AS principal, timestamp() AS receivedAt FROM 'robots/+/maps/upload-request'");
		assert.equal(q.from, 'robots/+/maps/upload-request');
		assert.deepEqual(evaluate(q, { missionId: 'm1', bytes: 10 }, m), {
			missionId: 'm1',
			bytes: 10,
			topic: 'robots/robot-1/maps/upload-request',
			thing: 'robot-1',
			clientId: 'robot-1',
			principal: 'ab12',
			receivedAt: 1700000000123,
		});
	});

	const good: [string, unknown, Record<string, unknown>][] = [
		["select * from 'a/b'", { x: 1 }, { x: 1 }],
		["SELECT a.b, c AS d FROM 'a/#'", { a: { b: 2 }, c: 3 }, { b: 2, d: 3 }],
		["SELECT missing, topic(9) AS nine FROM 'a'", { x: 1 }, {}],
		["SELECT *, clientid() AS x FROM 'a'", { x: 'payload' }, { x: 'robot-1' }],
		["SELECT * FROM 'it''s'", {}, {}],
		// the raw bytes whatever they are (binary, or JSON that does not parse)
		["SELECT encode(*, 'base64') AS request, topic(2) AS thing FROM 'robots/+/x'", undefined, { request: 'e25vdCBqc29u', thing: 'robot-1' }],
	];
	for (const [sql, payload, want] of good) it(`evaluates ${sql}`, () => assert.deepEqual(evaluate(parseSql(sql), payload, m), want));

	const bad: [string, RegExp][] = [
		["SELECT * FROM 'a' WHERE x > 1", /WHERE is not supported .*character 19/],
		["SELECT upper(x) AS y FROM 'a'", /function upper\(\) is not supported/],
		["SELECT topic() FROM 'a'", /topic\(\) needs a key: write topic\(\) AS <name>/],
		["SELECT clientid(1) AS c FROM 'a'", /clientid\(\) takes no argument/],
		["SELECT x + 1 FROM 'a'", /unsupported character "\+"/],
		['SELECT * FROM a', /FROM expected a quoted topic filter/],
		["SELECT * FROM 'a/#/b'", /'#' must be a whole last level/],
		["SELECT * FROM 'a/b+'", /'\+' must be a whole level/],
		["SELECT * FROM 'a", /unterminated string/],
		["SELECT FROM 'a'", /expected \*, a field or a function, got FROM/],
		["SELECT * FROM 'a' extra", /unexpected extra after the FROM clause/],
		["INSERT INTO 'a'", /expected SELECT, got INSERT/],
		["SELECT encode(x, 'base64') AS y FROM 'a'", /only encode\(\*, 'base64'\)/],
		["SELECT encode(*, 'hex') AS y FROM 'a'", /only encode\(\*, 'base64'\)/],
		["SELECT encode(*, 'base64') FROM 'a'", /encode\(\) needs a key/],
	];
	for (const [sql, want] of bad)
		it(`refuses ${sql}`, () =>
			assert.throws(
				() => parseSql(sql),
				(e: unknown) => e instanceof SqlError && want.test(e.message),
			));

	it('refuses SELECT * over a payload that is not an object', () => {
		assert.throws(() => evaluate(parseSql("SELECT * FROM 'a'"), [1, 2], m), /JSON object/);
	});

	const filters: [string, string, boolean][] = [
		['robots/+/maps/upload-request', 'robots/robot-1/maps/upload-request', true],
		['robots/+/maps/upload-request', 'robots/robot-1/maps/upload-slot', false],
		['robots/#', 'robots', true],
		['robots/#', 'robots/a/b/c', true],
		['robots/+', 'robots/a/b', false],
		['#', '$aws/things/x/shadow/update', false],
		['+/things/#', '$aws/things/x', false],
		['$aws/things/+/shadow/#', '$aws/things/x/shadow/update', true],
		['a/b', 'a/b/', false],
	];
	for (const [f, t, want] of filters) it(`${f} ${want ? 'matches' : 'does not match'} ${t}`, () => assert.equal(matches(f, t), want));
});
