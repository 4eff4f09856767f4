/*
 * What the tools' command lines share: wrong arguments are a UsageError, answered with the
 * message and the tool's usage and exit code 2 before anything is changed, told apart from a
 * failure of the work itself (exit 1). parseArgs's own refusals (an unknown option, a missing
 * value) are usage errors too, not crashes. Each tool keeps its own output format.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Wrong arguments: the tool prints the message and its usage and exits with EXIT_USAGE. */
export class UsageError extends Error {}

/** The exit code of a usage error, as every tool documents it. */
export const EXIT_USAGE = 2;

/** parseArgs, its refusals thrown as UsageError. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
	try {
		return parseArgs(config);
	} catch (e) {
		throw new UsageError((e as Error).message);
	}
}
