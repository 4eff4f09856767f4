import assert from 'node:assert/strict';
import * as X from './execution';
import type { Execution, ExecutionStatus } from './execution';

const T = { minuteMs: 1000, inProgressTimeoutInMinutes: 5 };
const at = (status: ExecutionStatus, extra: Partial<Execution> = {}): Execution => ({ ...X.queued('job', 'robot-1', 0, 1), status, ...extra });

describe('jobs: execution moves', () => {
	const rows: [string, Execution, X.DeviceUpdate, ExecutionStatus | X.ExecutionFailure['code']][] = [
		['QUEUED -> IN_PROGRESS', at('QUEUED'), { status: 'IN_PROGRESS' }, 'IN_PROGRESS'],
		['QUEUED -> SUCCEEDED directly', at('QUEUED'), { status: 'SUCCEEDED' }, 'SUCCEEDED'],
		['IN_PROGRESS -> IN_PROGRESS (details)', at('IN_PROGRESS'), { status: 'IN_PROGRESS', statusDetails: { step: '2' } }, 'IN_PROGRESS'],
		['IN_PROGRESS -> FAILED', at('IN_PROGRESS'), { status: 'FAILED' }, 'FAILED'],
		['IN_PROGRESS -> REJECTED', at('IN_PROGRESS'), { status: 'REJECTED' }, 'REJECTED'],
		['SUCCEEDED is terminal', at('SUCCEEDED'), { status: 'IN_PROGRESS' }, 'InvalidStateTransition'],
		['CANCELED is terminal', at('CANCELED'), { status: 'SUCCEEDED' }, 'InvalidStateTransition'],
		['TIMED_OUT is terminal', at('TIMED_OUT'), { status: 'FAILED' }, 'InvalidStateTransition'],
		['expectedVersion must match', at('QUEUED'), { status: 'IN_PROGRESS', expectedVersion: 7 }, 'VersionMismatch'],
		['version is checked before the state', at('SUCCEEDED'), { status: 'IN_PROGRESS', expectedVersion: 7 }, 'VersionMismatch'],
	];
	for (const [name, e, u, want] of rows) {
		it(name, () => {
			const step = X.deviceUpdate(e, u, 10, T);
			if (step.ok) {
				assert.equal(step.execution.status, want);
				assert.equal(step.execution.versionNumber, e.versionNumber + 1);
				assert.equal(step.execution.lastUpdatedAt, 10);
			} else assert.equal(step.error.code, want);
		});
	}

	it('arms the in-progress timer on the first IN_PROGRESS and the step timer on request', () => {
		const s1 = X.deviceUpdate(at('QUEUED'), { status: 'IN_PROGRESS', stepTimeoutInMinutes: 2 }, 100, T);
		assert.ok(s1.ok);
		assert.equal(s1.execution.startedAt, 100);
		assert.equal(s1.execution.inProgressDeadline, 5100);
		assert.equal(s1.execution.stepDeadline, 2100);
		assert.equal(X.deadline(s1.execution), 2100);
		// an update without a step timeout leaves both timers; -1 cancels the step timer
		const s2 = X.deviceUpdate(s1.execution, { status: 'IN_PROGRESS' }, 500, T);
		assert.ok(s2.ok);
		assert.equal(X.deadline(s2.execution), 2100);
		const s3 = X.deviceUpdate(s2.execution, { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1 }, 600, T);
		assert.ok(s3.ok);
		assert.equal(X.deadline(s3.execution), 5100);
		assert.equal(s3.execution.startedAt, 100);
	});

	it('times out only an IN_PROGRESS execution past its deadline', () => {
		const running = at('IN_PROGRESS', { inProgressDeadline: 50 });
		assert.equal(X.timeOut(running, 49), undefined);
		assert.equal(X.timeOut(running, 50)?.status, 'TIMED_OUT');
		assert.equal(X.timeOut(at('SUCCEEDED', { inProgressDeadline: 50 }), 60), undefined);
	});

	it('cancels QUEUED always and IN_PROGRESS only with force', () => {
		assert.equal(X.cancel(at('QUEUED'), false, 1).ok, true);
		const soft = X.cancel(at('IN_PROGRESS'), false, 1);
		assert.equal(soft.ok ? soft.execution.status : soft.error.code, 'InvalidStateTransition');
		const hard = X.cancel(at('IN_PROGRESS'), true, 1);
		assert.ok(hard.ok);
		assert.equal(hard.execution.status, 'CANCELED');
		assert.equal(hard.execution.forceCanceled, true);
		assert.equal(X.cancel(at('FAILED'), true, 1).ok, false);
	});

	it('orders pending executions IN_PROGRESS first, then oldest', () => {
		const list = [at('QUEUED', { jobId: 'a', seq: 1 }), at('IN_PROGRESS', { jobId: 'b', seq: 3 }), at('SUCCEEDED', { jobId: 'c', seq: 0 }), at('QUEUED', { jobId: 'd', seq: 2 })];
		assert.deepEqual(
			X.pendingInOrder(list).map((e) => e.jobId),
			['b', 'a', 'd'],
		);
	});
});
