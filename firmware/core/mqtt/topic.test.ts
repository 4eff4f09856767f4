/* Topic names and filters [MQTT-4.7]: matching rows, then the validity checks. */
import * as assert from '../testing/assert';
import { filterError, topicError, topicMatches } from './topic';

/** [filter, topic, matches] — most rows are the standard's own examples [MQTT-4.7.1]. */
const MATCHES: readonly (readonly [string, string, boolean])[] = [
	['a/b', 'a/b', true],
	['a/b', 'a/c', false],
	['a/b', 'a', false],
	['a', 'a/b', false],
	['a/b', 'a/b/c', false],
	['A', 'a', false],
	// "+" is exactly one level, which may be empty
	['+', 'a', true],
	['+', 'a/b', false],
	['+', '/a', false],
	['+/+', '/a', true],
	['/+', '/a', true],
	['a/+', 'a/b', true],
	['a/+', 'a', false],
	['a/+', 'a/', true],
	['a/+/c', 'a/b/c', true],
	['a/+/c', 'a/b/d', false],
	['a/+/c', 'a/b/x/c', false],
	['+/b', 'a/b', true],
	['sport/tennis/+', 'sport/tennis/player1', true],
	['sport/tennis/+', 'sport/tennis/player1/ranking', false],
	['sport/+', 'sport', false],
	['sport/+', 'sport/', true],
	// "#" is the rest, including the parent level itself
	['#', 'a', true],
	['#', 'a/b/c', true],
	['#', '/', true],
	['a/#', 'a', true],
	['a/#', 'a/b', true],
	['a/#', 'a/b/c', true],
	['a/#', 'ab', false],
	['a/#', 'b/a', false],
	['sport/tennis/player1/#', 'sport/tennis/player1', true],
	['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
	['+/#', 'a', true],
	['+/+/#', 'a', false],
	['a/+/#', 'a/b', true],
	// wildcards at the front never match a "$" topic [MQTT-4.7.2-1]
	['#', '$SYS/broker', false],
	['#', '$SYS', false],
	['+/monitor/Clients', '$SYS/monitor/Clients', false],
	['+', '$aws', false],
	['$SYS/#', '$SYS/monitor/Clients', true],
	['$SYS/monitor/+', '$SYS/monitor/Clients', true],
	['$aws/things/+/shadow/update/accepted', '$aws/things/robot-1/shadow/update/accepted', true],
	['a/#', 'a/$b', true],
	['a/+', 'a/$b', true],
];

describe('topics', () => {
	describe('topicMatches', () => {
		for (const [filter, topic, want] of MATCHES) {
			it('"' + filter + '" ' + (want ? 'matches' : 'does not match') + ' "' + topic + '"', () => {
				assert.equal(topicMatches(filter, topic), want);
			});
		}
	});

	describe('filterError', () => {
		const VALID = ['a', '#', '+', 'a/#', '+/+', '/', '//', 'a/+/b', '$aws/things/+/jobs/#', 'ü/€', '+/#'];
		for (const f of VALID) it('"' + f + '" is a valid filter', () => assert.equal(filterError(f), undefined));

		const INVALID: readonly (readonly [string, RegExp])[] = [
			['', /MQTT-4.7.3-1/],
			['a#', /MQTT-4.7.1-2/],
			['#/a', /MQTT-4.7.1-2/],
			['a/#/b', /MQTT-4.7.1-2/],
			['a/b#', /MQTT-4.7.1-2/],
			['##', /MQTT-4.7.1-2/],
			['a+', /MQTT-4.7.1-3/],
			['+a/b', /MQTT-4.7.1-3/],
			['a/++', /MQTT-4.7.1-3/],
			['a\u0000b', /MQTT-4.7.3-2/],
		];
		for (const [f, why] of INVALID) {
			it(JSON.stringify(f) + ' is refused', () => {
				const e = filterError(f);
				assert.ok(e !== undefined && why.test(e), String(e));
			});
		}
		it('a non-string is refused, not thrown on', () => {
			assert.ok(filterError(undefined as unknown as string) !== undefined);
		});
	});

	describe('topicError', () => {
		for (const t of ['a', 'a/b', '/', 'a//b', '$aws/things/x/shadow/update', 'ü/€/𝄞', ' ']) it('"' + t + '" is a valid name', () => assert.equal(topicError(t), undefined));

		const INVALID: readonly (readonly [string, RegExp])[] = [
			['', /MQTT-4.7.3-1/],
			['a/+', /MQTT-3.3.2-2/],
			['#', /MQTT-3.3.2-2/],
			['a/b#', /MQTT-3.3.2-2/],
			['a\u0000', /MQTT-4.7.3-2/],
		];
		for (const [t, why] of INVALID) {
			it(JSON.stringify(t) + ' is refused', () => {
				const e = topicError(t);
				assert.ok(e !== undefined && why.test(e), String(e));
			});
		}
	});
});
