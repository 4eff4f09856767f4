/* Native strong random bytes (entropy.c); typed in moddable-crypto.d.ts. */
export default function entropy(n) @ "xs_entropy_bytes";
