/*
 * The seeded RandomPort for the simulator (mulberry32): the generator is pure and lives in
 * the core (core/util/seeded-random.ts), where the core's test helpers use it too; this
 * module is the name the platforms import it by (platform/moddable/start.ts, bench/).
 */
export { seededRandom } from '../../core/util/seeded-random';
