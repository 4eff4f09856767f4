/*
 * What only a test build carries (issue #20): test control (the interpreter and its transport),
 * the jumpable clock it moves, and the platform's known-answer self-test with its vectors.
 * platform/moddable/start.ts loads this module by name (Modules.importNow) when config.testcmd is set; the device test build's
 * manifest (test/device/manifest.json) maps and preloads it and what it imports, the product's
 * manifest.json does not, so a production image neither carries nor instantiates any of it.
 */
export { jumpableClock, jumpingTogether, robotTarget, type JumpableClock } from '../../../core/testcmd/control';
export { startTestCommands } from './testcmd';
export { runSelfTest } from './selftest';
