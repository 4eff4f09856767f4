// Device suite (issue #13: every capability adds a scenario here) on the real Moddable
// runtime (`lin` under mcsim, through the project's own runner test/device/headless.ts) against the whole
// local cloud (cloud/local: broker, shadow service with its HTTP data plane, ...), in memory,
// on a fixed MQTT port. A scenario may run the app several times over the same Preference
// storage, with the runner acting in between while the device is off (offline).
//
//   npx tsx test/device/run.ts [scenario ...]      (DEVICE_TRACE=1: print each run's whole trace)
//
// One build (build/device/out) serves every scenario: the scenario, host and port are
// mcconfig name=value arguments, so between scenarios only mc/config is rebuilt. The manifest
// generated into build/device/app includes test/device/manifest.json and sets the app's private
// Preference directory (config.file.root). Credentials are made by the dev PKI at test time and
// written before every app start into that Preference file by the provisioning code
// (tools/provision/board.ts), as data, never resources of the image (issue #14; the echo
// check looks for them in mc.so). Nothing secret is in source.
//
// Output: one line per scenario, `device-metric {...}` JSON lines, then `N passed, N failed`
// (and `N skipped` when a scenario could not run here, e.g. no UDP port 123 for SNTP).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

// The SDK is the user's toolchain (MODDABLE). `npm run test:device` without one fails with the
// install pointer; `npm test` passes --if-sdk, and then says loudly that the firmware did not run.
{
  const { sdkProblem, INSTALL_POINTER } = await import('./headless');
  const problem = sdkProblem();
  if (problem) {
    if (process.argv.includes('--if-sdk')) {
      console.log(`\n*** DEVICE SUITE NOT RUN: ${problem}: the firmware was NOT tested on the real Moddable runtime on this machine ***\n*** to run it: ${INSTALL_POINTER} ***\n`);
      process.exit(0);
    }
    console.log(`device suite cannot run: ${problem}: ${INSTALL_POINTER}`);
    process.exit(1);
  }
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
/** The headless runner, as a command: [program, ...leading args]. */
const runner = [resolve(root, 'node_modules/.bin/tsx'), resolve(here, 'headless.ts')];
// DEVICE_WORK_DIR: another build and storage directory, for a second suite running beside the first (with DEVICE_BROKER_PORT)
const work = resolve(root, process.env.DEVICE_WORK_DIR ?? 'build/device');
const THING = 'robot-dev-1';
const HOST = '127.0.0.1';
const PORT = Number(process.env.DEVICE_BROKER_PORT ?? 28883);
const RELAY_PORT = PORT + 1;
const RUN_TIMEOUT_S = 45;
/** The test build's self-test deadline (config.firmware.selfTestMs; 60 s in production): a healthy boot passes in under 1 s. */
const SELF_TEST_MS = 8_000;

type Broker = Awaited<ReturnType<typeof import('../../cloud/local/broker').startBroker>>;
type ShadowDoc = { state: { desired?: Record<string, unknown>; reported?: Record<string, unknown> }; version: number };

function writeIfChanged(file: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  if (existsSync(file) && Buffer.compare(readFileSync(file), bytes) === 0) return; // keeps the build incremental
  writeFileSync(file, bytes);
}

interface RunResult {
  code: number;
  lines: string[];
  buildMs?: number;
  runMs?: number;
}

/** Runs one scenario headless; `onStep` sees each `step {...}` line the app traces. */
function runScenario(scenario: string, port: number, verbose: boolean, onStep: (s: Record<string, unknown>) => void | Promise<void>): Promise<RunResult> {
  const args = [...(verbose ? ['--verbose'] : []), '--out', join(work, 'out'), join(work, 'app'), String(RUN_TIMEOUT_S), '--',
    `scenario=${scenario}`, `thing=${THING}`, `host=${HOST}`, `port=${port}`, 'serverName=localhost'];
  const child = spawn(runner[0]!, [...runner.slice(1), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  const lines: string[] = [];
  const result: RunResult = { code: -1, lines };
  const stepsUnderWay: Promise<unknown>[] = [];
  const rl = createInterface({ input: child.stdout! });
  let running = false; // with --verbose the build log comes first: keep only run-headless's own lines of it
  rl.on('line', (line) => {
    if (line.startsWith('run-headless: running')) running = true;
    if (running || line.startsWith('run-headless:')) lines.push(line);
    let m = /^run-headless: build ok in (\d+)ms/.exec(line);
    if (m) result.buildMs = Number(m[1]);
    m = /^run-headless: (?:PASS|FAIL) \(run (\d+)ms\)/.exec(line);
    if (m) result.runMs = Number(m[1]);
    if (line.startsWith('step ')) {
      try {
        stepsUnderWay.push(Promise.resolve(onStep(JSON.parse(line.slice(5)))).catch((e) => lines.push('runner: step handler failed: ' + String(e))));
      } catch {
        /* not JSON: ignore */
      }
    }
  });
  child.stderr!.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter((l) => l)));
  // the runner's actions on this run's steps are done before the next app start (a reboot) or check
  return new Promise((resolve) => child.on('close', (code) => void Promise.all(stepsUnderWay).then(() => resolve({ ...result, code: code ?? -1 }))));
}

/** Reboots one run may take (a firmware update is one; a rollback another). */
const MAX_REBOOTS = 3;

/**
 * Runs a scenario, and again each time the app traced `step {"event":"reboot"}` before its
 * PASS: its firmware asked to restart (on lin the app cannot restart itself), so the app
 * starts again over the same Preference and slot files, as after a reboot. Lines of every
 * boot, the first build time and the summed run time.
 */
async function runBooting(scenario: string, port: number, verbose: boolean, onStep: (s: Record<string, unknown>) => void | Promise<void>): Promise<RunResult & { boots: number }> {
  const lines: string[] = [];
  let buildMs: number | undefined;
  let runMs = 0;
  for (let boots = 1; ; boots++) {
    const r = await runScenario(scenario, port, verbose, onStep);
    lines.push(...r.lines);
    buildMs ??= r.buildMs;
    runMs += r.runMs ?? 0;
    const rebooted = r.code === 0 && r.lines.some((l) => l.startsWith('step ') && l.includes('"event":"reboot"'));
    if (!rebooted) return { ...r, lines, buildMs, runMs, boots };
    if (boots > MAX_REBOOTS) return { ...r, code: 1, lines: [...lines, `FAIL: still rebooting after ${MAX_REBOOTS} reboots`], buildMs, runMs, boots };
    console.log(`device: ${scenario}: the app rebooted (boot ${boots} ended with step reboot); starting it again over the same files`);
  }
}

function metric(fields: Record<string, unknown>): void {
  console.log('device-metric ' + JSON.stringify(fields));
}

async function main(): Promise<number> {
  const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const pkiMod = await import('../../tools/pki/dev-pki');
  const { startLocalCloud } = await import('../../cloud/local/index');
  const { LOCAL_CREDENTIALS, LOCAL_REGION } = await import('../../cloud/local/credentials');
  const { DeleteThingShadowCommand, GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } = await import('@aws-sdk/client-iot-data-plane');
  const { DeleteCommand, QueryCommand } = await import('@aws-sdk/lib-dynamodb');
  const { createDocumentClient } = await import('../../cloud/lib/aws');
  const { reportTopic } = await import('../../firmware/core/mission/report');
  const { startRelay } = await import('./relay');
  const fixtures = await import('./scenarios/fixtures');
  const testcmdRig = await import('./testcmd-rig');
  let testcmdResult: string | undefined;

  // ---- the local cloud, and credentials generated at test time by its dev PKI (build/device/pki) --
  mkdirSync(work, { recursive: true });
  const events: { event: string; [k: string]: unknown }[] = [];
  const cloud = await startLocalCloud({
    dataDir: work,
    things: [THING],
    inMemory: true,
    host: HOST,
    mqttPort: PORT,
    log: (e) => void events.push(e as { event: string }),
  });
  const pki = cloud.pki;
  const device = pki.things.get(THING)!;
  const caPem = pki.ca.certPem;
  const caDer = pki.ca.certDer;
  let rogue: { certDer: Uint8Array; keyDer: Uint8Array };
  const roguePaths = { cert: join(work, 'pki/rogue-cert.der'), key: join(work, 'pki/rogue-key.der') };
  if (existsSync(roguePaths.cert) && existsSync(roguePaths.key)) {
    rogue = { certDer: readFileSync(roguePaths.cert), keyDer: readFileSync(roguePaths.key) };
  } else {
    const rogueCa = await pkiMod.createCa('Rogue CA');
    rogue = await pkiMod.issueDevice(rogueCa, THING);
    writeFileSync(roguePaths.cert, rogue.certDer);
    writeFileSync(roguePaths.key, rogue.keyDer, { mode: 0o600 });
  }
  const app = join(work, 'app');
  const { createSigningIdentity, devSigner, localThingArn, publishFirmware } = await import('../../tools/ota/ota');
  const signingPaths = { key: join(work, 'pki/code-signing-key.pem'), cert: join(work, 'pki/code-signing.der') };
  if (!existsSync(signingPaths.key) || !existsSync(signingPaths.cert)) {
    const id = await createSigningIdentity();
    writeFileSync(signingPaths.cert, id.certificateDer);
    writeFileSync(signingPaths.key, id.keyPem, { mode: 0o600 });
  }
  const signing = { keyPem: readFileSync(signingPaths.key, 'utf8'), certificateDer: readFileSync(signingPaths.cert) };
  mkdirSync(join(app, 'firmware'), { recursive: true });
  writeIfChanged(join(app, 'firmware', 'code-signing.der'), signing.certificateDer);
  const data = join(work, 'data');
  mkdirSync(app, { recursive: true });
  mkdirSync(data, { recursive: true });
  rmSync(join(app, 'credentials'), { recursive: true, force: true }); // where resources were once generated
  // Preference "cred" as provisioning writes it; "rogue" holds another CA's device certificate
  // (foreign-ca) with the right trust anchor for the broker
  const { linPreferences, mergeLinPreferences } = await import('../../tools/provision/board');
  const credentialPreferences = {
    ...linPreferences({ ca: caDer, cert: device.certDer, key: device.keyDer }),
    ...linPreferences({ ca: caDer, cert: rogue.certDer, key: rogue.keyDer }, 'rogue'),
  };
  const provision = () => mergeLinPreferences(join(data, 'modpreferences.json'), credentialPreferences);
  /** undefined when no credential is inside the built image (mc.so holds the app's resources too). */
  const credentialsNotInImage = (): string | undefined => {
    const so = findFile(join(work, 'out/bin'), 'mc.so');
    if (!so) return 'no mc.so built';
    const image = readFileSync(so);
    const found = Object.entries({ cert: device.certDer, key: device.keyDer, 'rogue cert': rogue.certDer }).filter(([, der]) => image.indexOf(der) >= 0);
    return found.length ? `credentials inside the image ${so}: ${found.map(([k]) => k).join(', ')}` : undefined;
  };
  // the portable CryptoPort (@noble, pure JS) bundled for the device, only to measure it against the native one (crypto-kat)
  const esbuild = await import('esbuild');
  const bundle = await esbuild.build({ entryPoints: [join(root, 'firmware/core/crypto/portable.ts')], bundle: true, format: 'esm', target: 'es2022', write: false, logLevel: 'silent' });
  writeIfChanged(join(app, 'portable-crypto.js'), bundle.outputFiles[0]!.contents);
  writeIfChanged(
    join(app, 'manifest.json'),
    JSON.stringify(
      {
        include: [join(here, 'manifest.json')],
        build: { NAME: 'robot-device-test' },
        config: { file: { root: data + '/' }, firmware: { selfTestMs: SELF_TEST_MS } },
        // public: the code-signing certificate the firmware checks updates against
        resources: { '*': [join(app, 'firmware', '*')] },
        modules: { 'test/device/scenarios/portable-crypto': join(app, 'portable-crypto') },
      },
      null,
      '\t',
    ) + '\n',
  );

  // ---- broker (an outage = cloud.stopBroker(); the rest of the cloud stays up) ------------------
  const up = async (): Promise<Broker> => {
    await cloud.startBroker(); // no-op when it runs
    return cloud.broker;
  };
  const down = () => cloud.stopBroker();
  const broker = (): Broker | undefined => {
    try {
      return cloud.broker;
    } catch {
      return undefined; // stopped
    }
  };
  const payloads = (topic: string) => (broker()?.record.entries({ thing: THING, topic }) ?? []).map((e) => Buffer.from(e.payload).toString());
  const exactlyOnce = (topic: string, expected: string[]): string | undefined => {
    const got = payloads(topic);
    if (JSON.stringify(got) !== JSON.stringify(expected)) return `broker received ${JSON.stringify(got)} on ${topic}, expected ${JSON.stringify(expected)} (each exactly once)`;
    const qos1 = (broker()?.record.entries({ thing: THING, topic }) ?? []).map((e) => `${Buffer.from(e.payload).toString()}(qos ${e.qos}, id ${e.messageId}${e.dup ? ', dup' : ''})`);
    console.log(`device: broker record for ${topic}: ${qos1.join(' ')}: each exactly once`);
    return undefined;
  };
  const clearStorage = () => rmSync(join(data, 'modpreferences.json'), { force: true });

  // ---- the app's side of the schedule shadow: the HTTP data plane, as the app's backend uses it --
  const dataPlane = new IoTDataPlaneClient({ endpoint: cloud.endpoints.iotData, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
  const SHADOW = { thingName: THING, shadowName: 'schedule' };
  const shadowDoc = async (): Promise<ShadowDoc | undefined> => {
    try {
      const r = await dataPlane.send(new GetThingShadowCommand(SHADOW));
      return JSON.parse(new TextDecoder().decode(r.payload)) as ShadowDoc;
    } catch (e) {
      if ((e as { name?: string }).name === 'ResourceNotFoundException') return undefined;
      throw e;
    }
  };
  const appSets = async (schedule: unknown) => {
    await dataPlane.send(new UpdateThingShadowCommand({ ...SHADOW, payload: new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule } } })) }));
    const d = (await shadowDoc())?.state.desired?.schedule;
    if (!isDeepStrictEqual(d, schedule)) throw new Error('the app edit is not in desired: ' + JSON.stringify(d));
    console.log(`device: app set desired.schedule through the data plane while the device is off: ${JSON.stringify(schedule)}`);
  };
  /** undefined when reported.schedule is `expected` (and scheduleError as `error` says) and desired is empty. */
  const shadowIs = async (expected: unknown, error?: RegExp): Promise<string | undefined> => {
    const s = await shadowDoc();
    if (!s) return 'no schedule shadow';
    const shown = JSON.stringify(s.state);
    if (!isDeepStrictEqual(s.state.reported?.schedule, expected)) return `shadow reported.schedule is not ${JSON.stringify(expected)}: ${shown}`;
    if (s.state.desired !== undefined) return `shadow desired not cleared: ${shown}`;
    const e = s.state.reported?.scheduleError;
    if (error ? !(typeof e === 'string' && error.test(e)) && !error.test(JSON.stringify(e)) : e !== undefined && e !== null) return `shadow reported.scheduleError ${JSON.stringify(e)}, expected ${error ? String(error) : 'none'}`;
    console.log(`device: shadow (version ${s.version}) state ${shown}`);
    return undefined;
  };

  // ---- missions: the broker record, the Preference file, the missions table ----------------------
  const ddb = createDocumentClient({ endpoint: cloud.endpoints.dynamodb, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
  type MissionItem = { thing: string; missionId: string; outcome: string; [k: string]: unknown };
  /** The thing's items in the missions table, once every rule invocation under way has finished. */
  const missionItems = async (): Promise<MissionItem[]> => {
    await cloud.rules.idle();
    const r = await ddb.send(new QueryCommand({ TableName: cloud.tables.missions, KeyConditionExpression: 'thing = :t', ExpressionAttributeValues: { ':t': THING }, ConsistentRead: true }));
    return (r.Items ?? []) as MissionItem[];
  };
  /** Each mission scenario counts the thing's items in the table, so it starts from an empty table. */
  const clearMissions = async () => {
    for (const i of await missionItems()) await ddb.send(new DeleteCommand({ TableName: cloud.tables.missions, Key: { thing: i.thing, missionId: i.missionId } }));
  };
  /** The mission's items once the rule has stored its report (the PUBACK can come first): none after `waitMs`. */
  const storedMission = async (missionId: string, waitMs = 3000): Promise<MissionItem[]> => {
    const until = Date.now() + waitMs;
    for (;;) {
      const items = await missionItems();
      if (items.some((i) => i.missionId === missionId) || Date.now() > until) return items;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** The app's Preference domain `robot` as it is on disk (what survives a power loss). */
  const storedKeys = (): Record<string, string> => {
    const file = join(data, 'modpreferences.json');
    if (!existsSync(file)) return {};
    const all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, { buffer: string } | string>>;
    const robot = all.robot ?? {};
    // lin Preference keeps an ArrayBuffer as { buffer: "b,b,b,..." }
    return Object.fromEntries(Object.entries(robot).map(([k, v]) => [k, typeof v === 'string' ? v : Buffer.from(v.buffer.split(',').map(Number)).toString()]));
  };
  /** undefined when the report of `missionId` reached the broker once, at QoS 1 on its Basic Ingest topic. */
  const reportOnce = (missionId: string): string | undefined => {
    const topic = reportTopic(THING, missionId);
    const got = broker()?.record.entries({ thing: THING, topic }) ?? [];
    if (got.length !== 1 || got[0]!.qos !== 1) return `broker received ${got.length} report(s) on ${topic} (qos ${got.map((e) => e.qos).join(',')}), expected 1 at qos 1`;
    console.log(`device: broker record for ${topic}: 1 at qos 1 (id ${got[0]!.messageId}${got[0]!.dup ? ', dup' : ''}), ${got[0]!.payload.length} bytes`);
    return undefined;
  };
  /** undefined when the table holds exactly one item for the thing: `missionId` with `outcome`. */
  const onlyItem = async (missionId: string, outcome: string): Promise<string | undefined> => {
    const items = await storedMission(missionId);
    const shown = items.map((i) => `${i.missionId}:${i.outcome}`).join(', ');
    if (items.length !== 1 || items[0]!.missionId !== missionId || items[0]!.outcome !== outcome) return `missions table holds [${shown}] for ${THING}, expected exactly [${missionId}:${outcome}]`;
    const i = items[0]!;
    console.log(`device: missions table: one item ${THING}/${missionId} outcome ${i.outcome}, durationS ${String(i.durationS)}, areaM2 ${String(i.areaM2)}, errors ${JSON.stringify(i.errors)}, map ${String(i.map)}`);
    return undefined;
  };
  let missionId: string | undefined;
  let recoveredId: string | undefined;
  const missionStep = (s: Record<string, unknown>) => {
    if (s.event === 'started') missionId = String(s.mission);
    if (s.event === 'recovered') recoveredId = String(s.mission);
  };
  const missionBefore = async () => {
    clearStorage();
    (await up()).record.clear();
    await clearMissions();
    missionId = recoveredId = undefined;
  };

  // ---- map uploads: the missions table's mapReady, the decoded object, the device's heap peaks ----
  const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
  const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
  const s3 = new S3Client({ region: LOCAL_REGION, endpoint: cloud.endpoints.s3, forcePathStyle: true, credentials: { ...LOCAL_CREDENTIALS } });
  const uploads = new Map<string, { bytes: number; ms: number; slotPeak: number; chunkPeak: number }>();
  const mapStep = (s: Record<string, unknown>) => {
    if (s.event === 'uploaded') uploads.set(String(s.mission), { bytes: Number(s.bytes), ms: Number(s.ms), slotPeak: Number(s.slotPeak), chunkPeak: Number(s.chunkPeak) });
  };
  /** The map the device generated for `missionId`, made again here. */
  const expectedMap = (missionId: string, bytes: number): Uint8Array => {
    const out = new Uint8Array(bytes);
    fixtures.mapGenerator(fixtures.mapSeed(missionId)).next(out);
    return out;
  };
  /** undefined when the mission's item says mapReady and the decoded map is the device's, byte for byte. */
  /** undefined when the mission's item says mapReady and the decoded map is the device's `bytes`, byte for byte. */
  const decodedMapIs = async (missionId: string, bytes: number): Promise<string | { item: Record<string, unknown>; key: string }> => {
    const until = Date.now() + 15_000;
    let item: Record<string, unknown> | undefined;
    for (;;) {
      await cloud.rules.idle();
      item = (await ddb.send(new GetCommand({ TableName: cloud.tables.missions, Key: { thing: THING, missionId }, ConsistentRead: true }))).Item;
      if (item?.mapReady === true || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (item?.mapReady !== true) return `missions item ${THING}/${missionId} has no mapReady: ${JSON.stringify(item)}`;
    const key = `decoded/${THING}/${missionId}.map`;
    let got: Uint8Array;
    try {
      got = await (await s3.send(new GetObjectCommand({ Bucket: 'maps', Key: key }))).Body!.transformToByteArray();
    } catch (e) {
      return `no decoded map at s3://maps/${key}: ${String(e)}`;
    }
    const want = expectedMap(missionId, bytes);
    if (got.length !== want.length || Buffer.compare(Buffer.from(got), Buffer.from(want)) !== 0) {
      let at = 0;
      while (at < Math.min(got.length, want.length) && got[at] === want[at]) at++;
      return `decoded map s3://maps/${key} differs from the device's: ${got.length} bytes, expected ${want.length}, first difference at ${at}`;
    }
    return { item, key };
  };
  const mapStored = async (scenario: string): Promise<string | undefined> => {
    const spec = fixtures.MAP_UPLOADS[scenario]!;
    const decoded = await decodedMapIs(spec.missionId, spec.bytes);
    if (typeof decoded === 'string') return decoded;
    const { item, key } = decoded;
    const u = uploads.get(spec.missionId);
    console.log(`device: missions item ${THING}/${spec.missionId} mapReady, mapBytes ${String(item.mapBytes)}; s3://maps/${key} is the device's ${spec.bytes} bytes` + (u ? `; upload ${u.bytes} bytes in ${u.ms} ms, heap peaks slot ${u.slotPeak} chunk ${u.chunkPeak}` : ''));
    if (scenario === 'map-upload-2m') {
      const small = uploads.get(fixtures.MAP_UPLOADS['map-upload-64k']!.missionId);
      if (!small || !u) return 'no heap peaks from both uploads';
      const growth = { slot: u.slotPeak - small.slotPeak, chunk: u.chunkPeak - small.chunkPeak };
      metric({ name: 'map.upload_memory', map64kSlotPeak: small.slotPeak, map2mSlotPeak: u.slotPeak, map64kChunkPeak: small.chunkPeak, map2mChunkPeak: u.chunkPeak, slotGrowth: growth.slot, chunkGrowth: growth.chunk });
      if (growth.slot > 16384 || growth.chunk > 16384) return `the heap peak grew with the map: slot +${growth.slot}, chunk +${growth.chunk} bytes from 64 KB to 2 MB (limit 16384)`;
    }
    return undefined;
  };

  // ---- firmware updates: tools/ota publishes, the Jobs control plane and the status shadow say how it ended --
  const { CancelJobCommand, CreateJobCommand, DescribeJobExecutionCommand, IoTClient } = await import('@aws-sdk/client-iot');
  const iot = new IoTClient({ endpoint: cloud.endpoints.iot, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
  const otherSigner = await createSigningIdentity('not the robot firmware signing');
  /** A deterministic image of `bytes` bytes (its content does not matter: lin does not execute it). */
  const firmwareImage = (bytes: number, seed: number): Uint8Array => {
    const out = new Uint8Array(bytes);
    fixtures.mapGenerator(seed).next(out);
    return out;
  };
  const ota = { boots: 0, done: [] as { status: string; version: string }[], downloads: new Map<string, { bytes: number; from: number; ms: number; slotPeak: number; chunkPeak: number }>(), cut: undefined as number | undefined, jobId: '' };
  const otaStep = (s: Record<string, unknown>) => {
    if (s.event === 'reboot') ota.boots++;
    if (s.event === 'ota-done') ota.done.push({ status: String(s.status), version: String(s.version) });
    if (s.event === 'downloaded') ota.downloads.set(String(s.version), { bytes: Number(s.bytes), from: Number(s.from), ms: Number(s.ms), slotPeak: Number(s.slotPeak), chunkPeak: Number(s.chunkPeak) });
    if (s.event === 'cut') ota.cut = Number(s.bytes);
  };
  const publish = async (version: string, bytes: number, seed: number, keyPem = signing.keyPem) => {
    ota.done = [];
    ota.boots = 0;
    const r = await publishFirmware({ iot, s3, image: firmwareImage(bytes, seed), version, signer: devSigner(keyPem), things: [THING], thingArn: localThingArn });
    ota.jobId = r.jobId;
    console.log(`device: published firmware ${version} (${bytes} bytes) as job ${r.jobId}` + (keyPem === signing.keyPem ? '' : ', signed with another key'));
  };
  /** The review's attack (issue 21): an old image signed and published as `version`, in a job document that calls it `claimed`. */
  const publishForged = async (version: string, claimed: string, seed: number) => {
    const r = await publishFirmware({ iot, s3, image: firmwareImage(16 * 1024, seed), version, signer: devSigner(signing.keyPem), things: [THING], thingArn: localThingArn, jobId: 'genuine-' + seed + '-' + Date.now() });
    // the genuine job is cancelled before the robot sees it; the forged one carries its signed manifest
    await iot.send(new CancelJobCommand({ jobId: r.jobId, force: true }));
    ota.done = [];
    ota.boots = 0;
    ota.jobId = 'forged-' + seed + '-' + Date.now();
    await iot.send(new CreateJobCommand({ jobId: ota.jobId, targets: [localThingArn(THING)], document: JSON.stringify({ ...r.document, version: claimed }), targetSelection: 'SNAPSHOT', presignedUrlConfig: { expiresInSec: 600 } }));
    console.log(`device: forged job ${ota.jobId}: the signed ${version} manifest in a document that says ${claimed}`);
  };
  const statusFirmware = async (): Promise<{ version?: string; valid?: boolean; previous?: string | null } | undefined> => {
    const r = await dataPlane.send(new GetThingShadowCommand({ thingName: THING, shadowName: 'status' }));
    return (JSON.parse(new TextDecoder().decode(r.payload)) as ShadowDoc).state.reported?.firmware as { version?: string; valid?: boolean } | undefined;
  };
  /** undefined when the job ended `status` (details matching `reason`), after `reboots`, with `running` in the status shadow. */
  const otaEnded = async (status: string, running: string, reboots: number, reason?: RegExp): Promise<string | undefined> => {
    const e = (await iot.send(new DescribeJobExecutionCommand({ jobId: ota.jobId, thingName: THING }))).execution;
    const details = e?.statusDetails?.detailsMap ?? {};
    if (e?.status !== status) return `job ${ota.jobId} is ${String(e?.status)} (${JSON.stringify(details)}), expected ${status}`;
    if (reason && !reason.test(JSON.stringify(details))) return `job ${ota.jobId} details ${JSON.stringify(details)} do not match ${String(reason)}`;
    if (ota.boots !== reboots) return `the device rebooted ${ota.boots} time(s), expected ${reboots}`;
    const last = ota.done[ota.done.length - 1];
    if (last?.status !== status || last.version !== running) return `the device's last job report ${JSON.stringify(last)}, expected ${status} on ${running}`;
    const until = Date.now() + 5000;
    let fw = await statusFirmware();
    while ((fw?.version !== running || fw.valid !== true) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      fw = await statusFirmware();
    }
    if (fw?.version !== running || fw.valid !== true) return `status shadow reports firmware ${JSON.stringify(fw)}, expected ${running} valid`;
    console.log(`device: job ${ota.jobId} ${status} ${JSON.stringify(details)} after ${reboots} reboot(s); status shadow firmware ${JSON.stringify(fw)}`);
    return undefined;
  };
  const clearFirmware = () => {
    for (const f of ['fw-boot.json', 'fw-boot.json.tmp', 'fw-a.bin', 'fw-b.bin']) rmSync(join(data, f), { force: true });
  };

  // ---- SNTP responder on UDP 127.0.0.1:123 (sntp.js has the port fixed; binding it needs root) ---
  let sntpRequests = 0;
  let sntpResponder: ReturnType<typeof createSocket> | undefined;
  const startSntpResponder = () =>
    new Promise<string | undefined>((resolve) => {
      const sock = createSocket('udp4');
      sock.once('error', (e) => {
        sock.close();
        resolve(`cannot bind UDP ${HOST}:123 for the SNTP responder (${(e as NodeJS.ErrnoException).code ?? e.message})`);
      });
      sock.on('message', (msg, from) => {
        // a client request: 48 bytes, mode 3 (RFC 4330 section 5)
        if (msg.length < 48 || (msg[0]! & 7) !== 3) return;
        // the first request goes unanswered: the device must repeat it
        if (++sntpRequests === 1) return;
        const reply = Buffer.alloc(48);
        reply[0] = (0 << 6) | (4 << 3) | 4; // LI 0, VN 4, mode 4 (server)
        reply[1] = 1; // stratum 1 (0 would be a kiss-o'-death)
        msg.copy(reply, 24, 40, 48); // originate timestamp = the client's transmit timestamp
        const ntpSeconds = fixtures.SNTP_TEST_SECONDS + 2_208_988_800; // NTP era 0 counts from 1900
        reply.writeUInt32BE(ntpSeconds, 32); // receive timestamp
        reply.writeUInt32BE(ntpSeconds, 40); // transmit timestamp: what the client reads
        sock.send(reply, from.port, from.address);
      });
      sock.bind(123, HOST, () => {
        sntpResponder = sock;
        resolve(undefined);
      });
    });

  interface Run {
    /** Device scenario name (scenarios/index.ts). */
    scenario: string;
    verbose?: boolean;
    /** Before the app starts; a string means the case cannot run here (skipped, with that reason). */
    before?(): Promise<string | void>;
    check?(): Promise<string | undefined> | string | undefined;
  }
  interface Case {
    name: string;
    port?: number;
    verbose?: boolean;
    before?(): Promise<string | void>;
    step?(s: Record<string, unknown>): Promise<void> | void;
    check?(): Promise<string | undefined> | string | undefined;
    /** Several app starts over the same storage; default: one run of the scenario `name`. */
    runs?: Run[];
  }
  let relay: Awaited<ReturnType<typeof startRelay>> | undefined;
  const cases: Case[] = [
    {
      name: 'echo',
      verbose: true,
      async before() {
        clearStorage();
        (await up()).record.clear();
      },
      check: () => credentialsNotInImage() ?? exactlyOnce(`robots/${THING}/echo`, ['echo-1']),
    },
    {
      name: 'outbox-queue',
      async before() {
        clearStorage();
        await down();
      },
      check: () => (Object.keys(storedKeys()).length ? undefined : 'no Preference "robot" written'),
    },
    {
      name: 'outbox-deliver',
      async before() {
        (await up()).record.clear();
      },
      check: () => exactlyOnce(`robots/${THING}/outbox`, ['outbox-1', 'outbox-2', 'outbox-3']),
    },
    {
      name: 'broker-restart',
      async before() {
        clearStorage();
        (await up()).record.clear();
      },
      async step(s) {
        if (s.event === 'online' && s.n === 1) {
          await down();
          await new Promise((r) => setTimeout(r, 1500));
          await up();
        }
      },
      check: () => exactlyOnce(`robots/${THING}/after-restart`, ['after-restart']),
    },
    {
      name: 'foreign-ca',
      async before() {
        clearStorage();
        (await up()).record.clear();
        events.length = 0;
      },
      check() {
        if (broker()!.record.size !== 0) return 'broker recorded publishes from a refused device';
        if (!events.some((e) => e.event === 'broker.tls.refused')) return 'broker did not log a refused TLS handshake';
        return undefined;
      },
    },
    {
      name: 'malformed-frame',
      port: RELAY_PORT,
      async before() {
        clearStorage();
        const b = await up();
        b.record.clear();
        relay ??= await startRelay({
          port: RELAY_PORT,
          host: HOST,
          upstream: { host: HOST, port: PORT },
          ca: caPem,
          serverCert: pki.server.certPem,
          serverKey: pki.server.keyPem,
          deviceCert: device.certPem,
          deviceKey: device.keyPem,
        });
      },
      step(s) {
        // remaining length with a 5th length byte: malformed [MQTT-2.2.3]
        if (s.event === 'online' && s.n === 1) relay!.inject(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
      },
      check: () => exactlyOnce(`robots/${THING}/after-bad-frame`, ['after-bad-frame']),
    },
    {
      // issue #4: the app edits the schedule while the robot is offline; the robot applies it on return
      name: 'schedule-offline-edit',
      runs: [
        {
          scenario: 'schedule-report',
          async before() {
            clearStorage();
            await up();
            if (await shadowDoc()) await dataPlane.send(new DeleteThingShadowCommand(SHADOW));
          },
          check: () => shadowIs({ tz: 'UTC0', entries: [] }),
        },
        {
          scenario: 'schedule-apply',
          verbose: true,
          before: () => appSets(fixtures.APP_SCHEDULE),
          check: () => shadowIs(fixtures.APP_SCHEDULE),
        },
        {
          scenario: 'schedule-refuse',
          before: () => appSets(fixtures.BAD_SCHEDULE),
          check: () => shadowIs(fixtures.APP_SCHEDULE, /entries\[0\]\.start/),
        },
      ],
    },
    {
      // issue #5: one mission on a scaled clock; events batched at QoS 0, the report durable at QoS 1
      name: 'mission-report',
      verbose: true,
      before: missionBefore,
      step: missionStep,
      async check() {
        if (!missionId) return 'the device traced no started mission';
        // events: batches of many, the first opens with `started`, the last closes with `docked` (finished)
        const topic = `robots/${THING}/missions/${missionId}/events`;
        const got = broker()?.record.entries({ thing: THING, topic }) ?? [];
        if (got.length === 0) return `no events on ${topic}`;
        if (got.some((e) => e.qos !== 0)) return `events on ${topic} not all at qos 0`;
        const batches = got.map((e) => JSON.parse(Buffer.from(e.payload).toString()) as { mission: string; dropped: number; events: { e: string; outcome?: string }[] });
        const all = batches.flatMap((b) => b.events);
        if (batches.some((b) => b.mission !== missionId)) return `an event batch names another mission: ${batches.map((b) => b.mission).join(',')}`;
        if (all[0]?.e !== 'started') return `first event ${JSON.stringify(all[0])}, expected started`;
        const last = all[all.length - 1];
        if (last?.e !== 'docked' || last.outcome !== 'finished') return `last event ${JSON.stringify(last)}, expected docked (finished)`;
        if (all.length <= batches.length) return `${all.length} events in ${batches.length} messages: not batched`;
        const dropped = batches.reduce((n, b) => n + b.dropped, 0);
        console.log(`device: broker record for ${topic}: ${all.length} events in ${batches.length} messages at qos 0 (sizes ${got.map((e) => e.payload.length).join('/')} bytes, ${dropped} dropped): ${Object.entries(all.reduce<Record<string, number>>((m, e) => ((m[e.e] = (m[e.e] ?? 0) + 1), m), {})).map(([k, v]) => `${k} ${v}`).join(', ')}`);
        return reportOnce(missionId) ?? (await onlyItem(missionId, 'finished'));
      },
    },
    {
      // issue #5: power lost mid-mission (run 1 is killed after its verdict); the next boot reports it interrupted
      name: 'mission-power-loss',
      step: missionStep,
      runs: [
        {
          scenario: 'mission-cut',
          before: missionBefore,
          async check() {
            if (!missionId) return 'the device traced no started mission';
            const keys = storedKeys();
            const cur = keys['mis.cur'];
            if (!cur) return `no running mission (mis.cur) on storage after the power loss; keys: ${Object.keys(keys).join(', ')}`;
            const m = JSON.parse(cur) as { id: string; areaM2: number };
            if (m.id !== missionId) return `mis.cur is ${m.id}, expected ${missionId}`;
            const reports = Object.keys(keys).filter((k) => k.startsWith('mr.'));
            if (reports.length) return `reports on storage before the mission ended: ${reports.join(', ')}`;
            const items = await missionItems();
            if (items.length) return `missions table holds ${items.map((i) => i.missionId).join(', ')} before the next boot`;
            console.log(`device: after the power loss storage holds mis.cur ${m.id} (areaM2 ${m.areaM2.toFixed(1)}); missions table empty`);
            return undefined;
          },
        },
        {
          scenario: 'mission-recover',
          before: async () => void (await up()).record.clear(),
          async check() {
            if (recoveredId !== missionId) return `the device recovered ${String(recoveredId)}, expected ${String(missionId)}`;
            const keys = Object.keys(storedKeys()).filter((k) => k === 'mis.cur' || k.startsWith('mr.'));
            if (keys.length) return `storage still holds ${keys.join(', ')} after the report's PUBACK`;
            return reportOnce(missionId!) ?? (await onlyItem(missionId!, 'interrupted'));
          },
        },
      ],
    },
    {
      // the Moddable crypto adapters against known answers (GCM, SHA-2, HMAC, OAEP unwrap, PKCS#1 v1.5)
      name: 'crypto-kat',
    },
    {
      // issue #6 on the device: slot over MQTT, native RSA unwrap, native AES-GCM frame by frame, PUT
      // through the Moddable http client; the ingest decrypts with the stock SDK and marks the mission
      name: 'map-upload',
      step: mapStep,
      runs: ['map-upload-64k', 'map-upload-2m'].map((scenario) => ({
        scenario,
        verbose: true,
        async before() {
          (await up()).record.clear();
          if (scenario === 'map-upload-64k') {
            await clearMissions();
            uploads.clear();
          }
        },
        check: () => mapStored(scenario),
      })),
    },
    {
      // issue #9 on the device: tools/ota publishes; the device downloads with the SDK's http into its file
      // slot, checks SHA-256 (native) and the signature (native ECDSA), activates, reboots (the runner starts
      // it again), passes its self-test and reports SUCCEEDED; refusals keep the running version
      name: 'ota',
      step: otaStep,
      runs: [
        {
          scenario: 'ota',
          verbose: true,
          async before() {
            clearStorage();
            clearFirmware();
            (await up()).record.clear();
            await publish('1.1.0', 64 * 1024, 11);
          },
          check: () => otaEnded('SUCCEEDED', '1.1.0', 1),
        },
        {
          scenario: 'ota',
          before: () => publish('1.2.0', 64 * 1024, 12, otherSigner.keyPem),
          check: () => otaEnded('REJECTED', '1.1.0', 0, /manifest signature does not verify/),
        },
        {
          scenario: 'ota',
          before: () => publish('1.0.5', 64 * 1024, 13),
          check: () => otaEnded('REJECTED', '1.1.0', 0, /not newer/),
        },
        {
          scenario: 'ota',
          before: () => publishForged('1.0.7', '2.0.1', 16),
          check: () => otaEnded('REJECTED', '1.1.0', 0, /signed version 1\.0\.7 is not newer than running 1\.1\.0/),
        },
        {
          scenario: 'ota',
          verbose: true,
          before: () => publish('2.0.0', 512 * 1024, 14),
          async check() {
            const why = await otaEnded('SUCCEEDED', '2.0.0', 1);
            if (why) return why;
            const small = ota.downloads.get('1.1.0');
            const large = ota.downloads.get('2.0.0');
            if (!small || !large) return 'no download figures from both images';
            const growth = { slot: large.slotPeak - small.slotPeak, chunk: large.chunkPeak - small.chunkPeak };
            metric({ name: 'ota.download_memory', smallBytes: small.bytes, largeBytes: large.bytes, smallSlotPeak: small.slotPeak, largeSlotPeak: large.slotPeak, smallChunkPeak: small.chunkPeak, largeChunkPeak: large.chunkPeak, slotGrowth: growth.slot, chunkGrowth: growth.chunk });
            if (growth.slot > 16384 || growth.chunk > 16384) return `the heap peak grew with the image: slot +${growth.slot}, chunk +${growth.chunk} bytes from ${small.bytes} to ${large.bytes} bytes (limit 16384)`;
            return undefined;
          },
        },
      ],
    },
    {
      // issue #9: a power loss halfway through the download; the next boot resumes it with a Range request
      name: 'ota-resume',
      step: otaStep,
      runs: [
        {
          scenario: 'ota-cut',
          async before() {
            clearStorage();
            clearFirmware();
            ota.cut = undefined;
            ota.downloads.clear();
            (await up()).record.clear();
            await publish('1.1.0', 256 * 1024, 31);
          },
          check() {
            if (ota.cut === undefined) return 'the device traced no cut';
            const held = ['fw-a.bin', 'fw-b.bin'].map((f) => (existsSync(join(data, f)) ? statSync(join(data, f)).size : 0));
            if (!held.some((n) => n >= ota.cut! && n < 256 * 1024)) return `after the power loss the slot files hold ${held.join(' / ')} bytes, expected one with at least ${ota.cut} and less than the image`;
            console.log(`device: power lost at ${ota.cut} of ${256 * 1024} bytes; the slot files hold ${held.join(' / ')} bytes`);
            return undefined;
          },
        },
        {
          scenario: 'ota',
          async check() {
            const d = ota.downloads.get('1.1.0');
            if (!d || !(d.from > 0)) return `the download after the power loss started at ${String(d?.from)}, expected a resume from what the slot held`;
            console.log(`device: the download resumed at byte ${d.from} (Range) and took the remaining ${d.bytes - d.from} bytes`);
            return otaEnded('SUCCEEDED', '1.1.0', 1);
          },
        },
      ],
    },
    {
      // issue #9: the new image cannot reach the cloud (the broker is down while it boots): its self-test runs out,
      // it rolls back to the old image, which reports FAILED with the reason once the broker is back
      name: 'ota-rollback',
      async step(s) {
        otaStep(s);
        if (s.event !== 'reboot') return;
        if (ota.boots === 1) await down(); // into the new image: no link for its self-test
        else await up(); // into the old one again
      },
      runs: [
        {
          scenario: 'ota',
          async before() {
            clearStorage();
            clearFirmware();
            (await up()).record.clear();
            await publish('1.1.0', 64 * 1024, 41);
          },
          check: () => otaEnded('FAILED', '1.0.0', 2, /self-test failed/),
        },
      ],
    },
    {
      // issues #9 and #14: a robot's day on one storage. Run 1 reports the factory schedule; the app edits it
      // while the device is off; run 2 applies the edit, cleans (events, report), uploads an encrypted map of
      // ROBOT_DAY_MAP_BYTES, then takes a firmware job published once the map is in (reboot, self-test)
      name: 'robot-day',
      step(s) {
        missionStep(s);
        otaStep(s);
        if (s.event === 'day-done') return publish('1.1.0', 64 * 1024, 21);
      },
      runs: [
        {
          scenario: 'schedule-report',
          async before() {
            clearStorage();
            clearFirmware();
            (await up()).record.clear();
            await clearMissions();
            missionId = undefined;
            if (await shadowDoc()) await dataPlane.send(new DeleteThingShadowCommand(SHADOW));
          },
          check: () => shadowIs({ tz: 'UTC0', entries: [] }),
        },
        {
          scenario: 'robot-day',
          verbose: true,
          before: () => appSets(fixtures.APP_SCHEDULE),
          async check() {
            if (!missionId) return 'the device traced no started mission';
            const shadow = await shadowIs(fixtures.APP_SCHEDULE);
            if (shadow) return shadow;
            const report = reportOnce(missionId) ?? (await onlyItem(missionId, 'finished'));
            if (report) return report;
            const decoded = await decodedMapIs(missionId, fixtures.ROBOT_DAY_MAP_BYTES);
            if (typeof decoded === 'string') return decoded;
            console.log(`device: missions item ${THING}/${missionId} mapReady; s3://maps/${decoded.key} is the device's ${fixtures.ROBOT_DAY_MAP_BYTES} bytes`);
            return otaEnded('SUCCEEDED', '1.1.0', 1);
          },
        },
      ],
    },
    {
      // issue #10: the test-control channel on the runtime, over the lin build's TCP listener, driven with the board
      // target's request/reply code (testcmd-rig.ts): status, offline, online, refused lines, a mission's report
      name: 'testcmd',
      step(s) {
        if (s.event !== 'testcmd-listening') return;
        const { driveTestcmd } = testcmdRig;
        return driveTestcmd({ host: HOST, port: Number(s.port), thing: THING, events, metric, missionStored: async (id) => {
          await storedMission(id, 20_000);
          return reportOnce(id) ?? (await onlyItem(id, 'finished'));
        } }).then((why) => {
          testcmdResult = why ?? 'ok';
        });
      },
      async before() {
        testcmdResult = undefined;
        await missionBefore();
      },
      check: () => (testcmdResult === undefined ? 'the device traced no testcmd-listening' : testcmdResult === 'ok' ? undefined : testcmdResult),
    },
    {
      name: 'sntp',
      async before() {
        sntpRequests = 0;
        return sntpResponder ? undefined : await startSntpResponder();
      },
      check: () => (sntpRequests >= 2 ? undefined : `the SNTP responder saw ${sntpRequests} request(s), expected a repeat after the unanswered first`),
    },
  ];

  let passed = 0;
  let failed = 0;
  // the production image (manifest.json at the root, firmware/main.ts) must build with mcconfig and its
  // tsc for lin: a type error or a module missing from the manifest fails here
  if (!only.length || only.includes('build')) {
    const t0 = Date.now();
    const b = spawnSync(runner[0]!, [...runner.slice(1), '--build-only', '--out', join(work, 'prod'), root], { encoding: 'utf8', env: process.env });
    const ms = Date.now() - t0;
    if (b.status === 0) {
      passed++;
      console.log(`device build (production manifest.json, lin): PASS (${ms} ms)`);
    } else {
      failed++;
      console.log(`device build (production manifest.json, lin): FAIL: run-headless exit ${b.status} (${ms} ms)`);
      for (const l of (b.stdout + b.stderr).split('\n').slice(-30)) console.log('  | ' + l);
    }
  }
  let skipped = 0;
  try {
    for (const c of cases) {
      if (only.length && !only.includes(c.name)) continue;
      const runs: Run[] = c.runs ?? [{ scenario: c.name, verbose: c.verbose === true, before: c.before, check: c.check }];
      let why: string | undefined;
      let skip: string | undefined;
      const timings: string[] = [];
      const shown: string[] = [];
      for (const run of runs) {
        skip = (await run.before?.()) ?? undefined;
        if (skip) break;
        await provision(); // before every app start: `before` may have wiped the Preference file
        const r = await runBooting(run.scenario, c.port ?? PORT, run.verbose === true, (s) => c.step?.(s));
        const verdict = [...r.lines].reverse().find((l) => l === 'PASS' || l.startsWith('FAIL'));
        if (r.code !== 0) why = `run-headless exit ${r.code}: ${verdict ?? r.lines.filter((l) => l.startsWith('run-headless')).slice(-1)[0] ?? ''}`;
        else why = await run.check?.();
        const label = runs.length > 1 ? run.scenario + ': ' : '';
        timings.push(`${label}build ${r.buildMs ?? '?'} ms, run ${r.runMs ?? '?'} ms`);
        // DEVICE_TRACE=1 shows every line the app traced (core log, XS exceptions), also on PASS
        if (process.env.DEVICE_TRACE === '1') shown.push(...r.lines.filter((l) => !l.startsWith('instruments')));
        else shown.push(...r.lines.filter((l) => (why ? !l.startsWith('instruments') : /^run-headless: (building|build ok|PASS)|^step /.test(l))).slice(why ? -25 : 0));
        for (const l of r.lines) if (l.startsWith('device-metric ')) console.log(l);
        metric({ name: 'device.scenario', scenario: run.scenario, ok: !why, buildMs: r.buildMs, runMs: r.runMs });
        const peaks = run.verbose ? peakInstruments(r.lines) : undefined;
        if (peaks) metric({ name: 'device.memory', scenario: run.scenario, ...peaks });
        if (run.scenario === 'echo') {
          const so = findFile(join(work, 'out/bin'), 'mc.so');
          if (so) metric({ name: 'device.image', variant: so.includes('/release/') ? 'release' : 'debug', mcSoBytes: statSync(so).size, xsbBytes: xsbBytes(join(work, 'out/tmp')) });
        }
        if (why) break;
      }
      if (skip) {
        skipped++;
        console.log(`device ${c.name}: SKIPPED: ${skip}`);
      } else if (why) {
        failed++;
        console.log(`device ${c.name}: FAIL: ${why} (${timings.join('; ')})`);
      } else {
        passed++;
        console.log(`device ${c.name}: PASS (${timings.join('; ')})`);
      }
      for (const l of shown) console.log('  | ' + l);
    }
  } finally {
    await relay?.close();
    sntpResponder?.close();
    dataPlane.destroy();
    iot.destroy();
    ddb.destroy();
    s3.destroy();
    await cloud.close();
  }
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
  return failed ? 1 : 0;
}

function findFile(dir: string, name: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const f = findFile(p, name);
      if (f) return f;
    } else if (e.name === name) return p;
  }
  return undefined;
}

/** Total size of the app's compiled modules (the XS archive content), bytes. */
function xsbBytes(dir: string): number {
  let n = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.xsb')) n += statSync(p).size;
    }
  };
  if (existsSync(dir)) walk(dir);
  return n;
}

/**
 * Peak values of the `instruments:` lines that debug builds print once a second: first
 * `instruments key: Pixels drawn,...,Chunk used,Chunk available,Slot used,...`, then
 * `instruments: 0,0,...` (values in key order; chunk and slot figures in bytes).
 */
function peakInstruments(lines: string[]): Record<string, number> | undefined {
  const keyLine = lines.find((l) => l.startsWith('instruments key:'));
  if (!keyLine) return undefined;
  const keys = keyLine.slice('instruments key:'.length).split(',').map((k) => k.trim().replace(/\s+(\w)/g, (_, c: string) => c.toUpperCase()).replace(/^\w/, (c) => c.toLowerCase()));
  const peaks: Record<string, number> = {};
  let samples = 0;
  for (const l of lines) {
    if (!l.startsWith('instruments:')) continue;
    samples++;
    l.slice('instruments:'.length).split(',').forEach((v, i) => {
      const k = keys[i];
      if (k) peaks[k] = Math.max(peaks[k] ?? 0, Number(v));
    });
  }
  if (!samples) return undefined;
  const pick = ['chunkUsed', 'chunkAvailable', 'slotUsed', 'slotAvailable', 'stackUsed', 'stackAvailable', 'keysUsed', 'modulesLoaded', 'garbageCollections', 'networkBytesRead', 'networkBytesWritten'];
  return Object.fromEntries([['samples', samples], ...pick.filter((k) => k in peaks).map((k) => [k + 'Peak', peaks[k]!])]);
}

process.exitCode = await main();
