/*
 * Firmware updates: the newest IoT jobs with each execution's status and what the robot's
 * agent last said (progress, reason), created for one robot or all and cancelled from here.
 */
import { DONE_JOBS } from '../protocol';
import { fill, h } from './dom';
import { $, call, showError, state, time } from './state';

export function renderJobs(): void {
	if (state.jobs.length === 0) return fill('jobs', h('div', { class: 'muted' }, 'no jobs'));
	fill(
		'jobs',
		...state.jobs.map((j) =>
			h(
				'div',
				{ 'data-job': j.jobId, 'data-status': j.status, style: 'margin:.5rem 0' },
				h('div', { class: 'row' }, h('b', {}, j.jobId), h('span', { class: 'muted' }, j.status), DONE_JOBS.has(j.status) ? null : h('button', { 'data-cancel': j.jobId, onclick: () => void cancelJob(j.jobId) }, 'cancel')),
				// a staged rollout: its rate, how many robots were notified so far, and why it stopped
				j.rollout ? h('div', { class: 'muted', 'data-rollout': j.jobId }, `rollout ${j.rollout}: ${j.executions.length} notified`) : null,
				j.comment ? h('div', { class: 'muted', 'data-comment': j.jobId }, j.comment) : null,
				h(
					'table',
					{},
					...j.executions.map((x) =>
						h(
							'tr',
							{ 'data-execution': x.thing, 'data-status': x.status },
							h('td', {}, x.thing),
							h('td', {}, x.status),
							h(
								'td',
								{ class: 'muted' },
								Object.entries(x.details)
									.map(([k, v]) => `${k}: ${v}`)
									.join(', ') || '—',
							),
							h('td', { class: 'muted' }, time(x.updatedAt)),
						),
					),
				),
			),
		),
	);
}

export async function createJob(): Promise<void> {
	const version = $<HTMLInputElement>('job-version').value.trim();
	const target = $<HTMLSelectElement>('job-target').value;
	const r = await call<{ jobId: string }>('POST', '/api/jobs', { version, things: target === 'all' ? 'all' : [target] });
	showError('job-error', r.ok ? undefined : r.error);
}

async function cancelJob(jobId: string): Promise<void> {
	const r = await call('POST', `/api/jobs/${encodeURIComponent(jobId)}/cancel`);
	showError('job-error', r.ok ? undefined : r.error);
}
