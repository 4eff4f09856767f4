/*
 * Static thing groups of the local IoT registry, what job targets name as
 * `arn:aws:iot:<region>:<account>:thinggroup/<name>`: CreateThingGroup, DescribeThingGroup,
 * DeleteThingGroup, AddThingToThingGroup, RemoveThingFromThingGroup, ListThingsInThingGroup,
 * ListThingGroups. AWS's limits kept: group names 1-128 of [a-zA-Z0-9:_-]; a thing is in at
 * most 10 groups. (Dynamic groups need fleet indexing, which the local cloud does not have.)
 */
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../credentials';

export const GROUP_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
export const MAX_GROUPS_PER_THING = 10;

export interface ThingGroup {
	readonly thingGroupName: string;
	readonly thingGroupId: string;
	readonly thingGroupArn: string;
	readonly description?: string;
	readonly creationDate: number;
	readonly things: string[];
}

export type GroupResult<T> = { ok: true; value: T } | { ok: false; error: { type: 'ResourceNotFoundException' | 'InvalidRequestException' | 'ResourceAlreadyExistsException' | 'LimitExceededException'; message: string } };

export function thingGroupArn(name: string): string {
	return `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:thinggroup/${name}`;
}

export class ThingGroups {
	readonly #groups = new Map<string, ThingGroup>();
	readonly #added: ((group: string, thing: string) => void)[] = [];
	#ids = 0;

	/** Told when a thing joins a group (CONTINUOUS jobs on that group follow it). */
	onAdded(f: (group: string, thing: string) => void): void {
		this.#added.push(f);
	}

	create(name: string, description: string | undefined, now: number): GroupResult<ThingGroup> {
		if (!GROUP_NAME.test(name)) return { ok: false, error: { type: 'InvalidRequestException', message: 'thingGroupName expected 1-128 of [a-zA-Z0-9:_-], got ' + JSON.stringify(name) } };
		const existing = this.#groups.get(name);
		// AWS answers a repeated CreateThingGroup with the same properties with the existing group
		if (existing) return existing.description === description ? { ok: true, value: existing } : { ok: false, error: { type: 'ResourceAlreadyExistsException', message: `thing group ${name} exists with other properties` } };
		const g: ThingGroup = {
			thingGroupName: name,
			thingGroupId: 'g' + String(++this.#ids).padStart(8, '0'),
			thingGroupArn: thingGroupArn(name),
			...(description !== undefined ? { description } : {}),
			creationDate: now,
			things: [],
		};
		this.#groups.set(name, g);
		return { ok: true, value: g };
	}

	get(name: string): ThingGroup | undefined {
		return this.#groups.get(name);
	}

	list(): ThingGroup[] {
		return [...this.#groups.values()];
	}

	delete(name: string): boolean {
		return this.#groups.delete(name);
	}

	add(name: string, thing: string): GroupResult<void> {
		const g = this.#groups.get(name);
		if (!g) return { ok: false, error: { type: 'ResourceNotFoundException', message: `thing group ${name} not found` } };
		if (g.things.includes(thing)) return { ok: true, value: undefined };
		if (this.groupsOf(thing).length >= MAX_GROUPS_PER_THING) return { ok: false, error: { type: 'LimitExceededException', message: `${thing} is already in ${MAX_GROUPS_PER_THING} groups` } };
		g.things.push(thing);
		for (const f of this.#added) f(name, thing);
		return { ok: true, value: undefined };
	}

	remove(name: string, thing: string): GroupResult<void> {
		const g = this.#groups.get(name);
		if (!g) return { ok: false, error: { type: 'ResourceNotFoundException', message: `thing group ${name} not found` } };
		const i = g.things.indexOf(thing);
		if (i >= 0) g.things.splice(i, 1);
		return { ok: true, value: undefined };
	}

	groupsOf(thing: string): string[] {
		return this.list()
			.filter((g) => g.things.includes(thing))
			.map((g) => g.thingGroupName);
	}

	snapshot(): ThingGroup[] {
		return this.list().map((g) => ({ ...g, things: [...g.things] }));
	}

	restore(groups: readonly ThingGroup[]): void {
		for (const g of groups) this.#groups.set(g.thingGroupName, { ...g, things: [...g.things] });
		this.#ids = groups.length;
	}
}
