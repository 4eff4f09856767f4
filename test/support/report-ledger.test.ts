/* The stored-once ledger on log lines as the local cloud writes them. */
import assert from 'node:assert/strict';
import { createReportLedger } from './report-ledger';

describe('test/support/report-ledger: stored exactly once, from what can show a duplicate', () => {
	const topic = (m: string) => 'robots/r1/missions/' + m + '/report';
	const line = (event: string, m: string, extra: Record<string, unknown> = {}) => ({ level: 'info' as const, event, thing: 'r1', missionId: m, ...extra });

	it('one store and one absorbed resend of the same report is stored once', () => {
		const l = createReportLedger();
		l.log(line('mission_report.stored', 'm1'));
		l.log({ level: 'info', event: 'rules.invoked', rule: 'mission_report', topic: topic('m1'), attempt: 0 });
		l.log(line('mission_report.duplicate', 'm1', { differs: [] }));
		l.log({ level: 'info', event: 'rules.invoked', rule: 'mission_report', topic: topic('m1'), attempt: 0 });
		assert.deepEqual(l.count('r1', 'm1'), { delivered: 2, stored: 1, duplicates: 1, differing: 0, refused: 0 });
		assert.equal(l.problem('r1', 'm1'), undefined);
	});

	it('names a mission written twice, a differing resend, a refusal, a delivery with no outcome, and one never stored', () => {
		const l = createReportLedger();
		for (let i = 0; i < 2; i++) {
			l.log(line('mission_report.stored', 'twice'));
			l.log({ level: 'info', event: 'rules.invoked', topic: topic('twice') });
		}
		l.log(line('mission_report.stored', 'differs'));
		l.log(line('mission_report.duplicate', 'differs', { differs: ['outcome'] }));
		l.log(line('mission_report.stored', 'refused'));
		l.log(line('mission_report.refused', 'refused'));
		l.log(line('mission_report.stored', 'unmatched'));
		l.log({ level: 'info', event: 'rules.invoked', topic: topic('unmatched') });
		l.log({ level: 'error', event: 'rules.failed', topic: topic('unmatched') });
		assert.match(l.problem('r1', 'twice')!, /stored it 2 times/);
		assert.match(l.problem('r1', 'differs')!, /1 deliveries carried a different report/);
		assert.match(l.problem('r1', 'refused')!, /refused or not stored/);
		assert.match(l.problem('r1', 'unmatched')!, /2 deliveries, 1 stored \+ 0 duplicates/);
		assert.match(l.problem('r1', 'never')!, /stored it 0 times/);
	});
});
