/*
 * Fake of `mc/config` (mcconfig writes the manifest's "config" plus name=value arguments into
 * mc.config.js): one mutable object the test fills before it calls the adapter.
 */
const config: Record<string, unknown> & { file: { root: string } } = { file: { root: '/tmp/' } };
export default config;
