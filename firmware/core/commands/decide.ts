/*
 * What the robot does with one command, as a pure function of the command and the robot's
 * situation: the terminal status it answers (SUCCEEDED, REJECTED, or FAILED when the action
 * itself fails: the runner's part), the reason in AWS's StatusReason form ([A-Z0-9_-] code and a
 * sentence for people), and the action to take, if any. The order of the checks is the policy:
 * 1. a command past its deadline or with no clock to check it against is not run;
 * 2. the robot's own safety first: a stuck robot moves for nobody, a robot charging on its dock
 *    does not leave it to clean;
 * 3. then whether the command fits the mission state (busy, nothing to pause, ...).
 */
import type { Command, Mode, Settings } from './command';

export interface Situation {
	readonly mission: 'idle' | 'running' | 'paused' | 'docking';
	/** Percent. */
	readonly battery: number;
	/** The robot reported itself stuck (wheel, cliff) and waits for a person. */
	readonly stuck: boolean;
	/** Wall clock in epoch seconds, undefined while unknown. */
	readonly nowS: number | undefined;
	/** The rooms of this robot's floor plan. */
	readonly rooms: readonly string[];
}

export type Act = { readonly type: 'clean'; readonly mode: Mode; readonly rooms: readonly string[] | 'all' } | { readonly type: 'pause' | 'resume' | 'stop' | 'dock' | 'locate' } | { readonly type: 'settings'; readonly settings: Settings };

export interface Decision {
	readonly status: 'SUCCEEDED' | 'REJECTED';
	readonly reasonCode: string;
	readonly reasonDescription: string;
	readonly act?: Act;
}

/** Below this battery (percent) the robot stays on its dock to charge rather than start or resume cleaning. */
export const MIN_BATTERY_TO_CLEAN = 20;

function reject(reasonCode: string, reasonDescription: string): Decision {
	return { status: 'REJECTED', reasonCode, reasonDescription };
}

function accept(act: Act, reasonCode: string, reasonDescription: string): Decision {
	return { status: 'SUCCEEDED', reasonCode, reasonDescription, act };
}

export function decide(c: Command, s: Situation): Decision {
	if (s.nowS === undefined) return reject('CLOCK_UNKNOWN', 'the robot does not know the time yet, so it cannot tell whether the command is still wanted');
	if (s.nowS > c.notAfter) return reject('EXPIRED', 'the command arrived after its deadline');
	const moving = c.action === 'clean' || c.action === 'resume' || c.action === 'dock';
	if (s.stuck && moving) return reject('STUCK', 'the robot is stuck and needs a hand before it can move');
	switch (c.action) {
		case 'clean': {
			if (s.mission !== 'idle') return reject('BUSY', 'the robot is already on a mission');
			if (s.battery < MIN_BATTERY_TO_CLEAN) return reject('CHARGING', `the robot is charging (battery ${s.battery}%)`);
			if (c.rooms !== 'all') {
				const unknown = c.rooms.filter((r) => s.rooms.indexOf(r) < 0);
				if (unknown.length > 0) return reject('UNKNOWN_ROOM', 'the robot does not know ' + unknown.join(', '));
			}
			return accept({ type: 'clean', mode: c.mode, rooms: c.rooms }, 'STARTED', 'cleaning started');
		}
		case 'pause':
			return s.mission === 'running' ? accept({ type: 'pause' }, 'PAUSED', 'cleaning paused') : reject('NOT_CLEANING', 'the robot is not cleaning');
		case 'resume':
			if (s.mission !== 'paused') return reject('NOT_PAUSED', 'the robot is not paused');
			if (s.battery < MIN_BATTERY_TO_CLEAN) return reject('CHARGING', `the battery is too low to go on (${s.battery}%)`);
			return accept({ type: 'resume' }, 'RESUMED', 'cleaning resumed');
		case 'stop':
			return s.mission === 'running' || s.mission === 'paused' ? accept({ type: 'stop' }, 'STOPPED', 'cleaning stopped; the robot goes home') : reject('NOT_CLEANING', 'the robot is not cleaning');
		case 'dock':
			if (s.mission === 'docking') return reject('ALREADY_DOCKING', 'the robot is already on its way home');
			if (s.mission === 'idle') return reject('ALREADY_DOCKED', 'the robot is on its dock');
			return accept({ type: 'dock' }, 'DOCKING', 'the robot is going home');
		case 'locate':
			return accept({ type: 'locate' }, 'LOCATED', 'the robot played its sound');
		case 'settings':
			return accept({ type: 'settings', settings: c.settings }, 'APPLIED', 'settings applied');
	}
}
