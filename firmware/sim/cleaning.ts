/*
 * A cleaning model for the simulated robot (host simulator, device test builds):
 * it drives the mission runner the way the motion controller does on a real
 * robot. Area grows with time at a speed that falls in cluttered rooms, the
 * battery drains with time and faster when mopping, an occasional brush tangle
 * is a recoverable error, a rare stuck wheel a fatal one, and the robot heads
 * home when the area is done or the battery runs low.
 *
 * Platform-free; its time comes from the ports it is given, so a test can run a
 * one-hour mission in a second with a scaled clock.
 */
import type { LogPort, RandomPort, TimerPort } from '../ports';
import type { Missions } from '../core/mission/missions';
import type { Trigger } from '../core/mission/report';
import type { CommandActions } from '../core/commands/handler';
import { Timeout } from '../core/util/timers';

/** The rooms of the simulated home: what a clean-now command may name. */
export const HOME_ROOMS = Object.freeze(['kitchen', 'hall', 'living', 'bedroom', 'bath', 'office']);

export interface CleaningModel {
	/** Floor area of the home, m². */
	readonly homeAreaM2: number;
	/** Coverage speed on open floor, m² per minute. */
	readonly speedM2PerMin: number;
	/** Battery use, percent per minute of vacuuming. */
	readonly drainPerMin: number;
	/** Below this the robot goes home, percent. */
	readonly returnAtPct: number;
	/** Chances per simulated minute. */
	readonly tangleRate: number;
	readonly stuckRate: number;
	/** Simulated minutes per tick. */
	readonly tickMin: number;
	/** Minutes the way back to the dock takes. */
	readonly dockMin: number;
}

export const TYPICAL_HOME: CleaningModel = Object.freeze({
	homeAreaM2: 65,
	speedM2PerMin: 1.1,
	drainPerMin: 1.0,
	returnAtPct: 15,
	tangleRate: 0.01,
	stuckRate: 0.002,
	tickMin: 0.5,
	dockMin: 1.5,
});

export class CleaningSimulator {
	readonly #missions: Missions;
	readonly #ports: { timers: TimerPort; random: RandomPort; log: LogPort };
	readonly #model: CleaningModel;
	/** Real ms per simulated minute: 60_000 is real time. */
	readonly #msPerMin: number;
	#battery = 100;
	/** The next tick of the running mission, or the end of its way back to the dock. */
	readonly #timer: Timeout;
	/** The tick of the running mission, kept while paused so resume goes on with it. */
	#tick: (() => void) | undefined;
	#stuck = false;

	constructor(missions: Missions, ports: { timers: TimerPort; random: RandomPort; log: LogPort }, model: CleaningModel = TYPICAL_HOME, msPerMin = 60_000) {
		if (!(msPerMin > 0)) throw new RangeError('"msPerMin" expected > 0, got ' + msPerMin);
		this.#missions = missions;
		this.#ports = ports;
		this.#timer = new Timeout(ports.timers);
		this.#model = model;
		this.#msPerMin = msPerMin;
	}

	get battery(): number {
		return this.#battery;
	}

	/** Stuck after a fatal wheel error until a person frees it (`free`) or it is back on its dock. */
	get stuck(): boolean {
		return this.#stuck;
	}

	free(): void {
		this.#stuck = false;
	}

	/** A test or the rig sets the battery (a robot left off its dock, a fresh one). */
	setBattery(pct: number): void {
		this.#battery = Math.max(0, Math.min(100, pct));
	}

	/** Pauses the running mission: the cleaning stops where it is. */
	pause(): boolean {
		if (this.#missions.state.value !== 'running') return false;
		this.#timer.clear();
		this.#missions.pause();
		return true;
	}

	resume(): boolean {
		if (this.#missions.state.value !== 'paused' || !this.#tick) return false;
		this.#missions.resume();
		this.#timer.set(this.#tick, this.#model.tickMin * this.#msPerMin);
		return true;
	}

	/** Starts a mission and cleans until done; false when one is already running. */
	run(trigger: Trigger, entryId?: string, mode: 'vacuum' | 'mop' | 'both' = 'vacuum'): string | undefined {
		const started = this.#missions.start(trigger, Math.round(this.#battery), entryId);
		if (!started.ok) {
			// a storage refusal was logged by the missions (mission.refused)
			if (started.error.code === 'busy') this.#ports.log.log('info', 'sim.busy', { running: started.error.mission });
			return undefined;
		}
		const m = this.#model;
		const drain = m.drainPerMin * (mode === 'vacuum' ? 1 : 1.3);
		let area = 0;
		const tick = () => {
			const r = this.#ports.random.random();
			// clutter: some minutes cover half as much
			area = Math.min(m.homeAreaM2, area + m.speedM2PerMin * m.tickMin * (0.5 + this.#ports.random.random()));
			this.#battery = Math.max(0, this.#battery - drain * m.tickMin);
			this.#missions.progress(area, Math.round(this.#battery));
			if (r < m.stuckRate * m.tickMin) {
				this.#stuck = true;
				this.#missions.error('wheel_stuck', true);
				return this.#dock();
			}
			if (r < (m.stuckRate + m.tangleRate) * m.tickMin) this.#missions.error('brush_tangled', false);
			if (area >= m.homeAreaM2 || this.#battery <= m.returnAtPct) {
				this.#missions.finish();
				return this.#dock();
			}
			this.#timer.set(tick, m.tickMin * this.#msPerMin);
		};
		this.#tick = tick;
		this.#timer.set(tick, m.tickMin * this.#msPerMin);
		return started.value;
	}

	/** A person presses stop; false when there was nothing to stop. */
	cancel(): boolean {
		if (this.#missions.state.value !== 'running' && this.#missions.state.value !== 'paused') return false;
		this.#timer.clear();
		this.#missions.cancel();
		this.#dock();
		return true;
	}

	#dock(): void {
		this.#timer.set(() => {
			this.#battery = Math.max(0, this.#battery - this.#model.drainPerMin * this.#model.dockMin);
			this.#tick = undefined;
			this.#missions.docked(Math.round(this.#battery));
			// the dock charges it back up while it waits for the next start, and a person frees its wheel
			this.#battery = 100;
			this.#stuck = false;
		}, this.#model.dockMin * this.#msPerMin);
	}

	stop(): void {
		this.#timer.clear();
	}
}

/** The app's commands on the simulated robot: the same engine as the schedule and the buttons. */
export function simCommandActions(sim: CleaningSimulator, log: LogPort): CommandActions {
	return {
		clean(mode, rooms) {
			const id = sim.run('app', undefined, mode);
			if (id === undefined) return { ok: false, reason: 'a mission is already running' };
			log.log('info', 'sim.clean', { mission: id, mode, rooms: rooms === 'all' ? 'all' : rooms.join('+') });
			return { ok: true, missionId: id };
		},
		pause: () => (sim.pause() ? undefined : 'nothing to pause'),
		resume: () => (sim.resume() ? undefined : 'nothing to resume'),
		stop: () => (sim.cancel() ? undefined : 'nothing to stop'),
		dock: () => (sim.cancel() ? undefined : 'nothing to end'),
		locate() {
			log.log('info', 'sim.locate', { sound: 'chirp' });
			return undefined;
		},
		status: () => ({ battery: Math.round(sim.battery), stuck: sim.stuck }),
	};
}
