/** Injection tokens for what has no class of its own. */
export const SERVICE_CONFIG = Symbol('SERVICE_CONFIG');
export const LOGGER = Symbol('LOGGER');
export const NATS = Symbol('NATS');
