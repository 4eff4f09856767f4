/*
 * The device scenarios, in the order the suite runs them: each file is one scenario's
 * host half (setup, driving over test control, checks) around power-ons of the shipped
 * entry, firmware/main.ts. A new capability adds its file here (issue #13).
 */
import type { Scenario } from '../suite';
import echo from './echo';
import selfTest from './self-test';
import { brokerRestart, foreignCa, malformedFrame, outbox } from './link';
import schedule from './schedule';
import { missionPowerLoss, missionReport } from './mission';
import { ota, otaResume, otaRollback } from './ota';
import { network, registration } from './onboarding';
import { mapUpload, robotDay } from './maps';
import sntp from './sntp';
import testcmd from './testcmd';
import { logShipping, storageFull } from './storage';
import commands from './commands';
import roundTrips from './round-trips';
import { certExpired, certRenewal } from './certificates';

export const SCENARIOS: readonly Scenario[] = [
	echo,
	registration,
	network,
	selfTest,
	outbox,
	brokerRestart,
	foreignCa,
	malformedFrame,
	schedule,
	roundTrips,
	missionReport,
	missionPowerLoss,
	mapUpload,
	ota,
	otaResume,
	otaRollback,
	robotDay,
	testcmd,
	commands,
	storageFull,
	logShipping,
	sntp,
	certRenewal,
	certExpired,
];
