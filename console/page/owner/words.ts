/*
 * What the owner's app says, in plain words: command answers (the robot's StatusReason codes,
 * firmware/core/commands/decide.ts, and the service's timeout), claim refusals (owner-api), mission
 * outcomes. Pure, so a Node test can hold every code to a sentence.
 */

const COMMAND: Readonly<Record<string, string>> = Object.freeze({
	STARTED: 'Cleaning started.',
	PAUSED: 'Paused.',
	RESUMED: 'Cleaning again.',
	STOPPED: 'Stopped. The robot is heading home.',
	DOCKING: 'The robot is going home to its dock.',
	LOCATED: 'The robot is beeping so you can find it.',
	APPLIED: 'Done.',
	BUSY: 'The robot is already cleaning.',
	CHARGING: 'The robot is charging. Try again when the battery is fuller.',
	STUCK: 'The robot is stuck and needs a hand before it can move.',
	UNKNOWN_ROOM: "The robot doesn't know one of those rooms.",
	EXPIRED: "The robot got the request too late, so it didn't act on it.",
	CLOCK_UNKNOWN: "The robot doesn't know the time yet. Try again in a minute.",
	NOT_CLEANING: "The robot isn't cleaning right now.",
	NOT_PAUSED: "The robot isn't paused.",
	ALREADY_DOCKED: 'The robot is already on its dock.',
	ALREADY_DOCKING: 'The robot is already on its way home.',
	NO_RESPONSE_FROM_DEVICE: "The robot didn't answer. Is it switched on and online?",
});

/** The sentence for a command's state, as GET /robots/{thing}/commands/{id} tells it. */
export function commandWords(x: { status: string; reasonCode: string | null }): { done: boolean; ok: boolean; text: string } {
	if (x.status === 'CREATED' || x.status === 'IN_PROGRESS') return { done: false, ok: true, text: 'Waiting for the robot…' };
	if (x.status === 'TIMED_OUT') return { done: true, ok: false, text: COMMAND.NO_RESPONSE_FROM_DEVICE! };
	const text = (x.reasonCode && COMMAND[x.reasonCode]) ?? (x.status === 'SUCCEEDED' ? 'Done.' : 'Something went wrong on the robot.');
	return { done: true, ok: x.status === 'SUCCEEDED', text };
}

const CLAIM: Readonly<Record<string, string>> = Object.freeze({
	WrongPairingCode: "That code doesn't match the one the robot shows.",
	PairingCodeExpired: 'That code has expired. Start pairing on the robot again.',
	NoPairingCode: "The robot isn't showing a code. Start pairing on the robot first.",
	RobotOwned: 'This robot already belongs to someone else. They need to remove it first.',
	AlreadyYours: 'This robot is already yours.',
	BadRequest: 'Check the robot name and the code.',
	NotYourRobot: "That isn't one of your robots.",
	Unauthorized: 'Please sign in again.',
});

export function refusalWords(code: string | undefined): string {
	return (code && CLAIM[code]) ?? 'Something went wrong. Please try again.';
}

const OUTCOME: Readonly<Record<string, string>> = Object.freeze({
	finished: 'Finished',
	cancelled: 'Stopped early',
	failed: 'Stopped by a problem',
	interrupted: 'Interrupted (the power went off)',
});

export function outcomeWords(outcome: string | null): string {
	return (outcome && OUTCOME[outcome]) ?? 'Cleaning…';
}

export function durationWords(s: number | null): string {
	if (s === null) return '';
	const m = Math.round(s / 60);
	return m < 60 ? m + ' min' : Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

export const DAYS = Object.freeze(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const);
export const DAY_NAMES = Object.freeze({ mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' } as const);
export const MODE_NAMES = Object.freeze({ vacuum: 'Vacuum', mop: 'Mop', both: 'Vacuum and mop' } as const);

/** A room name for people: `living` -> `Living`. */
export function roomWords(r: string): string {
	return r.charAt(0).toUpperCase() + r.slice(1).replace(/[-_]/g, ' ');
}
